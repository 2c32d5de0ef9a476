//! Opening a database from `DATABASE_URL` and bringing its schema up to date.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Db, Store, StoreResult};
use crate::config::Durability;

/// How long a writer waits for SQLite's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects; a SQLite file is created on first use.
    pub async fn connect(url: &str, durability: Durability) -> StoreResult<Self> {
        let (db, writer) = if url.starts_with("sqlite:") {
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
                // The default 2 MB page cache is outgrown by a few thousand cases.
                .pragma("cache_size", "-65536")
                .pragma("mmap_size", "268435456")
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", "8000");
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            (Db::Sqlite(readers), Db::Sqlite(writer))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(12)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            (Db::Postgres(pool.clone()), Db::Postgres(pool))
        };
        let batch = super::batch::Writer::start(writer.clone());
        Ok(Self { db, writer, batch })
    }

    /// Applies the migrations of this dialect. Other migrators (apalis's) share
    /// `_sqlx_migrations`, so versions this one does not know are ignored.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.writer {
            Db::Sqlite(pool) => {
                let mut migrator = sqlx::migrate!("migrations/sqlite");
                migrator.set_ignore_missing(true);
                migrator.run(pool).await?;
            }
            Db::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("migrations/postgres");
                migrator.set_ignore_missing(true);
                migrator.run(pool).await?;
            }
        }
        Ok(())
    }
}
