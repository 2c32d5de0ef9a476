//! caseflow: a declarative workflow and rules engine for community-services
//! case management. Processes are YAML state machines, guards and
//! calculations are Rhai, forms are JSON Schema.

/// `caseflow bench`: the engine and the storage floor under load.
pub mod bench;
/// The command-line verbs as library functions.
pub mod commands;
/// Settings from defaults, `caseflow.toml` and the environment.
pub mod config;
/// The pure engine: definitions, validation, firing transitions, scenarios.
pub mod engine;
/// JSON Schema forms: compiled once, validated into field errors, with UI hints.
pub mod forms;
/// Reads a caseflow home from disk into engine sources.
pub mod home;
/// The HTTP API (axum): routes per resource, problem+json errors, bearer tokens.
pub mod http;
/// Background work: the outbox dispatcher and the apalis workers.
pub mod jobs;
/// Notification templates (tera) and sending them (lettre).
pub mod mail;
/// Prometheus counters and histograms behind `GET /metrics`.
pub mod metrics;
/// argon2id password hashes.
pub mod passwords;
/// Sandboxed Rhai: guards, `set` expressions and their helpers.
pub mod rules;
/// `caseflow serve`: bootstrap, publish workflow files, serve until a signal.
pub mod serve;
/// Load the case, ask the engine, write the move with its audit entry and effects.
pub mod service;
/// SQLite and PostgreSQL persistence.
pub mod storage;
/// Server-rendered HTML: generated forms (and, later, the staff pages).
pub mod web;
