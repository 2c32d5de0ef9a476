//! Group commit: a writer takes the case writes that arrive together and
//! applies them in one transaction, acknowledging each only after the commit.
//! A move whose case moved on fails alone; an unexpected error sends every
//! write of the batch through again on its own, so one bad write never sinks
//! the others. SQLite has one writer; PostgreSQL several, each committing its
//! own batch, where the version check still lets only one move per version win.
//! Access-log rows wait beside the queue and ride along (`reads`).

mod held;
mod postgres;
mod reads;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use super::access::{CaseRead, Delivery};
use super::audit::AuditEntry;
use super::cases::{Move, NewCase, OutboxItem};
use super::connect::SqliteFile;
use super::{Db, StoreError, StoreResult, on_db};
use held::{Held, IDLE_BEFORE_RELEASE};
use reads::ReadLog;

/// The most writes one transaction takes.
pub(super) const MAX_BATCH: usize = 256;

pub(super) enum WriteOp {
    Insert(Box<NewCase>, JsonText),
    Move(Box<Move>, JsonText),
    Notify(Box<Delivery>),
    /// Commits the buffered access log now; awaited by whoever needs it written.
    Flush,
    /// Tells an idle writer that access-log rows wait; nobody waits for it.
    Nudge,
}

impl WriteOp {
    pub fn insert(new: NewCase) -> Self {
        let text = JsonText::of(&new.record.data, &new.audit);
        Self::Insert(Box::new(new), text)
    }

    pub fn moving(change: Move, data: &Value) -> Self {
        let text = JsonText::of(data, &change.audit);
        Self::Move(Box::new(change), text)
    }
}

/// A write's JSON columns as text, serialised by the caller's task: every
/// write waits on the one writer, so it should only have to bind them.
pub(super) struct JsonText {
    pub data: Arc<str>,
    pub form: Option<Arc<str>>,
    pub changes: Arc<str>,
    pub reasons: Arc<str>,
}

impl JsonText {
    fn of(data: &Value, audit: &AuditEntry) -> Self {
        // Not `Display`, which goes through the formatter a piece at a time.
        let text = |value: &Value| -> Arc<str> {
            Arc::from(serde_json::to_string(value).expect("a JSON value always serialises"))
        };
        Self {
            data: text(data),
            form: audit.form.as_ref().map(text),
            changes: text(&audit.changes),
            reasons: text(&audit.reasons),
        }
    }
}

struct Job {
    op: WriteOp,
    done: oneshot::Sender<Done>,
}

/// A write's outcome, with the write itself handed back so that its memory is
/// freed by the thread that allocated it: freed on the writer's thread, each
/// block went back through the allocator's cross-thread path, and collecting
/// those frees was 7.6% of the bench's time (BENCHMARKS.md, session 9).
struct Done {
    result: StoreResult<()>,
    _op: WriteOp,
}

impl Job {
    fn answer(self, result: StoreResult<()>) {
        let _ = self.done.send(Done {
            result,
            _op: self.op,
        });
    }
}

/// The handle through which every case write goes.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    db: Db,
    counts: Arc<Counts>,
    reads: Arc<ReadLog>,
}

/// Transactions committed and writes taken, for `caseflow bench` to report
/// how well moves group.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    writes: AtomicU64,
}

