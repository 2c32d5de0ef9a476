//! Opening a database from `DATABASE_URL` and bringing its schema up to date.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::wal::{RestartWanted, checkpoint_in_background};
use super::{Db, Store, StoreResult};
use crate::config::Durability;

/// How long a writer waits for SQLite's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How the case writer commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    /// The writes that arrive together share one transaction (group commit).
    Grouped,
    /// Each write commits in a transaction of its own, `writers` at once on
    /// PostgreSQL (SQLite writes one at a time): what one transaction per move
    /// allows, the reference `caseflow bench --single` sets group commit beside.
    Alone { writers: usize },
}

impl Store {
    /// Connects; a SQLite file is created on first use.
    pub async fn connect(url: &str, durability: Durability) -> StoreResult<Self> {
        Self::connect_with(url, durability, Commits::Grouped).await
    }

    /// Connects, with the case writer committing as `commits` says.
    pub async fn connect_with(
        url: &str,
        durability: Durability,
        commits: Commits,
    ) -> StoreResult<Self> {
        let (writers, per_commit) = match commits {
            Commits::Grouped => (POSTGRES_WRITERS, super::batch::MAX_BATCH),
            Commits::Alone { writers } => (writers.max(1), 1),
        };
        let (db, writer, file) = if url.starts_with("sqlite:") {
            // Set on every connection, so durability never depends on which
            // pooled connection something else reconfigured.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match durability {
                    Durability::Normal => SqliteSynchronous::Normal,
                    Durability::Full => SqliteSynchronous::Full,
                })
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // The writer keeps the default (WRITER_CACHE).
                .pragma("cache_size", READER_CACHE)
                .pragma("temp_store", "memory");
            // A checkpoint inside a commit stalls every move queued behind it,
            // so a background task copies the WAL into the database beside the
            // writer (WAL lets the two run at once), and asks the writer to
            // copy the last frames between two batches so the WAL can start
            // over (see `wal`).
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                // No ping before each use: the connection lives in this
                // process, so a ping only proved that its thread answers, at
                // the cost of a round trip to that thread per batch.
                .test_before_acquire(false)
                .connect_with(
                    options
                        .clone()
                        .pragma("wal_autocheckpoint", WAL_PAGES)
                        .pragma("cache_size", WRITER_CACHE),
                )
                .await?;
            // sqlx names an in-memory database `file:sqlx-in-memory-N`, shared
            // between its connections; the writer's own connection joins it.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let path = if in_memory {
                format!(
                    "{}?mode=memory&cache=shared",
                    options.get_filename().display()
                )
                .into()
            } else {
                options.get_filename().to_path_buf()
            };
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                // As for the writer: a ping per query, proving nothing.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            let restart = Arc::new(RestartWanted::default());
            tokio::spawn(checkpoint_in_background(readers.clone(), restart.clone()));
            let file = SqliteFile {
                path,
                durability,
                in_memory,
                restart,
            };
            (Db::Sqlite(readers), Db::Sqlite(writer), Some(file))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(12)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            warn_if_above_row_security(&pool).await;
            (Db::Postgres(pool.clone()), Db::Postgres(pool), None)
        };
        // Not on an in-memory database: its connections share one cache,
        // where a reader can find a table locked, and SQLite's busy timeout
        // does not wait that out (sqlx does).
        let case_reads = file
            .as_ref()
            .filter(|file| !file.in_memory)
            .map(|file| Arc::new(super::case_reads::CaseReads::new(file.clone())));
        let batch = match &writer {
            Db::Sqlite(_) => {
                let writer = writer.clone();
                super::batch::Writer::start(async move { Ok(writer) }, 1, per_commit, file).await?
            }
            Db::Postgres(_) => {
                // Connections of the group-commit writer alone: it applies
                // already-authorised writes of every organisation. Its one
                // statement is planned once, as a generic plan, and joins the
                // batch to the cases by key: without the join settings a plan
                // made while the tables were small would scan every case for good.
                let options = PgConnectOptions::from_str(url)?.options([
                    ("caseflow.org", "all"),
                    ("plan_cache_mode", "force_generic_plan"),
                    ("enable_hashjoin", "off"),
                    ("enable_mergejoin", "off"),
                ]);
                let connect = async move {
                    let pool = PgPoolOptions::new()
                        .max_connections(writers as u32)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect_with(options)
                        .await?;
                    Ok(Db::Postgres(pool))
                };
                super::batch::Writer::start(connect, writers, per_commit, None).await?
            }
        };
        Ok(Self {
            db,
            writer,
            batch,
            case_reads,
        })
    }

    /// Applies the migrations of this dialect, then apalis's (the job queue).
    /// Both share `_sqlx_migrations`, so each ignores the other's versions.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.writer {
            Db::Sqlite(pool) => {
                let mut migrator = sqlx::migrate!("migrations/sqlite");
                migrator.set_ignore_missing(true);
                migrator.run(pool).await?;
                // Not SqliteStorage::setup, which also turns synchronous off.
                let mut jobs = apalis_sqlite::SqliteStorage::<()>::migrations();
                jobs.set_ignore_missing(true);
                jobs.run(pool).await?;
                // apalis acknowledges a job with `UPDATE Jobs … FROM
                // json_each(?) WHERE Jobs.id = j.task_id AND Jobs.lock_by = ?`.
                // With this index SQLite walks every job the worker ever took
                // (finished jobs keep `lock_by`), parsing the JSON again for
                // each: acks grew with the queue's history and held the one
                // write connection for milliseconds. Without it SQLite looks
                // each acknowledged job up by its id. Dropped after every
                // migration run, in case a later apalis version makes it again.
                sqlx::query("DROP INDEX IF EXISTS LIdx")
                    .execute(pool)
                    .await?;
            }
            Db::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("migrations/postgres");
                migrator.set_ignore_missing(true);
                migrator.run(pool).await?;
                let mut jobs = apalis_postgres::PostgresStorage::<()>::migrations();
                jobs.set_ignore_missing(true);
                jobs.run(pool).await?;
            }
        }
        Ok(())
    }
}

