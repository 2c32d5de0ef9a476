//! Keeping the pool's write connection from the job workers while the group
//! commit writes through its own connection.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};

use crate::storage::connect::SqliteFile;
use crate::storage::{StoreError, StoreResult};

/// SQLite's one write connection of the pool, kept by the writer from one batch
/// to the next while writes keep coming. The writer does not write through it:
/// holding it keeps the job workers and sign-ins, which write through the pool,
/// from taking SQLite's write lock in the middle of the writer's batches, and
/// from waiting on SQLite's busy handler, which sleeps. It goes back when the
/// writer has been idle a moment (`IDLE_BEFORE_RELEASE`), and after
/// `HOLD_AT_MOST` of holding, so those writes still get their turn while moves
/// keep coming: each turn costs the writer a wait behind every statement
/// queued for the pool meanwhile. Taking it from the pool each batch cost
/// 44–100 µs.
///
/// The writer writes through its own rusqlite connection (`raw`), opened at its
/// first batch and kept.
pub(super) struct Held {
    /// The pool's connection and when the writer took it.
    connection: Option<(PoolConnection<Sqlite>, Instant)>,
    file: Option<SqliteFile>,
    raw: Option<rusqlite::Connection>,
}

/// The longest the writer keeps the pool's write connection from others while
/// moves keep coming. Each turn stalls every move for as long as the statements
/// queued meanwhile take (5–30 ms under load), so at 40 ms the workers' turns
/// took about a quarter of the writer's time in a long HTTP run; at 250 ms they
/// still get four turns a second, and deadlines fired as late as before
/// (BENCHMARKS.md, session 12).
const HOLD_AT_MOST: Duration = Duration::from_millis(250);

/// How long an idle writer keeps the pool's write connection before giving it
/// back. Under load the next move usually comes within it; given back at every
/// empty queue, the connection went to the job workers' statements, and the
/// writer then waited behind each of them in turn: 99–173 batches of an HTTP
/// fire run waited 0.55–1.02 s in all for it (BENCHMARKS.md, session 10).
pub(super) const IDLE_BEFORE_RELEASE: Duration = Duration::from_millis(2);

impl Held {
    pub(super) fn new(file: Option<SqliteFile>) -> Self {
        Self {
            connection: None,
            file,
            raw: None,
        }
    }

    /// The writer's own connection, with the pool's write connection held.
    pub(super) async fn take(
        &mut self,
        pool: &SqlitePool,
    ) -> StoreResult<&mut rusqlite::Connection> {
        if self
            .connection
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() > HOLD_AT_MOST)
        {
            self.release();
        }
        if self.connection.is_none() {
            self.connection = Some((pool.acquire().await?, Instant::now()));
        }
        match (&mut self.raw, &self.file) {
            (Some(raw), _) => Ok(raw),
            (empty, Some(file)) => Ok(empty.insert(file.open_writer()?)),
            (_, None) => Err(StoreError::Database(sqlx::Error::Configuration(
                "the SQLite writer was started without its database file".into(),
            ))),
        }
    }

    /// Whether the writer holds the pool's write connection now.
    pub(super) fn holds(&self) -> bool {
        self.connection.is_some()
    }

    /// Finishes a WAL checkpoint if the background asked for one (see
    /// `storage::wal`); between batches, so no write waits on it but the next.
    pub(super) fn checkpoint_if_asked(&self) {
        if let (Some(raw), Some(file)) = (&self.raw, &self.file) {
            crate::storage::wal::finish_checkpoint(raw, &file.restart);
        }
    }

    pub(super) fn release(&mut self) {
        self.connection = None;
    }
}