impl Writer {
    /// Starts `writers` writer tasks on a runtime of their own, sharing one
    /// queue: SQLite takes one writer at a time, while PostgreSQL commits
    /// several batches at once and so hides each commit's wait.
    ///
    /// The writers get their own thread because on the shared runtime a
    /// writer woken by its database waited behind every request the last
    /// commit had just released, and the database sat idle meanwhile.
    /// `connect` runs there too, so a PostgreSQL connection is driven by the
    /// runtime that uses it.
    /// On SQLite, `file` is how the writer opens its own connection.
    /// A transaction takes at most `per_commit` writes (`MAX_BATCH`, or 1 for
    /// the bench's reference without group commit).
    pub(super) async fn start<C>(
        connect: C,
        writers: usize,
        per_commit: usize,
        file: Option<SqliteFile>,
    ) -> StoreResult<Self>
    where
        C: Future<Output = StoreResult<Db>> + Send + 'static,
    {
        let per_commit = per_commit.clamp(1, MAX_BATCH);
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 4);
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let counts = Arc::new(Counts::default());
        let reads = Arc::new(ReadLog::default());
        let (connected, db) = oneshot::channel();
        let shared = counts.clone();
        let pending = reads.clone();
        std::thread::Builder::new()
            .name("caseflow-writer".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = connected.send(Err(StoreError::Database(sqlx::Error::Io(error))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let db = match connect.await {
                        Ok(db) => db,
                        Err(error) => {
                            let _ = connected.send(Err(error));
                            return;
                        }
                    };
                    let tasks: Vec<_> = (0..writers.max(1))
                        .map(|_| {
                            tokio::spawn(run(
                                db.clone(),
                                queue.clone(),
                                shared.clone(),
                                pending.clone(),
                                Held::new(file.clone()),
                                per_commit,
                            ))
                        })
                        .collect();
                    let _ = connected.send(Ok(db));
                    for task in tasks {
                        let _ = task.await;
                    }
                });
            })
            .map_err(|error| StoreError::Database(sqlx::Error::Io(error)))?;
        let db = db
            .await
            .map_err(|_| StoreError::Conflict("the database writer did not start".to_owned()))??;
        Ok(Self {
            jobs,
            db,
            counts,
            reads,
        })
    }

    /// Batches taken so far and the writes in them.
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.counts.batches.load(Ordering::Relaxed),
            self.counts.writes.load(Ordering::Relaxed),
        )
    }

    /// Waits for the writes queued so far to commit, then closes the writer's connections.
    pub(super) async fn close(&self) {
        self.flush().await;
        on_db!(&self.db, |pool| pool.close().await);
    }

    /// Waits until the access-log rows buffered so far are committed.
    pub(super) async fn flush(&self) {
        if let Err(error) = self.write(WriteOp::Flush).await {
            tracing::warn!(%error, "the access log could not be written");
        }
        // Another writer may have taken rows just before this flush's batch.
        self.reads.settled().await;
    }

    pub(super) async fn write(&self, op: WriteOp) -> StoreResult<()> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Job { op, done })
            .await
            .map_err(|_| StoreError::Conflict("the database writer has stopped".to_owned()))?;
        match result.await {
            Ok(done) => done.result,
            Err(_) => Err(StoreError::Conflict(
                "the database writer has stopped".to_owned(),
            )),
        }
    }

    /// Writes queued and not yet taken by a writer.
    pub(super) fn waiting(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Buffers access-log rows for a coming commit, without waiting for it.
    pub(super) async fn log_reads(&self, reads: Vec<CaseRead>) {
        if self.reads.push(reads) {
            let (done, _) = oneshot::channel();
            let job = Job {
                op: WriteOp::Nudge,
                done,
            };
            if self.jobs.send(job).await.is_err() {
                tracing::warn!("the database writer has stopped; access-log entries are lost");
            }
        }
    }
}

async fn run(
    db: Db,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    counts: Arc<Counts>,
    log: Arc<ReadLog>,
    mut held: Held,
    per_commit: usize,
) {
    let pending_reads = || log.lock();
    let mut batch = Vec::with_capacity(per_commit);
    loop {
        // Hold the queue only while taking a batch, so another writer can
        // take the next one while this one commits.
        let taken = {
            let mut queue = queue.lock().await;
            // The pool's write connection is kept through a short pause (see `Held`).
            let soon = if queue.is_empty() && held.holds() {
                let next = queue.recv_many(&mut batch, per_commit);
                tokio::time::timeout(IDLE_BEFORE_RELEASE, next).await.ok()
            } else {
                None
            };
            if soon.is_some() {
                soon
            } else {
                if queue.is_empty() {
                    held.release();
                }
                // Read only now: rows may have come while another writer held the queue.
                let due = pending_reads().due();
                let next = queue.recv_many(&mut batch, per_commit);
                match due {
                    Some(due) => tokio::time::timeout_at(due, next).await.ok(),
                    None => Some(next.await),
                }
            }
        };
        if taken == Some(0) {
            // Every sender is gone: write what the log still holds, then stop.
            let (take, reads) = pending_reads().take();
            if !reads.is_empty() {
                apply_reads_alone(&db, &mut held, &reads).await;
            }
            log.settle(take, &reads);
            return;
        }
        batch.retain(|job| !matches!(job.op, WriteOp::Nudge));
        let reads_due = pending_reads()
            .due()
            .is_some_and(|due| due <= Instant::now());
        if batch.is_empty() && !reads_due {
            continue;
        }
        let (take, reads) = pending_reads().take();
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts
            .writes
            .fetch_add((batch.len() + reads.len()) as u64, Ordering::Relaxed);
        let jobs = std::mem::take(&mut batch);
        let ops: Vec<&WriteOp> = jobs.iter().map(|job| &job.op).collect();
        match apply(&db, &mut held, &ops, &reads).await {
            Ok(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    job.answer(result);
                }
            }
            Err(error) if jobs.len() == 1 && reads.is_empty() => {
                if let Some(job) = jobs.into_iter().next() {
                    job.answer(Err(error));
                }
            }
            Err(_) => {
                held.release();
                // Find the write at fault by trying each on its own.
                for job in jobs {
                    let result = match apply(&db, &mut held, &[&job.op], &[]).await {
                        Ok(mut results) => results.pop().unwrap_or(Ok(())),
                        Err(error) => Err(error),
                    };
                    job.answer(result);
                }
                if !reads.is_empty() {
                    apply_reads_alone(&db, &mut held, &reads).await;
                }
            }
        }
        log.settle(take, &reads);
        held.checkpoint_if_asked();
    }
}

