//! A batch as one PostgreSQL statement. Each table's rows go in as one array
//! per column and come out of `UNNEST`, so the statement has one text whatever
//! the batch size and is parsed once per connection (a multi-row VALUES list
//! is a new statement for every batch size). Data-modifying CTEs write the new
//! cases, the moves that still apply, and the audit entries and outbox rows of
//! exactly those, all in one round trip: a single statement is its own
//! transaction, so nothing of a failed batch is written.

use std::collections::HashSet;

use sqlx::PgPool;
use uuid::Uuid;

use super::Rows;
use crate::storage::{StoreError, StoreResult};

const BATCH: &str = "\
WITH new_cases AS (
    INSERT INTO cases (id, org_id, workflow, workflow_version, state, version, data, audit_hash, created_at, created_by, updated_at, updated_by, closed_at, legal_hold)
    SELECT id, org_id, workflow, workflow_version, state, version, data::jsonb, audit_hash, created_at, created_by, updated_at, updated_by, closed_at, legal_hold
    FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[], $14::boolean[])
        AS c(id, org_id, workflow, workflow_version, state, version, data, audit_hash, created_at, created_by, updated_at, updated_by, closed_at, legal_hold)
    RETURNING id
), moved AS (
    UPDATE cases SET state = v.state, data = v.data::jsonb, version = cases.version + 1,
        audit_hash = v.hash, updated_at = v.at, updated_by = v.actor, closed_at = v.closed_at, closed_by = v.closed_by
    FROM UNNEST($15::uuid[], $16::bigint[], $17::uuid[], $18::text[], $19::text[], $20::text[], $21::timestamptz[], $22::text[], $23::timestamptz[], $24::text[])
        AS v(id, from_version, org_id, state, data, hash, at, actor, closed_at, closed_by)
    WHERE cases.id = v.id AND cases.version = v.from_version AND cases.org_id = v.org_id
    RETURNING cases.id
), written AS (
    SELECT id FROM new_cases UNION ALL SELECT id FROM moved
), audit AS (
    INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme)
    SELECT case_id, seq, org_id, transition, from_state, to_state, actor, form::jsonb, changes::jsonb, reasons::jsonb, request_id, recorded_at, prev_hash, hash, hash_scheme
    FROM UNNEST($25::uuid[], $26::bigint[], $27::uuid[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::text[], $35::text[], $36::timestamptz[], $37::text[], $38::text[], $39::bigint[])
        AS a(case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme)
    WHERE a.case_id IN (SELECT id FROM written)
), outbox AS (
    INSERT INTO outbox (id, org_id, case_id, seq, kind, payload, created_at, available_at)
    SELECT id, org_id, case_id, seq, kind, payload::jsonb, created_at, available_at
    FROM UNNEST($40::uuid[], $41::uuid[], $42::uuid[], $43::bigint[], $44::text[], $45::text[], $46::timestamptz[], $47::timestamptz[])
        AS o(id, org_id, case_id, seq, kind, payload, created_at, available_at)
    WHERE o.case_id IN (SELECT id FROM written)
), reads AS (
    INSERT INTO case_reads (org_id, case_id, reader, what, request_id, at)
    SELECT * FROM UNNEST($48::uuid[], $49::uuid[], $50::text[], $51::text[], $52::text[], $53::timestamptz[])
), notes AS (
    INSERT INTO notifications (id, org_id, user_id, case_id, template, subject, body, created_at, read_at)
    SELECT * FROM UNNEST($54::uuid[], $55::uuid[], $56::uuid[], $57::uuid[], $58::text[], $59::text[], $60::text[], $61::timestamptz[], $62::timestamptz[])
    ON CONFLICT (id) DO NOTHING
)
SELECT id FROM moved";