/// Group-commit writers on PostgreSQL, each with a batch in flight. Two keep
/// the server busy while one waits for its commit; more only make each batch
/// smaller (measured at 1, 2, 4 and 8 in BENCHMARKS.md).
const POSTGRES_WRITERS: usize = 2;

/// The writer's page cache: SQLite's default 2 MB. Every commit walks the
/// cache's hash table to drop pages past the end of the database, so a 64 MB
/// cache cost 6% of the bench's time there and a quarter of its moves per
/// second (BENCHMARKS.md, session 4); the pages a move touches stay hot anyway.
const WRITER_CACHE: &str = "-2000";

/// The WAL size (in 4 KiB pages, so 128 MB) at which a writer checkpoints
/// itself, inside its commit: a bound in case `wal`'s way of starting the WAL
/// over fails (a reader that keeps an old snapshot, say). At 8,000 pages the
/// group commit's checkpoints came often enough to double its p99
/// (BENCHMARKS.md, session 8); with none, the WAL grew past 2.7 GB in a
/// 40,000-case run.
const WAL_PAGES: &str = "32000";

/// The readers' page cache (64 MB): the default 2 MB is outgrown by a few
/// thousand cases.
const READER_CACHE: &str = "-65536";

/// How caseflow's own rusqlite connections open the database (the group
/// commit's writer, the case reads): with the settings of the sqlx pools above,
/// so all see one database the same way.
#[derive(Debug, Clone)]
pub(super) struct SqliteFile {
    path: PathBuf,
    durability: Durability,
    in_memory: bool,
    /// Shared with the background checkpoint (see `wal`).
    pub(super) restart: Arc<RestartWanted>,
}

impl SqliteFile {
    /// A connection for reads alone.
    pub(super) fn open_reader(&self) -> StoreResult<rusqlite::Connection> {
        let connection = rusqlite::Connection::open(&self.path)?;
        connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        connection.execute_batch(&format!(
            "PRAGMA query_only = ON; PRAGMA cache_size = {READER_CACHE};"
        ))?;
        Ok(connection)
    }

    pub(super) fn open_writer(&self) -> StoreResult<rusqlite::Connection> {
        let connection = rusqlite::Connection::open(&self.path)?;
        connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
        let synchronous = match self.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        connection.execute_batch(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; \
             PRAGMA wal_autocheckpoint = {WAL_PAGES}; PRAGMA cache_size = {WRITER_CACHE};"
        ))?;
        Ok(connection)
    }
}

/// Row-level security does not bind superusers or BYPASSRLS roles: say so,
/// since the organisation wall then rests on the queries alone.
async fn warn_if_above_row_security(pool: &sqlx::PgPool) {
    let above: Result<bool, sqlx::Error> = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await;
    if let Ok(true) = above {
        tracing::warn!(
            "connected to PostgreSQL as a superuser or a BYPASSRLS role: row-level security between organisations is not enforced; connect as an ordinary role"
        );
    }
}
