//! The outbox: effects written in the same transaction as their move, handed
//! to the job queue exactly once. Taking rows, queueing their jobs and marking
//! the rows dispatched commit together; a job's key is its outbox row, so even
//! a row dispatched twice (two processes) queues one job.

use apalis::prelude::TaskBuilder;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, Json, Store, StoreError, StoreResult, stored_time};

/// The apalis queue every caseflow job goes through.
pub const JOB_QUEUE: &str = "caseflow";

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub case_id: Uuid,
    /// The audit entry (the move) that wrote it.
    pub seq: i64,
    pub kind: String,
    pub payload: Value,
    pub available_at: DateTime<Utc>,
}

/// A job to queue: `key` makes it unique, `args` are its JSON.
#[derive(Debug, Clone)]
pub struct QueuedJob {
    pub key: String,
    pub args: Vec<u8>,
    pub run_at: DateTime<Utc>,
    /// How often it is tried before it is left failed (the dead letter).
    pub attempts: usize,
}

fn task(job: &QueuedJob) -> apalis_sqlite::SqliteTask {
    let run_at = u64::try_from(job.run_at.timestamp()).unwrap_or(0);
    TaskBuilder::new(job.args.clone())
        .run_at_timestamp(run_at)
        .idempotency_key(&job.key)
        .max_attempts(job.attempts)
        .build()
}

macro_rules! outbox_from_row {
    ($row:expr) => {{
        let row = $row;
        let payload: Json = row.try_get("payload")?;
        Ok::<OutboxRow, sqlx::Error>(OutboxRow {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            case_id: row.try_get("case_id")?,
            seq: row.try_get("seq")?,
            kind: row.try_get("kind")?,
            payload: payload.0,
            available_at: row.try_get("available_at")?,
        })
    }};
}

/// Oldest effects first, in the order of the `outbox_pending` index.
const PENDING: &str = "SELECT id, org_id, case_id, seq, kind, payload, available_at FROM outbox \
     WHERE status = 'pending' ORDER BY available_at, id LIMIT $1";

/// One statement marking every row taken.
fn mark_dispatched<DB: sqlx::Database>(
    rows: &[OutboxRow],
    now: DateTime<Utc>,
) -> sqlx::QueryBuilder<DB>
where
    Uuid: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut update =
        sqlx::QueryBuilder::new("UPDATE outbox SET status = 'dispatched', processed_at = ");
    update.push_bind(stored_time(now));
    update.push(" WHERE id IN (");
    let mut ids = update.separated(", ");
    for row in rows {
        ids.push_bind(row.id);
    }
    update.push(")");
    update
}

/// Queues `tasks` in apalis-sqlite's table with one statement, where
/// `apalis_sqlite::queries::push_tasks` sends one per task: the dispatcher
/// holds SQLite's one write connection meanwhile, and every group commit of
/// moves waits behind it. The row is the one apalis writes (its `sink.sql`),
/// and a key already queued is skipped as there.
async fn push_sqlite_tasks(
    tx: &mut sqlx::SqliteConnection,
    tasks: &[apalis_sqlite::SqliteTask],
) -> StoreResult<()> {
    for chunk in tasks.chunks(TASKS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::new("INSERT INTO Jobs ");
        insert.push_values(chunk, |mut row, task| {
            let id = task
                .task_id()
                .map_or_else(|| ulid::Ulid::generate().to_string(), ToString::to_string);
            let run_at = task.run_at().map_or_else(
                || Utc::now().timestamp(),
                |at| i64::try_from(at).unwrap_or(i64::MAX),
            );
            let metadata = serde_json::to_string(task.metadata()).unwrap_or_default();
            row.push_bind(task.args.clone())
                .push_bind(id)
                .push_bind(JOB_QUEUE)
                .push("'Pending', 0")
                .push_bind(task.max_attempts().unwrap_or(25) as i64)
                .push_bind(run_at)
                .push("NULL, NULL, NULL, NULL")
                .push_bind(task.priority().unwrap_or_default() as i64)
                .push_bind(metadata)
                .push_bind(task.idempotency_key().map(str::to_owned));
        });
        insert.push(" ON CONFLICT (job_type, idempotency_key) DO NOTHING");
        insert.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Jobs per INSERT, well under SQLite's bound-parameter limit (8 each).
const TASKS_PER_INSERT: usize = 500;

/// apalis refused our tasks: the queue's tables are not as expected.
fn queue_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("job queue: {error}"))
}

impl Store {
    /// Queues one job outside any move (a cron tick). Its key makes it
    /// unique: a second process queueing the same key adds nothing.
    pub async fn queue_job(&self, job: &QueuedJob) -> StoreResult<()> {
        match &self.writer {
            Db::Sqlite(pool) => {
                // Skipped on conflict (job_type, idempotency_key), as apalis does.
                let mut connection = pool.acquire().await?;
                push_sqlite_tasks(&mut connection, &[task(job)]).await
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                match apalis_postgres::queries::push_tasks(&mut *tx, JOB_QUEUE, vec![task(job)])
                    .await
                {
                    Ok(()) => {
                        tx.commit().await?;
                        Ok(())
                    }
                    // apalis-postgres has no ON CONFLICT: the unique key is the answer.
                    Err(apalis_postgres::Error::Database(sqlx::Error::Database(error)))
                        if error.is_unique_violation() =>
                    {
                        Ok(())
                    }
                    Err(error) => Err(queue_error(error)),
                }
            }
        }
    }

    /// Queues the jobs of up to `limit` pending outbox rows (`plan` says
    /// which) and marks the rows dispatched, all in one transaction.
    /// Returns how many rows it took.
    pub async fn dispatch_outbox(
        &self,
        limit: i64,
        now: DateTime<Utc>,
        plan: impl Fn(&OutboxRow) -> Vec<QueuedJob>,
    ) -> StoreResult<usize> {
        match &self.writer {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query(PENDING).bind(limit).fetch_all(&mut *tx).await?;
                let rows = rows
                    .iter()
                    .map(|row| outbox_from_row!(row))
                    .collect::<Result<Vec<_>, _>>()?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let tasks: Vec<_> = rows.iter().flat_map(&plan).map(|job| task(&job)).collect();
                push_sqlite_tasks(&mut tx, &tasks).await?;
                mark_dispatched(&rows, now)
                    .build()
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.len())
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                super::enter_scope(&mut tx, super::Scope::All).await?;
                // Another process dispatching at the same time takes other rows.
                let sql = format!("{PENDING} FOR UPDATE SKIP LOCKED");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                let rows = rows
                    .iter()
                    .map(|row| outbox_from_row!(row))
                    .collect::<Result<Vec<_>, _>>()?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let tasks: Vec<_> = rows.iter().flat_map(&plan).map(|job| task(&job)).collect();
                if !tasks.is_empty() {
                    apalis_postgres::queries::push_tasks(&mut *tx, JOB_QUEUE, tasks)
                        .await
                        .map_err(queue_error)?;
                }
                mark_dispatched(&rows, now)
                    .build()
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.len())
            }
        }
    }
}