/// One column of a batch, taken from each row.
fn column<'r, R, T>(rows: &'r [R], field: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// Writes `rows` on `pool`, whose connections carry the writer's settings
/// (see `Store::connect`); returns the cases whose move applied.
pub(super) async fn write(pool: &PgPool, rows: &Rows<'_>) -> StoreResult<HashSet<Uuid>> {
    let cases: Vec<_> = rows
        .inserts
        .iter()
        .map(|(new, text)| (&new.record, *text))
        .collect();
    let moves = &rows.moves;
    // Every entry and outbox row goes in; the statement keeps those of the
    // cases it wrote.
    let (audits, outbox) = rows.written(&moves.iter().map(|(change, _)| change.case_id).collect());
    let reads = &rows.reads;
    let notes = &rows.notifications;
    let ids: Vec<Uuid> = sqlx::query_scalar(BATCH)
        .bind(column(&cases, |(case, _)| case.id))
        .bind(column(&cases, |(case, _)| case.org_id))
        .bind(column(&cases, |(case, _)| case.workflow.as_str()))
        .bind(column(&cases, |(case, _)| case.workflow_version))
        .bind(column(&cases, |(case, _)| case.state.as_str()))
        .bind(column(&cases, |(case, _)| case.version))
        .bind(column(&cases, |(_, text)| &*text.data))
        .bind(column(&cases, |(case, _)| case.audit_hash.as_str()))
        .bind(column(&cases, |(case, _)| case.created_at))
        .bind(column(&cases, |(case, _)| case.created_by.as_str()))
        .bind(column(&cases, |(case, _)| case.updated_at))
        .bind(column(&cases, |(case, _)| case.updated_by.as_str()))
        .bind(column(&cases, |(case, _)| case.closed_at))
        .bind(column(&cases, |(case, _)| case.legal_hold))
        .bind(column(moves, |(change, _)| change.case_id))
        .bind(column(moves, |(change, _)| change.from_version))
        .bind(column(moves, |(change, _)| change.org_id))
        .bind(column(moves, |(change, _)| change.state.as_str()))
        .bind(column(moves, |(_, text)| &*text.data))
        .bind(column(moves, |(change, _)| change.audit.hash.as_str()))
        .bind(column(moves, |(change, _)| change.at))
        .bind(column(moves, |(change, _)| change.actor.as_str()))
        .bind(column(moves, |(change, _)| change.closing().0))
        .bind(column(moves, |(change, _)| change.closing().1))
        .bind(column(&audits, |(entry, _)| entry.case_id))
        .bind(column(&audits, |(entry, _)| entry.seq))
        .bind(column(&audits, |(entry, _)| entry.org_id))
        .bind(column(&audits, |(entry, _)| entry.transition.as_deref()))
        .bind(column(&audits, |(entry, _)| entry.from.as_deref()))
        .bind(column(&audits, |(entry, _)| entry.to.as_str()))
        .bind(column(&audits, |(entry, _)| entry.actor.as_str()))
        .bind(column(&audits, |(_, text)| text.form.as_deref()))
        .bind(column(&audits, |(_, text)| &*text.changes))
        .bind(column(&audits, |(_, text)| &*text.reasons))
        .bind(column(&audits, |(entry, _)| entry.request_id.as_deref()))
        .bind(column(&audits, |(entry, _)| entry.at))
        .bind(column(&audits, |(entry, _)| entry.prev_hash.as_str()))
        .bind(column(&audits, |(entry, _)| entry.hash.as_str()))
        .bind(column(&audits, |(entry, _)| entry.hash_scheme))
        .bind(column(&outbox, |(item, _, _)| item.id))
        .bind(column(&outbox, |(_, audit, _)| audit.org_id))
        .bind(column(&outbox, |(_, audit, _)| audit.case_id))
        .bind(column(&outbox, |(_, audit, _)| audit.seq))
        .bind(column(&outbox, |(item, _, _)| item.kind.as_str()))
        .bind(column(&outbox, |(item, _, _)| &*item.payload))
        .bind(column(&outbox, |(_, _, at)| *at))
        .bind(column(&outbox, |(item, _, _)| item.available_at))
        .bind(column(reads, |read| read.org_id))
        .bind(column(reads, |read| read.case_id))
        .bind(column(reads, |read| read.reader.as_str()))
        .bind(column(reads, |read| read.what.as_str()))
        .bind(column(reads, |read| read.request_id.as_deref()))
        .bind(column(reads, |read| read.at))
        .bind(column(notes, |note| note.notification.id))
        .bind(column(notes, |note| note.org_id))
        .bind(column(notes, |note| note.user_id))
        .bind(column(notes, |note| note.notification.case_id))
        .bind(column(notes, |note| note.notification.template.as_str()))
        .bind(column(notes, |note| note.notification.subject.as_str()))
        .bind(column(notes, |note| note.notification.body.as_str()))
        .bind(column(notes, |note| note.notification.created_at))
        .bind(column(notes, |note| note.notification.read_at))
        .fetch_all(pool)
        .await
        .map_err(|error| {
            StoreError::from_write(error, "a case or audit entry with this id exists")
        })?;
    Ok(ids.into_iter().collect())
}
