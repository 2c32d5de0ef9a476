//! A batch on SQLite: the writer's own rusqlite connection runs one cached
//! statement per row. Through sqlx every statement was a hand-off to its
//! connection thread and back, which doubled the writer's time per batch
//! (BENCHMARKS.md, session 8).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use super::Rows;
use crate::storage::cases::COLUMNS;
use crate::storage::{StoreError, StoreResult};

/// Times as sqlx writes them, so text comparisons in SQL (due outbox rows,
/// retention) see one format whichever connection wrote the row.
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Writes `rows` in one transaction; returns the cases whose move applied.
pub(super) fn write_batch(
    connection: &mut Connection,
    rows: &Rows<'_>,
) -> StoreResult<HashSet<Uuid>> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied = write(&tx, rows)?;
    tx.commit()?;
    Ok(applied)
}

fn write(tx: &Transaction<'_>, rows: &Rows<'_>) -> StoreResult<HashSet<Uuid>> {
    if !rows.inserts.is_empty() {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO cases ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?;
        for (new, text) in &rows.inserts {
            let case = &new.record;
            insert
                .execute(params![
                    case.id,
                    case.org_id,
                    case.workflow,
                    case.workflow_version,
                    case.state,
                    case.version,
                    &*text.data,
                    case.audit_hash,
                    time(case.created_at),
                    case.created_by,
                    time(case.updated_at),
                    case.updated_by,
                    case.closed_at.map(time),
                    case.legal_hold,
                ])
                .map_err(|error| {
                    StoreError::from_sqlite_write(error, "a case with this id exists")
                })?;
        }
    }
    let mut applied = HashSet::new();
    if !rows.moves.is_empty() {
        let mut update = tx.prepare_cached(
            "UPDATE cases SET state = ?1, data = ?2, version = version + 1, audit_hash = ?3, \
             updated_at = ?4, updated_by = ?5, closed_at = ?6, closed_by = ?7 \
             WHERE id = ?8 AND version = ?9 AND org_id = ?10",
        )?;
        for (change, text) in &rows.moves {
            let (closed_at, closed_by) = change.closing();
            let changed = update.execute(params![
                change.state,
                &*text.data,
                change.audit.hash,
                time(change.at),
                change.actor,
                closed_at.map(time),
                closed_by,
                change.case_id,
                change.from_version,
                change.org_id,
            ])?;
            if changed == 1 {
                applied.insert(change.case_id);
            }
        }
    }
    let (audits, outbox) = rows.written(&applied);
    if !audits.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for (entry, text) in &audits {
            insert
                .execute(params![
                    entry.case_id,
                    entry.seq,
                    entry.org_id,
                    entry.transition,
                    entry.from,
                    entry.to,
                    entry.actor,
                    text.form.as_deref(),
                    &*text.changes,
                    &*text.reasons,
                    entry.request_id,
                    time(entry.at),
                    entry.prev_hash,
                    entry.hash,
                    entry.hash_scheme,
                ])
                .map_err(|error| {
                    StoreError::from_sqlite_write(error, "audit entry already written")
                })?;
        }
    }
    if !outbox.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO outbox (id, org_id, case_id, seq, kind, payload, created_at, available_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (item, audit, at) in &outbox {
            insert.execute(params![
                item.id,
                audit.org_id,
                audit.case_id,
                audit.seq,
                item.kind,
                &*item.payload,
                time(*at),
                time(item.available_at),
            ])?;
        }
    }
    if !rows.reads.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO case_reads (org_id, case_id, reader, what, request_id, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for read in &rows.reads {
            insert.execute(params![
                read.org_id,
                read.case_id,
                read.reader,
                read.what,
                read.request_id,
                time(read.at),
            ])?;
        }
    }
    if !rows.notifications.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO notifications (id, org_id, user_id, case_id, template, subject, body, created_at, read_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
        )?;
        for delivery in &rows.notifications {
            let note = &delivery.notification;
            insert.execute(params![
                note.id,
                delivery.org_id,
                delivery.user_id,
                note.case_id,
                note.template,
                note.subject,
                note.body,
                time(note.created_at),
                note.read_at.map(time),
            ])?;
        }
    }
    Ok(applied)
}
