//! The dead letters: jobs that used up their attempts, read from apalis's
//! tables and put back in the queue on request. Jobs are not organisation
//! rows, so each is matched to its organisation through its own `org`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, Store, StoreError, StoreResult, on_db, outbox::JOB_QUEUE};

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct FailedJob {
    pub id: String,
    /// The job as queued: `{"job": "deadline" | "notify" | "start_case", ...}`.
    #[schema(value_type = Object)]
    pub job: Value,
    /// `Failed`, or `Killed` when it was cut off.
    pub status: String,
    pub attempts: i64,
    /// What the last attempt said.
    pub last_result: Option<String>,
    pub run_at: Option<DateTime<Utc>>,
}

const FAILED: [&str; 2] = ["Failed", "Killed"];

/// One failed job of ours, by id (`$1`); `$2..$4` bind the queue and [`FAILED`].
const FAILED_BY_ID: &str = "WHERE id = $1 AND job_type = $2 AND status IN ($3, $4)";

macro_rules! failed_from_row {
    ($row:expr) => {{
        let row = $row;
        let job: Vec<u8> = row.try_get("job")?;
        let run_at: Option<i64> = row.try_get("run_at_secs")?;
        Ok::<FailedJob, sqlx::Error>(FailedJob {
            id: row.try_get("id")?,
            job: serde_json::from_slice(&job).unwrap_or(Value::Null),
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            last_result: row.try_get("last_result")?,
            run_at: run_at.and_then(|secs| DateTime::from_timestamp(secs, 0)),
        })
    }};
}

fn of_org(job: &Value, org: Uuid) -> bool {
    job.get("org").and_then(Value::as_str) == Some(org.to_string().as_str())
}

impl Store {
    /// apalis's table of jobs in this database.
    pub fn job_table(&self) -> &'static str {
        match self.writer {
            Db::Sqlite(_) => "Jobs",
            Db::Postgres(_) => "apalis.jobs",
        }
    }

    /// The jobs of `org` that failed for good, newest first.
    pub async fn failed_jobs(&self, org: Uuid, limit: i64) -> StoreResult<Vec<FailedJob>> {
        let rows = match &self.writer {
            Db::Sqlite(pool) => sqlx::query(
                "SELECT id, job, status, attempts, CAST(last_result AS TEXT) AS last_result, run_at AS run_at_secs \
                 FROM Jobs WHERE job_type = $1 AND status IN ($2, $3) ORDER BY run_at DESC LIMIT 1000",
            )
            .bind(JOB_QUEUE)
            .bind(FAILED[0])
            .bind(FAILED[1])
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| failed_from_row!(row))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
            Db::Postgres(pool) => sqlx::query(
                "SELECT id, job, status, attempts::bigint AS attempts, last_result::text AS last_result, \
                 EXTRACT(EPOCH FROM run_at)::bigint AS run_at_secs \
                 FROM apalis.jobs WHERE job_type = $1 AND status IN ($2, $3) ORDER BY run_at DESC LIMIT 1000",
            )
            .bind(JOB_QUEUE)
            .bind(FAILED[0])
            .bind(FAILED[1])
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| failed_from_row!(row))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
        };
        Ok(rows
            .into_iter()
            .filter(|job| of_org(&job.job, org))
            .take(usize::try_from(limit.clamp(1, 1000)).unwrap_or(100))
            .collect())
    }

    /// Puts a failed job of `org` back in the queue with fresh attempts;
    /// `NotFound` when `org` has no failed job by that id.
    pub async fn retry_job(&self, org: Uuid, id: &str) -> StoreResult<()> {
        let table = self.job_table();
        let sql = format!("SELECT job FROM {table} {FAILED_BY_ID}");
        let payload: Option<Vec<u8>> = on_db!(&self.writer, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .bind(JOB_QUEUE)
                .bind(FAILED[0])
                .bind(FAILED[1])
                .fetch_optional(pool)
                .await?
        });
        let job: Value = payload
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        if !of_org(&job, org) {
            return Err(StoreError::NotFound);
        }
        let now = match self.writer {
            Db::Sqlite(_) => "strftime('%s', 'now')",
            Db::Postgres(_) => "now()",
        };
        let sql = format!(
            "UPDATE {table} SET status = 'Pending', attempts = 0, run_at = {now}, \
             done_at = NULL, lock_at = NULL, lock_by = NULL {FAILED_BY_ID}"
        );
        let changed = on_db!(&self.writer, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .bind(JOB_QUEUE)
                .bind(FAILED[0])
                .bind(FAILED[1])
                .execute(pool)
                .await?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
