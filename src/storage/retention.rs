//! Writes that change a case outside its workflow: retention, erasure and
//! legal holds. Each bumps the case's version and appends its own audit
//! entry in the same transaction, so the trail records what was done.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::audit::AuditEntry;
use super::cases::{COLUMNS, CaseRecord, case_from_row};
use super::{Db, Json, Store, StoreError, StoreResult, on_db, stored_time};

/// A closed case as the retention sweep sees it: the record and how far
/// retention has already gone with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedCase {
    pub record: CaseRecord,
    pub anonymised: bool,
    pub financial_scrubbed: bool,
}

/// One earlier audit entry with its form and changes scrubbed; the digests
/// are of the entry as it was written.
#[derive(Debug, Clone)]
pub struct Redaction {
    pub seq: i64,
    pub form: Option<Value>,
    pub changes: Value,
    pub form_digest: Option<String>,
    pub changes_digest: String,
}

/// Which retention marks a scrub sets on the case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrubMarks {
    pub anonymised: bool,
    pub financial: bool,
    pub deleted: bool,
}

/// A scrub of one case: its new data, the entries it rewrites and the entry
/// that records it (whose `seq` the redactions point to).
#[derive(Debug, Clone)]
pub struct Scrub {
    pub org_id: Uuid,
    pub case_id: Uuid,
    pub from_version: i64,
    pub data: Value,
    pub marks: ScrubMarks,
    pub redactions: Vec<Redaction>,
    pub audit: AuditEntry,
}

/// A legal hold put on or lifted, with the entry recording it.
#[derive(Debug, Clone)]
pub struct LegalHold {
    pub org_id: Uuid,
    pub case_id: Uuid,
    pub from_version: i64,
    pub hold: bool,
    pub reason: Option<String>,
    pub audit: AuditEntry,
}

const PAGE: i64 = 500;

/// The trusted writer acts across organisations (row-level security on PostgreSQL).
macro_rules! open_to_all {
    ($tx:expr, $is_postgres:expr) => {
        if $is_postgres {
            sqlx::query("SELECT set_config('caseflow.org', 'all', true)")
                .execute(&mut *$tx)
                .await?;
        }
    };
}

fn stale_unless_moved(rows: u64, from_version: i64) -> StoreResult<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the case is no longer at version {from_version}"
        )))
    }
}

