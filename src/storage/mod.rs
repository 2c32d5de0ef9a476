//! The few queries the service needs, written once for SQLite and PostgreSQL.
//!
//! Both dialects take the same SQL text (`$1` placeholders, portable types):
//! UUIDs, times and JSON are bound as Rust types and each driver stores them
//! natively (BLOB/TEXT on SQLite, uuid/timestamptz/jsonb on PostgreSQL). The
//! [`on_db!`] macro expands a query body once per pool type. Every read takes
//! the organisation: there is no query path that returns another
//! organisation's rows.

mod access;
mod audit;
mod batch;
mod case_reads;
mod cases;
mod clients;
mod connect;
mod definitions;
mod jobs;
mod orgs;
mod outbox;
mod retention;
mod tokens;
mod unique;
mod wal;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub use access::{ApiKey, CaseRead, Notification, Reservation};
pub use audit::{
    AuditEntry, ChainBreak, ERASURE_TRANSITION, GENESIS_HASH, HASH_SCHEME, LEGAL_HOLD_TRANSITION,
    RETENTION_TRANSITION, canonical_json, content_digest, entry_hash, hex,
};
pub use cases::{CaseFilter, CasePage, CaseRecord, Move, NewCase, OutboxItem};
pub use clients::ClientQuery;
pub use connect::Commits;
pub use definitions::DefinitionRow;
pub use jobs::FailedJob;
pub use orgs::{Organisation, User};
pub use outbox::{JOB_QUEUE, OutboxRow, QueuedJob};
pub use retention::{ClosedCase, LegalHold, Redaction, Scrub, ScrubMarks};

/// A pool of one of the two databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, so one query text serves both.
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Whose rows a query may see on PostgreSQL, where row-level security on the
/// case tables is a second wall behind the `org_id` in every query.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    Org(Uuid),
    /// Trusted code that spans organisations: the group-commit writer,
    /// `verify-audit`, the workers.
    All,
}

impl Scope {
    pub(crate) fn setting(self) -> String {
        match self {
            Self::Org(org) => org.to_string(),
            Self::All => "all".to_owned(),
        }
    }
}

/// Runs `$body` with `$conn` a `&mut` connection; on PostgreSQL inside a
/// transaction whose `caseflow.org` setting lets the row-level security
/// policies show only `$scope`'s rows. SQLite has no such policies.
macro_rules! scoped {
    ($db:expr, $scope:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite(pool) => {
                let mut held = pool.acquire().await?;
                let $conn = &mut *held;
                $body
            }
            $crate::storage::Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                $crate::storage::enter_scope(&mut tx, $scope).await?;
                let result = {
                    let $conn = &mut *tx;
                    $body
                };
                tx.commit().await?;
                result
            }
        }
    };
}
pub(crate) use scoped;

/// Sets the organisation the row-level security policies admit, for the rest
/// of the transaction.
pub(crate) async fn enter_scope(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    scope: Scope,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('caseflow.org', $1, true)")
        .bind(scope.setting())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// Someone else moved first (a stale version), or a unique value is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the group-commit writer's own SQLite connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Unique-key violations become conflicts; everything else stays a database error.
    fn from_write(error: sqlx::Error, what: &str) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(what.to_owned())
            }
            _ => Self::Database(error),
        }
    }

    /// As [`StoreError::from_write`], for the group commit's own SQLite connection.
    fn from_sqlite_write(error: rusqlite::Error, what: &str) -> Self {
        use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
        match error.sqlite_error() {
            Some(failure)
                if matches!(
                    failure.extended_code,
                    SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE
                ) =>
            {
                Self::Conflict(what.to_owned())
            }
            _ => Self::Sqlite(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Stored times are cut to microseconds, PostgreSQL's precision, so a value
/// reads back exactly as written (the audit hash depends on it).
pub fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, Timelike};
    let cut = at.trunc_subsecs(6);
    debug_assert_eq!(cut.nanosecond() % 1_000, 0);
    cut
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes too).
    db: Db,
    /// Other writes. On SQLite a pool of one connection: SQLite has one writer
    /// at a time anyway, and queueing here avoids its sleeping busy-wait.
    writer: Db,
    /// Case writes, grouped into shared transactions.
    batch: batch::Writer,
    /// One case by its id, on a SQLite file.
    case_reads: Option<std::sync::Arc<case_reads::CaseReads>>,
}

impl Store {
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Case writes queued for the group commit: background work yields to them.
    pub fn writes_waiting(&self) -> usize {
        self.batch.waiting()
    }

    /// Group-commit transactions so far and the writes they carried.
    pub fn batch_counts(&self) -> (u64, u64) {
        self.batch.counts()
    }

    /// Where the job queue lives: the connection(s) writes go through.
    pub fn job_db(&self) -> &Db {
        &self.writer
    }

    pub fn dialect(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Waits for queued writes (the access log) to commit, then closes the pools.
    pub async fn close(&self) {
        self.batch.close().await;
        on_db!(&self.writer, |pool| pool.close().await);
        on_db!(&self.db, |pool| pool.close().await);
    }
}

/// JSON as both drivers bind it.
pub(crate) type Json = sqlx::types::Json<Value>;

pub(crate) fn new_id() -> Uuid {
    Uuid::now_v7()
}
