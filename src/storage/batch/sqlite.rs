//! A batch as SQLite statements: one multi-row statement per table.

use std::collections::HashSet;

use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::{JsonText, Rows};
use crate::storage::Move;
use crate::storage::cases::COLUMNS;

use crate::storage::{StoreError, StoreResult};

/// The cases whose move applied: each now carries its move's audit hash, which
/// no other move's entry has.
async fn applied_of(
    tx: &mut Transaction<'_, Sqlite>,
    moves: &[(&Move, &JsonText)],
) -> StoreResult<HashSet<Uuid>> {
    let mut query = sqlx::QueryBuilder::new("SELECT cases.id FROM (");
    query.push_values(moves, |mut row, (change, _)| {
        row.push_bind(change.case_id)
            .push_bind(change.audit.hash.as_str());
    });
    query.push(") AS v JOIN cases ON cases.id = v.column1 AND cases.audit_hash = v.column2");
    let mut applied = HashSet::new();
    for row in query.build().fetch_all(&mut **tx).await? {
        applied.insert(row.try_get::<Uuid, _>(0)?);
    }
    Ok(applied)
}

/// Access-log rows per INSERT, well under SQLite's bound-parameter limit.
const READS_PER_INSERT: usize = 1000;

/// Writes `rows`; returns the cases whose move applied.
pub(super) async fn write(
    tx: &mut Transaction<'_, Sqlite>,
    rows: &Rows<'_>,
) -> StoreResult<HashSet<Uuid>> {
    if !rows.inserts.is_empty() {
        let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO cases ({COLUMNS}) "));
        insert.push_values(&rows.inserts, |mut row, (new, text)| {
            let case = &new.record;
            row.push_bind(case.id)
                .push_bind(case.org_id)
                .push_bind(case.workflow.as_str())
                .push_bind(case.workflow_version)
                .push_bind(case.state.as_str())
                .push_bind(case.version)
                .push_bind(text.data.clone())
                .push_bind(case.audit_hash.as_str())
                .push_bind(case.created_at)
                .push_bind(case.created_by.as_str())
                .push_bind(case.updated_at)
                .push_bind(case.updated_by.as_str())
                .push_bind(case.closed_at)
                .push_bind(case.legal_hold);
        });
        insert
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|error| StoreError::from_write(error, "a case with this id exists"))?;
    }
    let mut applied = HashSet::new();
    if !rows.moves.is_empty() {
        // VALUES columns are column1..column10.
        let mut update = sqlx::QueryBuilder::new(
            "UPDATE cases SET state = v.column3, data = v.column4, version = version + 1, \
             audit_hash = v.column5, updated_at = v.column6, updated_by = v.column7, \
             closed_at = v.column8, closed_by = v.column9 FROM (",
        );
        update.push_values(&rows.moves, |mut row, (change, text)| {
            let (closed_at, closed_by) = change.closing();
            row.push_bind(change.case_id)
                .push_bind(change.from_version)
                .push_bind(change.state.as_str())
                .push_bind(text.data.clone())
                .push_bind(change.audit.hash.as_str())
                .push_bind(change.at)
                .push_bind(change.actor.as_str())
                .push_bind(closed_at)
                .push_bind(closed_by)
                .push_bind(change.org_id);
        });
        // Left to itself, SQLite 3.51 scans every case and probes the VALUES
        // list; the unary `+` keeps the version and organisation out of index
        // choice, so it walks the list and seeks each id.
        update.push(
            ") AS v WHERE cases.id = v.column1 AND +cases.version = v.column2 AND +cases.org_id = v.column10",
        );
        // A row count, not `RETURNING id`: sqlx hands each returned row to this
        // thread on its own, waking it once per row.
        let updated = update.build().execute(&mut **tx).await?.rows_affected();
        if updated as usize == rows.moves.len() {
            applied.extend(rows.moves.iter().map(|(change, _)| change.case_id));
        } else {
            applied = applied_of(tx, &rows.moves).await?;
        }
    }
    let (audits, outbox) = rows.written(&applied);
    if !audits.is_empty() {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme) ",
        );
        insert.push_values(&audits, |mut row, (entry, text)| {
            row.push_bind(entry.case_id)
                .push_bind(entry.seq)
                .push_bind(entry.org_id)
                .push_bind(entry.transition.as_deref())
                .push_bind(entry.from.as_deref())
                .push_bind(entry.to.as_str())
                .push_bind(entry.actor.as_str())
                .push_bind(text.form.clone())
                .push_bind(text.changes.clone())
                .push_bind(text.reasons.clone())
                .push_bind(entry.request_id.as_deref())
                .push_bind(entry.at)
                .push_bind(entry.prev_hash.as_str())
                .push_bind(entry.hash.as_str())
                .push_bind(entry.hash_scheme);
        });
        insert
            .build()
            .execute(&mut **tx)
            .await
            .map_err(|error| StoreError::from_write(error, "audit entry already written"))?;
    }
    if !outbox.is_empty() {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO outbox (id, org_id, case_id, seq, kind, payload, created_at, available_at) ",
        );
        insert.push_values(&outbox, |mut row, (item, audit, at, payload)| {
            row.push_bind(item.id)
                .push_bind(audit.org_id)
                .push_bind(audit.case_id)
                .push_bind(audit.seq)
                .push_bind(item.kind.as_str())
                .push_bind((*payload).clone())
                .push_bind(*at)
                .push_bind(item.available_at);
        });
        insert.build().execute(&mut **tx).await?;
    }
    for chunk in rows.reads.chunks(READS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO case_reads (org_id, case_id, reader, what, request_id, at) ",
        );
        insert.push_values(chunk, |mut row, read| {
            row.push_bind(read.org_id)
                .push_bind(read.case_id)
                .push_bind(read.reader.as_str())
                .push_bind(read.what.as_str())
                .push_bind(read.request_id.as_deref())
                .push_bind(read.at);
        });
        insert.build().execute(&mut **tx).await?;
    }
    Ok(applied)
}
