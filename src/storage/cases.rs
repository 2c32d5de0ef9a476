//! Cases: opening one and applying a move, each in one transaction with its
//! audit entry and outbox effects; reading them, always within an organisation.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::audit::AuditEntry;
use super::batch::WriteOp;
use super::{Json, Scope, Store, StoreError, StoreResult, scoped};

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CaseRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub org_id: Uuid,
    pub workflow: String,
    pub workflow_version: i64,
    pub state: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub data: Value,
    #[serde(skip)]
    pub audit_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub legal_hold: bool,
}

/// An effect to carry out after the commit (a notification, a deadline...).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: Uuid,
    pub kind: String,
    /// The effect as JSON text: the writer only binds it, so it is serialised
    /// once, straight from the effect.
    pub payload: Arc<str>,
    pub available_at: DateTime<Utc>,
}

pub struct NewCase {
    /// Shared with the caller's answer: the writer only reads it.
    pub record: Arc<CaseRecord>,
    pub audit: AuditEntry,
    pub outbox: Vec<OutboxItem>,
}

/// A move to write: applies only if the case is still at `from_version`.
pub struct Move {
    pub org_id: Uuid,
    pub case_id: Uuid,
    pub from_version: i64,
    pub state: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub closed: bool,
    pub audit: AuditEntry,
    pub outbox: Vec<OutboxItem>,
}

impl Move {
    /// `closed_at` and `closed_by` as the move writes them: set only when it
    /// closes the case.
    pub(super) fn closing(&self) -> (Option<DateTime<Utc>>, Option<&str>) {
        if self.closed {
            (Some(self.at), Some(self.actor.as_str()))
        } else {
            (None, None)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub workflow: Option<String>,
    pub state: Option<String>,
    /// Cases after this id (ids are UUIDv7, so this is creation order).
    pub after: Option<Uuid>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct CasePage {
    pub items: Vec<CaseRecord>,
    pub next: Option<Uuid>,
}

pub(super) const COLUMNS: &str = "id, org_id, workflow, workflow_version, state, version, data, audit_hash, created_at, created_by, updated_at, updated_by, closed_at, legal_hold";

/// One live case of an organisation by its id, for sqlx and for the rusqlite
/// reads (`case_reads`) alike: SQLite numbers `$1` and `$2` in order.
pub(super) static CASE_BY_ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM cases WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL")
});

macro_rules! case_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<CaseRecord, sqlx::Error>(CaseRecord {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            workflow: row.try_get("workflow")?,
            workflow_version: row.try_get("workflow_version")?,
            state: row.try_get("state")?,
            version: row.try_get("version")?,
            data: row.try_get::<Json, _>("data")?.0,
            audit_hash: row.try_get("audit_hash")?,
            created_at: row.try_get("created_at")?,
            created_by: row.try_get("created_by")?,
            updated_at: row.try_get("updated_at")?,
            updated_by: row.try_get("updated_by")?,
            closed_at: row.try_get("closed_at")?,
            legal_hold: row.try_get("legal_hold")?,
        })
    }};
}
pub(super) use case_from_row;

impl Store {
    /// Writes a new case, its first audit entry and its effects, all or nothing.
    pub async fn insert_case(&self, new: NewCase) -> StoreResult<()> {
        self.batch.write(WriteOp::insert(new)).await
    }

    /// Applies a move if the case is still at `from_version`; `Conflict` if
    /// anyone moved it first. The state, the audit entry and the effects
    /// commit together or not at all, acknowledged only after the commit.
    /// `data` is the case's data after the move: only its JSON text goes to the
    /// writer, so the caller keeps the value instead of copying it.
    pub async fn apply_move(&self, change: Move, data: &Value) -> StoreResult<()> {
        self.batch.write(WriteOp::moving(change, data)).await
    }

    /// One case of `org`; another organisation's case is simply not found.
    pub async fn case(&self, org: Uuid, id: Uuid) -> StoreResult<CaseRecord> {
        if let Some(reads) = &self.case_reads {
            return reads.case(org, id);
        }
        scoped!(&self.db, Scope::Org(org), |conn| {
            let row = sqlx::query(sqlx::AssertSqlSafe(CASE_BY_ID.as_str()))
                .bind(org)
                .bind(id)
                .fetch_optional(conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            case_from_row!(&row).map_err(StoreError::from)
        })
    }

    /// A page of `org`'s cases in creation order.
    pub async fn cases(&self, org: Uuid, filter: &CaseFilter) -> StoreResult<CasePage> {
        let limit = filter.limit.clamp(1, 500);
        let sql = format!(
            "SELECT {COLUMNS} FROM cases WHERE org_id = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR workflow = $2) AND ($3 IS NULL OR state = $3) AND ($4 IS NULL OR id > $4) \
             ORDER BY id LIMIT $5"
        );
        let mut items = scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(filter.workflow.clone())
                .bind(filter.state.clone())
                .bind(filter.after)
                .bind(limit + 1)
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| case_from_row!(row).map_err(StoreError::from))
                .collect::<StoreResult<Vec<_>>>()?
        });
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|case| case.id)
        } else {
            None
        };
        Ok(CasePage { items, next })
    }
}
