//! Keeping the pool's write connection from the job workers while the group
//! commit writes through its own connection.

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};

use crate::storage::connect::SqliteFile;
use crate::storage::{StoreError, StoreResult};

/// SQLite's one write connection of the pool, kept by the writer from one batch
/// to the next while writes keep coming. The writer does not write through it:
/// holding it keeps the job workers and sign-ins, which write through the pool,
/// from taking SQLite's write lock in the middle of the writer's batches, and
/// from waiting on SQLite's busy handler, which sleeps. It goes back whenever
/// the queue is empty, and after `HOLD_BATCHES` batches in a row, so those
/// writes still get their turn while moves keep coming. Taking it from the pool
/// each batch cost 44–100 µs.
///
/// The writer writes through its own rusqlite connection (`raw`), opened at its
/// first batch and kept.
pub(super) struct Held {
    connection: Option<PoolConnection<Sqlite>>,
    batches: usize,
    file: Option<SqliteFile>,
    raw: Option<rusqlite::Connection>,
}

/// About 5 ms of batches under full load.
const HOLD_BATCHES: usize = 8;

impl Held {
    pub(super) fn new(file: Option<SqliteFile>) -> Self {
        Self {
            connection: None,
            batches: 0,
            file,
            raw: None,
        }
    }

    /// The writer's own connection, with the pool's write connection held.
    pub(super) async fn take(
        &mut self,
        pool: &SqlitePool,
    ) -> StoreResult<&mut rusqlite::Connection> {
        self.batches += 1;
        if self.batches > HOLD_BATCHES {
            self.release();
            self.batches = 1;
        }
        if self.connection.is_none() {
            self.connection = Some(pool.acquire().await?);
        }
        match (&mut self.raw, &self.file) {
            (Some(raw), _) => Ok(raw),
            (empty, Some(file)) => Ok(empty.insert(file.open_writer()?)),
            (_, None) => Err(StoreError::Database(sqlx::Error::Configuration(
                "the SQLite writer was started without its database file".into(),
            ))),
        }
    }

    pub(super) fn release(&mut self) {
        self.connection = None;
        self.batches = 0;
    }
}
