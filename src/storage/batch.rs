//! Group commit: a writer takes the case writes that arrive together and
//! applies them in one transaction, acknowledging each only after the commit.
//! A move whose case moved on fails alone; an unexpected error sends every
//! write of the batch through again on its own, so one bad write never sinks
//! the others. SQLite has one writer; PostgreSQL several, each committing its
//! own batch, where the version check still lets only one move per version win.

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::access::CaseRead;
use super::cases::{COLUMNS, Move, NewCase};
use super::{Db, Json, StoreError, StoreResult, on_db};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

pub(super) enum WriteOp {
    Insert(Box<NewCase>),
    Move(Box<Move>),
    /// Access-log rows; nobody waits for them.
    Reads(Vec<CaseRead>),
}

/// Access-log rows per INSERT, well under SQLite's bound-parameter limit.
const READS_PER_INSERT: usize = 1000;

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
    /// Starts `writers` writer tasks on the current runtime, sharing one
    /// queue: SQLite takes one writer at a time, while PostgreSQL commits
    /// several batches at once and so hides each commit's wait.
    pub(super) fn start(db: Db, writers: usize) -> Self {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 4);
        let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(db.clone(), queue.clone()));
        }
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

    /// Writes queued and not yet taken by a writer.
    pub(super) fn waiting(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Queues a write without waiting for its commit.
    pub(super) async fn enqueue(&self, op: WriteOp) {
        let (done, _) = oneshot::channel();
        if self.jobs.send(Job { op, done }).await.is_err() {
            tracing::warn!("the database writer has stopped; an access-log entry is lost");
        }
    }
}

async fn run(db: Db, queue: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Hold the queue only while taking a batch, so another writer can
        // take the next one while this one commits.
        let taken = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
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

/// Applies `ops` in one transaction; the outer error means nothing was written.
async fn apply(db: &Db, ops: &[&WriteOp]) -> StoreResult<Vec<StoreResult<()>>> {
    let mut results: Vec<StoreResult<()>> = Vec::with_capacity(ops.len());
    let mut inserts = Vec::new();
    let mut moves: Vec<(usize, &Move)> = Vec::new();
    let mut reads: Vec<&CaseRead> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        results.push(Ok(()));
        match op {
            WriteOp::Insert(new) => inserts.push(new.as_ref()),
            WriteOp::Move(change) => moves.push((index, change.as_ref())),
            WriteOp::Reads(rows) => reads.extend(rows),
        }
    }
    // Of several moves on one case, only the one read at the newest version can
    // still apply: the version only grows, so every other one is stale.
    let mut newest: HashMap<Uuid, (usize, i64)> = HashMap::new();
    for (index, change) in &moves {
        let entry = newest
            .entry(change.case_id)
            .or_insert((*index, change.from_version));
        if change.from_version > entry.1 {
            *entry = (*index, change.from_version);
        }
    }
    moves.retain(|(index, change)| {
        newest
            .get(&change.case_id)
            .is_some_and(|(kept, _)| kept == index)
    });

    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        if let Db::Postgres(_) = db {
            // The writer applies moves of every organisation, already authorised.
            sqlx::query("SELECT set_config('caseflow.org', 'all', true)")
                .execute(&mut *tx)
                .await?;
        }
        if !inserts.is_empty() {
            let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO cases ({COLUMNS}) "));
            insert.push_values(&inserts, |mut row, new| {
                let case = &new.record;
                row.push_bind(case.id)
                    .push_bind(case.org_id)
                    .push_bind(case.workflow.clone())
                    .push_bind(case.workflow_version)
                    .push_bind(case.state.clone())
                    .push_bind(case.version)
                    .push_bind(Json::from(case.data.clone()))
                    .push_bind(case.audit_hash.clone())
                    .push_bind(case.created_at)
                    .push_bind(case.created_by.clone())
                    .push_bind(case.updated_at)
                    .push_bind(case.updated_by.clone())
                    .push_bind(case.closed_at)
                    .push_bind(case.legal_hold);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|error| StoreError::from_write(error, "a case with this id exists"))?;
        }
        let mut applied: HashSet<Uuid> = HashSet::new();
        if !moves.is_empty() {
            // One statement for every move: VALUES columns are column1..column10 on both databases.
            let mut update = sqlx::QueryBuilder::new(
                "UPDATE cases SET state = v.column3, data = v.column4, version = version + 1, \
                 audit_hash = v.column5, updated_at = v.column6, updated_by = v.column7, \
                 closed_at = v.column8, closed_by = v.column9 FROM (",
            );
            update.push_values(&moves, |mut row, (_, change)| {
                let (closed_at, closed_by) = if change.closed {
                    (Some(change.at), Some(change.actor.clone()))
                } else {
                    (None, None)
                };
                row.push_bind(change.case_id)
                    .push_bind(change.from_version)
                    .push_bind(change.state.clone())
                    .push_bind(Json::from(change.data.clone()))
                    .push_bind(change.audit.hash.clone())
                    .push_bind(change.at)
                    .push_bind(change.actor.clone())
                    .push_bind(closed_at)
                    .push_bind(closed_by)
                    .push_bind(change.org_id);
            });
            update.push(match db {
                // Left to itself, SQLite 3.51 scans every case and probes the
                // VALUES list; the unary `+` keeps the version and organisation
                // out of index choice, so it walks the list and seeks each id.
                Db::Sqlite(_) => {
                    ") AS v WHERE cases.id = v.column1 AND +cases.version = v.column2 AND +cases.org_id = v.column10 RETURNING id"
                }
                Db::Postgres(_) => {
                    ") AS v WHERE cases.id = v.column1 AND cases.version = v.column2 AND cases.org_id = v.column10 RETURNING id"
                }
            });
            let rows = update.build().fetch_all(&mut *tx).await?;
            for row in &rows {
                applied.insert(row.try_get::<Uuid, _>("id")?);
            }
        }
        let mut audits = Vec::new();
        let mut outbox = Vec::new();
        for new in &inserts {
            audits.push(&new.audit);
            outbox.extend(
                new.outbox
                    .iter()
                    .map(|item| (item, &new.audit, new.record.created_at)),
            );
        }
        for (_, change) in &moves {
            if applied.contains(&change.case_id) {
                audits.push(&change.audit);
                outbox.extend(
                    change
                        .outbox
                        .iter()
                        .map(|item| (item, &change.audit, change.at)),
                );
            }
        }
        for (index, op) in ops.iter().enumerate() {
            if let WriteOp::Move(change) = op {
                let kept = newest
                    .get(&change.case_id)
                    .is_some_and(|(kept, _)| *kept == index);
                if !(kept && applied.contains(&change.case_id)) {
                    results[index] = Err(StoreError::Conflict(format!(
                        "the case is no longer at version {}",
                        change.from_version
                    )));
                }
            }
        }
        if !audits.is_empty() {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_entries (case_id, seq, org_id, transition, from_state, to_state, actor, form, changes, reasons, request_id, recorded_at, prev_hash, hash, hash_scheme) ",
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
                    .push_bind(entry.hash.clone())
                    .push_bind(entry.hash_scheme);
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
        for chunk in reads.chunks(READS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO case_reads (org_id, case_id, reader, what, request_id, at) ",
            );
            insert.push_values(chunk, |mut row, read| {
                row.push_bind(read.org_id)
                    .push_bind(read.case_id)
                    .push_bind(read.reader.clone())
                    .push_bind(read.what.clone())
                    .push_bind(read.request_id.clone())
                    .push_bind(read.at);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(results)
    })
}
