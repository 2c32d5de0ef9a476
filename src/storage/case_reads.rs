//! Reading one case on SQLite through caseflow's own rusqlite connections, on
//! the caller's thread. Through sqlx every read was handed to a connection
//! thread and back: about 12% of the server's time under HTTP reads went to
//! those hand-offs (BENCHMARKS.md, session 8), while the read itself, one row
//! by its key, takes a few microseconds. That is shorter than the hand-off, so
//! it runs where it is asked for instead of on a blocking thread. In WAL mode
//! a reader never waits for the writer.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::Error::FromSqlConversionFailure;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::cases::{CASE_BY_ID, CaseRecord};
use super::connect::SqliteFile;
use super::{StoreError, StoreResult};

/// Idle connections kept for the next read. A read holds one only while it
/// runs and never awaits, so no more are in use at once than threads read.
const IDLE_READERS: usize = 8;

#[derive(Debug)]
pub(super) struct CaseReads {
    file: SqliteFile,
    idle: Mutex<Vec<Connection>>,
}

impl CaseReads {
    pub(super) fn new(file: SqliteFile) -> Self {
        Self {
            file,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// One case of `org`, as [`super::Store::case`] reads it.
    pub(super) fn case(&self, org: Uuid, id: Uuid) -> StoreResult<CaseRecord> {
        let connection = match self.lock().pop() {
            Some(idle) => idle,
            None => self.file.open_reader()?,
        };
        let found = read_case(&connection, org, id);
        let mut idle = self.lock();
        if idle.len() < IDLE_READERS {
            idle.push(connection);
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn read_case(connection: &Connection, org: Uuid, id: Uuid) -> StoreResult<CaseRecord> {
    let mut statement = connection.prepare_cached(&CASE_BY_ID)?;
    statement
        .query_row((org, id), case_of)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// The row in the columns [`super::cases::COLUMNS`] names, in its order.
fn case_of(row: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let data = serde_json::from_str(row.get_ref(6)?.as_str()?)
        .map_err(|error| FromSqlConversionFailure(6, Type::Text, Box::new(error)))?;
    Ok(CaseRecord {
        id: row.get(0)?,
        org_id: row.get(1)?,
        workflow: row.get(2)?,
        workflow_version: row.get(3)?,
        state: row.get(4)?,
        version: row.get(5)?,
        data,
        audit_hash: row.get(7)?,
        created_at: time_at(row, 8)?,
        created_by: row.get(9)?,
        updated_at: time_at(row, 10)?,
        updated_by: row.get(11)?,
        closed_at: match row.get_ref(12)? {
            ValueRef::Null => None,
            _ => Some(time_at(row, 12)?),
        },
        legal_hold: row.get(13)?,
    })
}

/// A time as the writers store it (RFC 3339), read with chrono's RFC 3339
/// parser. rusqlite's own goes through `parse_from_str`, which parses its
/// format string on every call: 1.7% of the server's time under HTTP reads
/// (BENCHMARKS.md, session 12). Any other text falls back to rusqlite's.
fn time_at(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let stored = row.get_ref(index)?.as_str().ok();
    match stored.and_then(|text| DateTime::parse_from_rfc3339(text).ok()) {
        Some(at) => Ok(at.with_timezone(&Utc)),
        None => row.get(index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rusqlite_reads_them() {
        let connection = Connection::open_in_memory().expect("in-memory SQLite");
        for text in [
            "2026-12-06T13:28:15+00:00",
            "2026-12-06T13:28:15.480+00:00",
            "2026-12-06T13:28:15.480522+00:00",
            "2026-12-06T13:28:15.480522123+00:00",
            "2026-12-06T13:28:15.480522Z",
            "2026-12-06T15:28:15.480522+02:00",
            "2026-12-06 13:28:15.480522+00:00",
            "2026-12-06 13:28:15.480522",
            "2016-12-31T23:59:60.5+00:00",
        ] {
            let (ours, theirs) = connection
                .query_row("SELECT ?1", [text], |row| {
                    Ok((time_at(row, 0), row.get::<_, DateTime<Utc>>(0)))
                })
                .expect("a row");
            assert_eq!(ours.ok(), theirs.ok(), "{text}");
        }
    }
}
