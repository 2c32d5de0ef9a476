//! Settings: defaults, then `caseflow.toml` in the working directory, then the
//! environment, which wins. Defaults make `caseflow serve` work with nothing set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::Duration;
use crate::engine::retention::RetentionPeriods;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://caseflow.db?mode=rwc";

/// How hard SQLite works to keep a commit on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: survives a process crash; the default.
    Normal,
    /// `synchronous=FULL`: also survives power loss, at a cost per commit.
    Full,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub addr: SocketAddr,
    pub home: PathBuf,
    pub smtp_url: Option<String>,
    /// The sender of notification e-mail.
    pub mail_from: String,
    pub admin_email: String,
    pub admin_password: Option<String>,
    pub workers: bool,
    pub log: String,
    /// Log lines as JSON objects (for collectors) rather than text.
    pub log_json: bool,
    pub sqlite_durability: Durability,
    /// Organisation-wide retention periods beyond the workflows' own policies.
    pub retention: RetentionPeriods,
    /// Periodic work: `None` turns a job off.
    pub cron: CronSettings,
}

/// Six-field cron expressions (sec min hour day month weekday, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSettings {
    /// The retention sweep (default nightly at 02:30).
    pub retention: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("caseflow.toml: {0}")]
    File(String),
    #[error("{name}: {message}")]
    Value { name: &'static str, message: String },
}

/// The keys of `caseflow.toml`, named like the environment variables, lower-case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    caseflow_addr: Option<String>,
    caseflow_home: Option<String>,
    caseflow_smtp_url: Option<String>,
    caseflow_mail_from: Option<String>,
    caseflow_admin_email: Option<String>,
    caseflow_admin_password: Option<String>,
    caseflow_workers: Option<bool>,
    caseflow_sqlite_synchronous: Option<String>,
    rust_log: Option<String>,
    caseflow_log_format: Option<String>,
    caseflow_retention_audit: Option<String>,
    caseflow_retention_financial: Option<String>,
    caseflow_cron_retention: Option<String>,
}

