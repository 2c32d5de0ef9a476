//! caseflow: a declarative workflow and rules engine for community-services
//! case management. Processes are YAML state machines, guards and
//! calculations are Rhai, forms are JSON Schema.

/// The command-line verbs as library functions.
pub mod commands;
/// The pure engine: definitions, validation, firing transitions, scenarios.
pub mod engine;
/// JSON Schema forms: compiled once, validated into field errors, with UI hints.
pub mod forms;
/// Reads a caseflow home from disk into engine sources.
pub mod home;
/// Sandboxed Rhai: guards, `set` expressions and their helpers.
pub mod rules;