/// Appends `$entry` inside the open transaction `$tx` (either database).
macro_rules! insert_entry {
    ($tx:expr, $entry:expr) => {{
        let entry: &AuditEntry = $entry;
        sqlx::query(
            "INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, \
             actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(entry.case_id)
        .bind(entry.seq)
        .bind(entry.org_id)
        .bind(entry.transition.clone())
        .bind(entry.from.clone())
        .bind(entry.to.clone())
        .bind(entry.actor.clone())
        .bind(entry.form.clone().map(sqlx::types::Json))
        .bind(Json::from(entry.changes.clone()))
        .bind(Json::from(entry.reasons.clone()))
        .bind(entry.request_id.clone())
        .bind(stored_time(entry.at))
        .bind(entry.prev_hash.clone())
        .bind(entry.hash.clone())
        .bind(entry.hash_scheme)
        .execute(&mut *$tx)
        .await?;
    }};
}

impl Store {
    /// Closed cases of every organisation after `after` (by id), a page at a time.
    pub async fn closed_cases(&self, after: Option<Uuid>) -> StoreResult<Vec<ClosedCase>> {
        let sql = format!(
            "SELECT {COLUMNS}, anonymised_at, financial_scrubbed_at FROM cases \
             WHERE closed_at IS NOT NULL AND id > $1 ORDER BY id LIMIT $2"
        );
        super::scoped!(&self.db, super::Scope::All, |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(PAGE)
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| {
                    let marked = |column: &str| {
                        row.try_get::<Option<DateTime<Utc>>, _>(column)
                            .map(|at| at.is_some())
                    };
                    Ok(ClosedCase {
                        record: case_from_row!(row)?,
                        anonymised: marked("anonymised_at")?,
                        financial_scrubbed: marked("financial_scrubbed_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Writes a scrub: the case, the rewritten entries and the recording entry
    /// together, or nothing if the case moved since `from_version`. In-app
    /// notifications of the case and its sent outbox rows go too: they quote
    /// the data being removed.
    pub async fn apply_scrub(&self, scrub: &Scrub) -> StoreResult<()> {
        let is_postgres = matches!(self.writer, Db::Postgres(_));
        let at = stored_time(scrub.audit.at);
        on_db!(&self.writer, |pool| {
            let mut tx = pool.begin().await?;
            open_to_all!(tx, is_postgres);
            let marks = scrub.marks;
            let moved = sqlx::query(
                "UPDATE cases SET data = $1, version = version + 1, audit_hash = $2, \
                 updated_at = $3, updated_by = $4, \
                 anonymised_at = CASE WHEN $5 THEN $3 ELSE anonymised_at END, \
                 financial_scrubbed_at = CASE WHEN $6 THEN $3 ELSE financial_scrubbed_at END, \
                 deleted_at = CASE WHEN $7 THEN $3 ELSE deleted_at END, \
                 deleted_by = CASE WHEN $7 THEN $4 ELSE deleted_by END \
                 WHERE id = $8 AND org_id = $9 AND version = $10",
            )
            .bind(Json::from(scrub.data.clone()))
            .bind(scrub.audit.hash.clone())
            .bind(at)
            .bind(scrub.audit.actor.clone())
            .bind(marks.anonymised)
            .bind(marks.financial)
            .bind(marks.deleted)
            .bind(scrub.case_id)
            .bind(scrub.org_id)
            .bind(scrub.from_version)
            .execute(&mut *tx)
            .await?;
            stale_unless_moved(moved.rows_affected(), scrub.from_version)?;
            for redaction in &scrub.redactions {
                sqlx::query(
                    "UPDATE audit_entries SET form = $1, changes = $2, form_digest = $3, \
                     changes_digest = $4, redacted_by = $5 WHERE case_id = $6 AND seq = $7",
                )
                .bind(redaction.form.clone().map(sqlx::types::Json))
                .bind(Json::from(redaction.changes.clone()))
                .bind(redaction.form_digest.clone())
                .bind(redaction.changes_digest.clone())
                .bind(scrub.audit.seq)
                .bind(scrub.case_id)
                .bind(redaction.seq)
                .execute(&mut *tx)
                .await?;
            }
            insert_entry!(tx, &scrub.audit);
            sqlx::query("DELETE FROM notifications WHERE case_id = $1")
                .bind(scrub.case_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM outbox WHERE case_id = $1 AND status <> 'pending'")
                .bind(scrub.case_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Removes a case and everything recorded about it (its audit period is over).
    pub async fn purge_case(&self, org: Uuid, case_id: Uuid) -> StoreResult<()> {
        // A read still buffered would otherwise be written after the purge.
        self.flush_case_reads().await;
        let is_postgres = matches!(self.writer, Db::Postgres(_));
        on_db!(&self.writer, |pool| {
            let mut tx = pool.begin().await?;
            open_to_all!(tx, is_postgres);
            for table in ["case_reads", "notifications", "outbox", "audit_entries"] {
                let sql = format!("DELETE FROM {table} WHERE case_id = $1 AND org_id = $2");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(case_id)
                    .bind(org)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM cases WHERE id = $1 AND org_id = $2 AND legal_hold = $3")
                .bind(case_id)
                .bind(org)
                .bind(false)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Puts a case under legal hold or lifts it, recorded in its trail.
    pub async fn set_legal_hold(&self, change: &LegalHold) -> StoreResult<()> {
        let is_postgres = matches!(self.writer, Db::Postgres(_));
        on_db!(&self.writer, |pool| {
            let mut tx = pool.begin().await?;
            open_to_all!(tx, is_postgres);
            let moved = sqlx::query(
                "UPDATE cases SET legal_hold = $1, legal_hold_reason = $2, version = version + 1, \
                 audit_hash = $3, updated_at = $4, updated_by = $5 \
                 WHERE id = $6 AND org_id = $7 AND version = $8 AND deleted_at IS NULL",
            )
            .bind(change.hold)
            .bind(change.reason.clone())
            .bind(change.audit.hash.clone())
            .bind(stored_time(change.audit.at))
            .bind(change.audit.actor.clone())
            .bind(change.case_id)
            .bind(change.org_id)
            .bind(change.from_version)
            .execute(&mut *tx)
            .await?;
            stale_unless_moved(moved.rows_affected(), change.from_version)?;
            insert_entry!(tx, &change.audit);
            tx.commit().await?;
            Ok(())
        })
    }
}