impl Settings {
    /// Reads `dir/caseflow.toml` (if any) and the process environment.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = match std::fs::read_to_string(dir.join("caseflow.toml")) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(ConfigError::File(error.to_string())),
        };
        Self::from_sources(file.as_deref(), &env)
    }

    /// Settings from a `caseflow.toml` text and environment variables.
    pub fn from_sources(
        file: Option<&str>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let file: FileSettings = match file {
            Some(text) => {
                toml::from_str(text).map_err(|error| ConfigError::File(error.to_string()))?
            }
            None => FileSettings::default(),
        };
        let pick = |name: &str, from_file: Option<String>| env.get(name).cloned().or(from_file);

        let database_url = pick("DATABASE_URL", file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Value {
                name: "DATABASE_URL",
                message: format!("`{database_url}` is neither sqlite://... nor postgres://..."),
            });
        }
        let addr_text = pick("CASEFLOW_ADDR", file.caseflow_addr)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let addr = addr_text.parse().map_err(|_| ConfigError::Value {
            name: "CASEFLOW_ADDR",
            message: format!("`{addr_text}` is not an address like 127.0.0.1:8080"),
        })?;
        let workers = match env.get("CASEFLOW_WORKERS") {
            Some(text) => parse_bool(text).ok_or_else(|| ConfigError::Value {
                name: "CASEFLOW_WORKERS",
                message: format!("`{text}` is not true or false"),
            })?,
            None => file.caseflow_workers.unwrap_or(true),
        };
        let synchronous = pick(
            "CASEFLOW_SQLITE_SYNCHRONOUS",
            file.caseflow_sqlite_synchronous,
        )
        .unwrap_or_else(|| "normal".to_owned());
        let sqlite_durability = match synchronous.to_ascii_lowercase().as_str() {
            "normal" => Durability::Normal,
            "full" => Durability::Full,
            _ => {
                return Err(ConfigError::Value {
                    name: "CASEFLOW_SQLITE_SYNCHRONOUS",
                    message: format!("`{synchronous}` is not normal or full"),
                });
            }
        };
        let log_format = pick("CASEFLOW_LOG_FORMAT", file.caseflow_log_format)
            .unwrap_or_else(|| "text".to_owned());
        let log_json = match log_format.to_ascii_lowercase().as_str() {
            "text" => false,
            "json" => true,
            _ => {
                return Err(ConfigError::Value {
                    name: "CASEFLOW_LOG_FORMAT",
                    message: format!("`{log_format}` is not text or json"),
                });
            }
        };
        let period = |name: &'static str, from_file: Option<String>, default: u32| match pick(
            name, from_file,
        ) {
            None => Ok(Duration::years(default)),
            Some(text) => text
                .parse::<Duration>()
                .map_err(|error| ConfigError::Value {
                    name,
                    message: error.to_string(),
                }),
        };
        let retention = RetentionPeriods {
            audit: period(
                "CASEFLOW_RETENTION_AUDIT",
                file.caseflow_retention_audit,
                10,
            )?,
            financial: period(
                "CASEFLOW_RETENTION_FINANCIAL",
                file.caseflow_retention_financial,
                7,
            )?,
        };
        let cron = |name: &'static str, from_file: Option<String>, default: &str| {
            let text = pick(name, from_file).unwrap_or_else(|| default.to_owned());
            if text.trim().is_empty() || text.trim() == "off" {
                return Ok(None);
            }
            text.parse::<cron::Schedule>()
                .map(|_| Some(text.trim().to_owned()))
                .map_err(|error| ConfigError::Value {
                    name,
                    message: format!(
                        "`{text}` is not a cron expression (sec min hour day month weekday): {error}"
                    ),
                })
        };
        let cron = CronSettings {
            retention: cron(
                "CASEFLOW_CRON_RETENTION",
                file.caseflow_cron_retention,
                "0 30 2 * * *",
            )?,
        };
        Ok(Self {
            database_url,
            addr,
            home: PathBuf::from(
                pick("CASEFLOW_HOME", file.caseflow_home).unwrap_or_else(|| ".".to_owned()),
            ),
            smtp_url: pick("CASEFLOW_SMTP_URL", file.caseflow_smtp_url)
                .filter(|url| !url.is_empty()),
            mail_from: pick("CASEFLOW_MAIL_FROM", file.caseflow_mail_from)
                .unwrap_or_else(|| "caseflow@localhost".to_owned()),
            admin_email: pick("CASEFLOW_ADMIN_EMAIL", file.caseflow_admin_email)
                .unwrap_or_else(|| "admin@localhost".to_owned()),
            admin_password: pick("CASEFLOW_ADMIN_PASSWORD", file.caseflow_admin_password)
                .filter(|p| !p.is_empty()),
            workers,
            log: pick("RUST_LOG", file.rust_log).unwrap_or_else(|| "info".to_owned()),
            log_json,
            sqlite_durability,
            retention,
            cron,
        })
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_work_with_nothing_set() {
        let settings = Settings::from_sources(None, &env(&[])).expect("defaults");
        assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(settings.addr.to_string(), "127.0.0.1:8080");
        assert!(settings.workers);
        assert_eq!(settings.sqlite_durability, Durability::Normal);
        assert_eq!(settings.admin_email, "admin@localhost");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let file = "database_url = \"postgres://file/db\"\ncaseflow_workers = false\ncaseflow_addr = \"0.0.0.0:9000\"\n";
        let settings =
            Settings::from_sources(Some(file), &env(&[("DATABASE_URL", "sqlite://env.db")]))
                .expect("valid");
        assert_eq!(settings.database_url, "sqlite://env.db");
        assert!(!settings.workers);
        assert_eq!(settings.addr.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn bad_values_are_named() {
        let error =
            Settings::from_sources(None, &env(&[("CASEFLOW_WORKERS", "maybe")])).expect_err("bad");
        assert_eq!(
            error.to_string(),
            "CASEFLOW_WORKERS: `maybe` is not true or false"
        );
        let error =
            Settings::from_sources(None, &env(&[("DATABASE_URL", "mysql://x")])).expect_err("bad");
        assert!(error.to_string().starts_with("DATABASE_URL:"));
        let error =
            Settings::from_sources(Some("databse_url = \"x\""), &env(&[])).expect_err("typo");
        assert!(error.to_string().contains("databse_url"), "{error}");
        let error =
            Settings::from_sources(None, &env(&[("CASEFLOW_LOG_FORMAT", "xml")])).expect_err("bad");
        assert_eq!(
            error.to_string(),
            "CASEFLOW_LOG_FORMAT: `xml` is not text or json"
        );
        let error =
            Settings::from_sources(None, &env(&[("CASEFLOW_RETENTION_AUDIT", "ten years")]))
                .expect_err("bad");
        assert!(
            error
                .to_string()
                .starts_with("CASEFLOW_RETENTION_AUDIT: `ten years` is not a duration"),
            "{error}"
        );
        let error = Settings::from_sources(None, &env(&[("CASEFLOW_CRON_RETENTION", "nightly")]))
            .expect_err("bad");
        assert!(
            error
                .to_string()
                .starts_with("CASEFLOW_CRON_RETENTION: `nightly` is not a cron expression"),
            "{error}"
        );
        let off = Settings::from_sources(None, &env(&[("CASEFLOW_CRON_RETENTION", "off")]))
            .expect("off is allowed");
        assert_eq!(off.cron.retention, None);
        let json = Settings::from_sources(Some("caseflow_log_format = \"JSON\""), &env(&[]))
            .expect("valid");
        assert!(json.log_json);
    }
}