/// Commits access-log rows in a transaction of their own; a failure loses
/// them, with a warning, rather than a case write.
async fn apply_reads_alone(db: &Db, held: &mut Held, reads: &[CaseRead]) {
    if let Err(error) = apply(db, held, &[], reads).await {
        tracing::warn!(%error, rows = reads.len(), "access-log entries could not be written and are lost");
    }
}

/// What one batch writes, each move already the only one left for its case.
pub(super) struct Rows<'a> {
    pub inserts: Vec<(&'a NewCase, &'a JsonText)>,
    pub moves: Vec<(&'a Move, &'a JsonText)>,
    pub reads: Vec<&'a CaseRead>,
    pub notifications: Vec<&'a Delivery>,
}

/// An audit entry with its JSON columns.
pub(super) type AuditRow<'a> = (&'a AuditEntry, &'a JsonText);

/// An outbox row with the audit entry it came from and when it was written.
pub(super) type OutboxRow<'a> = (&'a OutboxItem, &'a AuditEntry, DateTime<Utc>);

impl<'a> Rows<'a> {
    /// The audit entries and outbox rows of the new cases and of the moves that applied.
    pub fn written(&self, applied: &HashSet<Uuid>) -> (Vec<AuditRow<'a>>, Vec<OutboxRow<'a>>) {
        let mut audits = Vec::new();
        let mut outbox = Vec::new();
        for &(new, text) in &self.inserts {
            audits.push((&new.audit, text));
            outbox.extend(
                new.outbox
                    .iter()
                    .map(|item| (item, &new.audit, new.record.created_at)),
            );
        }
        for &(change, text) in &self.moves {
            if applied.contains(&change.case_id) {
                audits.push((&change.audit, text));
                outbox.extend(
                    change
                        .outbox
                        .iter()
                        .map(|item| (item, &change.audit, change.at)),
                );
            }
        }
        (audits, outbox)
    }
}

/// Applies `ops` and `reads` in one transaction; the outer error means nothing was written.
async fn apply(
    db: &Db,
    held: &mut Held,
    ops: &[&WriteOp],
    reads: &[CaseRead],
) -> StoreResult<Vec<StoreResult<()>>> {
    let mut rows = Rows {
        inserts: Vec::new(),
        moves: Vec::new(),
        reads: reads.iter().collect(),
        notifications: Vec::new(),
    };
    // Of several moves on one case, only the one read at the newest version can
    // still apply: the version only grows, so every other one is stale.
    let mut newest: HashMap<Uuid, (usize, i64)> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        match op {
            WriteOp::Insert(new, text) => rows.inserts.push((new.as_ref(), text)),
            WriteOp::Move(change, _) => {
                let entry = newest
                    .entry(change.case_id)
                    .or_insert((index, change.from_version));
                if change.from_version > entry.1 {
                    *entry = (index, change.from_version);
                }
            }
            WriteOp::Notify(delivery) => rows.notifications.push(delivery),
            WriteOp::Flush | WriteOp::Nudge => {}
        }
    }
    let kept = |index: usize, change: &Move| {
        newest
            .get(&change.case_id)
            .is_some_and(|(kept, _)| *kept == index)
    };
    for (index, op) in ops.iter().enumerate() {
        if let WriteOp::Move(change, text) = op
            && kept(index, change)
        {
            rows.moves.push((change, text));
        }
    }
    let applied = match db {
        Db::Sqlite(pool) => sqlite::write_batch(held.take(pool).await?, &rows)?,
        Db::Postgres(pool) => postgres::write(pool, &rows).await?,
    };
    Ok(ops
        .iter()
        .enumerate()
        .map(|(index, op)| match op {
            WriteOp::Move(change, _)
                if !(kept(index, change) && applied.contains(&change.case_id)) =>
            {
                Err(StoreError::Conflict(format!(
                    "the case is no longer at version {}",
                    change.from_version
                )))
            }
            _ => Ok(()),
        })
        .collect())
}
