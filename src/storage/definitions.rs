//! Published workflow definitions: every version kept, cases pinned to theirs.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Scope, Store, StoreError, StoreResult, on_db, scoped, stored_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionRow {
    pub workflow: String,
    pub version: i64,
    pub title: String,
    pub source: String,
    pub content_hash: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

const COLUMNS: &str = "workflow, version, title, source, content_hash, published_by, published_at";

macro_rules! definition_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<DefinitionRow, sqlx::Error>(DefinitionRow {
            workflow: row.try_get("workflow")?,
            version: row.try_get("version")?,
            title: row.try_get("title")?,
            source: row.try_get("source")?,
            content_hash: row.try_get("content_hash")?,
            published_by: row.try_get("published_by")?,
            published_at: row.try_get("published_at")?,
        })
    }};
}

impl Store {
    /// Publishes a version; `Conflict` when that version number is taken.
    pub async fn insert_definition(&self, org: Uuid, row: &DefinitionRow) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO workflow_definitions (org_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        on_db!(&self.writer, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(row.workflow.clone())
                .bind(row.version)
                .bind(row.title.clone())
                .bind(row.source.clone())
                .bind(row.content_hash.clone())
                .bind(row.published_by.clone())
                .bind(stored_time(row.published_at))
                .execute(pool)
                .await
                .map_err(|error| {
                    StoreError::from_write(error, "this version is already published")
                })?;
        });
        Ok(())
    }

    /// Every published version of every workflow of `org`, oldest first.
    pub async fn definitions(&self, org: Uuid) -> StoreResult<Vec<DefinitionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM workflow_definitions WHERE org_id = $1 ORDER BY workflow, version"
        );
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| definition_from_row!(row).map_err(StoreError::from))
                .collect()
        })
    }

    /// One version, or the newest when `version` is `None`.
    pub async fn definition(
        &self,
        org: Uuid,
        workflow: &str,
        version: Option<i64>,
    ) -> StoreResult<DefinitionRow> {
        let sql = format!(
            "SELECT {COLUMNS} FROM workflow_definitions WHERE org_id = $1 AND workflow = $2 AND ($3 IS NULL OR version = $3) ORDER BY version DESC LIMIT 1"
        );
        on_db!(&self.db, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(workflow.to_owned())
                .bind(version)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound)?;
            definition_from_row!(&row).map_err(StoreError::from)
        })
    }

    /// How many open (not closed, not deleted) cases of `workflow` are in
    /// each state, per version: `(version, state, count)`.
    pub async fn open_case_counts(
        &self,
        org: Uuid,
        workflow: &str,
    ) -> StoreResult<Vec<(i64, String, i64)>> {
        let sql = "SELECT workflow_version, state, COUNT(*) AS n FROM cases \
                   WHERE org_id = $1 AND workflow = $2 AND closed_at IS NULL AND deleted_at IS NULL \
                   GROUP BY workflow_version, state ORDER BY workflow_version, state";
        scoped!(&self.db, Scope::Org(org), |conn| {
            let rows = sqlx::query(sql)
                .bind(org)
                .bind(workflow.to_owned())
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get("workflow_version")?,
                        row.try_get("state")?,
                        row.try_get("n")?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
