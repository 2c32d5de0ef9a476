//! Group commit: one writer per process takes the case writes that arrive
//! together and applies them in one transaction, acknowledging each only
//! after the commit. A move whose case moved on fails alone; an unexpected
//! error sends every write of the batch through again on its own, so one bad
//! write never sinks the others.

use tokio::sync::{mpsc, oneshot};

use super::cases::{COLUMNS, Move, NewCase};
use super::{Db, Json, StoreError, StoreResult, on_db};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

pub(super) enum WriteOp {
    Insert(Box<NewCase>),
    Move(Box<Move>),
}

struct Job {
    op: WriteOp,
    done: oneshot::Sender<StoreResult<()>>,
}

/// The handle through which every case write goes.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub(super) fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(db, queue));
        Self { jobs }
    }

    pub(super) async fn write(&self, op: WriteOp) -> StoreResult<()> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Job { op, done })
            .await
            .map_err(|_| StoreError::Conflict("the database writer has stopped".to_owned()))?;
        result.await.unwrap_or_else(|_| {
            Err(StoreError::Conflict(
                "the database writer has stopped".to_owned(),
            ))
        })
    }
}

async fn run(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let ops: Vec<&WriteOp> = jobs.iter().map(|job| &job.op).collect();
        match apply(&db, &ops).await {
            Ok(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.done.send(result);
                }
            }
            Err(_) if jobs.len() > 1 => {
                for job in jobs {
                    let result = match apply(&db, &[&job.op]).await {
                        Ok(mut results) => results.pop().unwrap_or(Ok(())),
                        Err(error) => Err(error),
                    };
                    let _ = job.done.send(result);
                }
            }
            Err(error) => {
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.done.send(Err(error));
                }
            }
        }
    }
}

const UPDATE: &str = "UPDATE cases SET state = $1, data = $2, version = version + 1, audit_hash = $3, updated_at = $4, updated_by = $5, closed_at = $6, closed_by = $7 WHERE org_id = $8 AND id = $9 AND version = $10";

/// Applies `ops` in one transaction; the outer error means nothing was written.
async fn apply(db: &Db, ops: &[&WriteOp]) -> StoreResult<Vec<StoreResult<()>>> {
    let insert_case = format!(
        "INSERT INTO cases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let mut results = Vec::with_capacity(ops.len());
        let mut audits = Vec::new();
        let mut outbox = Vec::new();
        for op in ops {
            match op {
                WriteOp::Insert(new) => {
                    let case = &new.record;
                    sqlx::query(sqlx::AssertSqlSafe(insert_case.clone()))
                        .bind(case.id)
                        .bind(case.org_id)
                        .bind(case.workflow.clone())
                        .bind(case.workflow_version)
                        .bind(case.state.clone())
                        .bind(case.version)
                        .bind(Json::from(case.data.clone()))
                        .bind(case.audit_hash.clone())
                        .bind(case.created_at)
                        .bind(case.created_by.clone())
                        .bind(case.updated_at)
                        .bind(case.updated_by.clone())
                        .bind(case.closed_at)
                        .bind(case.legal_hold)
                        .execute(&mut *tx)
                        .await
                        .map_err(|error| {
                            StoreError::from_write(error, "a case with this id exists")
                        })?;
                    audits.push(&new.audit);
                    outbox.extend(
                        new.outbox
                            .iter()
                            .map(|item| (item, &new.audit, case.created_at)),
                    );
                    results.push(Ok(()));
                }
                WriteOp::Move(change) => {
                    let (closed_at, closed_by) = if change.closed {
                        (Some(change.at), Some(change.actor.clone()))
                    } else {
                        (None, None)
                    };
                    let updated = sqlx::query(UPDATE)
                        .bind(change.state.clone())
                        .bind(Json::from(change.data.clone()))
                        .bind(change.audit.hash.clone())
                        .bind(change.at)
                        .bind(change.actor.clone())
                        .bind(closed_at)
                        .bind(closed_by)
                        .bind(change.org_id)
                        .bind(change.case_id)
                        .bind(change.from_version)
                        .execute(&mut *tx)
                        .await?;
                    if updated.rows_affected() == 1 {
                        audits.push(&change.audit);
                        outbox.extend(
                            change
                                .outbox
                                .iter()
                                .map(|item| (item, &change.audit, change.at)),
                        );
                        results.push(Ok(()));
                    } else {
                        results.push(Err(StoreError::Conflict(format!(
                            "the case is no longer at version {}",
                            change.from_version
                        ))));
                    }
                }
            }
        }
        if !audits.is_empty() {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash) ",
            );
            insert.push_values(&audits, |mut row, entry| {
                row.push_bind(entry.case_id)
                    .push_bind(entry.seq)
                    .push_bind(entry.org_id)
                    .push_bind(entry.transition.clone())
                    .push_bind(entry.from.clone())
                    .push_bind(entry.to.clone())
                    .push_bind(entry.actor.clone())
                    .push_bind(entry.form.clone().map(sqlx::types::Json))
                    .push_bind(Json::from(entry.changes.clone()))
                    .push_bind(Json::from(entry.reasons.clone()))
                    .push_bind(entry.request_id.clone())
                    .push_bind(entry.at)
                    .push_bind(entry.prev_hash.clone())
                    .push_bind(entry.hash.clone());
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|error| StoreError::from_write(error, "audit entry already written"))?;
        }
        if !outbox.is_empty() {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO outbox (id, org_id, case_id, seq, kind, payload, created_at, available_at) ",
            );
            insert.push_values(&outbox, |mut row, (item, audit, at)| {
                row.push_bind(item.id)
                    .push_bind(audit.org_id)
                    .push_bind(audit.case_id)
                    .push_bind(audit.seq)
                    .push_bind(item.kind.clone())
                    .push_bind(Json::from(item.payload.clone()))
                    .push_bind(*at)
                    .push_bind(item.available_at);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(results)
    })
}
