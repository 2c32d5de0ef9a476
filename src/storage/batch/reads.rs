//! The access log's buffer beside the group commit's queue: a read costs a
//! push onto a vector; its rows ride along with the next batch of case
//! writes, or are committed on their own once the oldest has waited
//! [`READS_LINGER`].

use std::time::Duration;

use tokio::time::Instant;

use crate::storage::access::CaseRead;

/// How long an access-log row may wait for a batch of case writes to ride
/// along with before it is committed on its own: the most of the log a crash
/// can lose.
const READS_LINGER: Duration = Duration::from_millis(100);

/// Buffered access-log rows at which the writer commits them without waiting
/// out [`READS_LINGER`].
const READS_FLUSH_AT: usize = 2000;

/// Access-log rows not yet taken by a writer.
#[derive(Debug, Default)]
pub(super) struct PendingReads {
    rows: Vec<CaseRead>,
    /// When the oldest row arrived.
    since: Option<Instant>,
    /// Numbers of the takes whose rows are not yet committed (PostgreSQL has
    /// several writers, so a flush must wait for the others' too).
    in_flight: Vec<u64>,
    /// The number the next take gets.
    next_take: u64,
}

impl PendingReads {
    /// When the rows must be committed, whatever else arrives.
    pub(super) fn due(&self) -> Option<Instant> {
        if self.rows.len() >= READS_FLUSH_AT {
            return Some(Instant::now());
        }
        self.since.map(|since| since + READS_LINGER)
    }

    /// The buffered rows, with the number to [`ReadLog::settle`] them by.
    pub(super) fn take(&mut self) -> (u64, Vec<CaseRead>) {
        self.since = None;
        let take = self.next_take;
        let rows = std::mem::take(&mut self.rows);
        if !rows.is_empty() {
            self.next_take += 1;
            self.in_flight.push(take);
        }
        (take, rows)
    }
}

/// The access-log buffer, shared by the handle and every writer.
#[derive(Debug, Default)]
pub(super) struct ReadLog {
    pending: std::sync::Mutex<PendingReads>,
    /// Told whenever a batch's taken rows are committed (or given up).
    settled: tokio::sync::Notify,
}

impl ReadLog {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, PendingReads> {
        self.pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds rows; true when the writer should be told: an idle one learns of
    /// the first row, to time its linger, and of the pile reaching
    /// [`READS_FLUSH_AT`]; a busy one finds the rows at its next batch anyway.
    pub(super) fn push(&self, rows: Vec<CaseRead>) -> bool {
        let mut pending = self.lock();
        let before = pending.rows.len();
        pending.rows.extend(rows);
        if before == 0 {
            pending.since = Some(Instant::now());
        }
        before == 0 || (before < READS_FLUSH_AT && pending.rows.len() >= READS_FLUSH_AT)
    }

    /// Marks the rows of take `take` as written or lost.
    pub(super) fn settle(&self, take: u64, rows: &[CaseRead]) {
        if !rows.is_empty() {
            self.lock().in_flight.retain(|held| *held != take);
            self.settled.notify_waiters();
        }
    }

    /// Waits until every take made so far is settled; later ones need not be.
    pub(super) async fn settled(&self) {
        let before = self.lock().next_take;
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().in_flight.iter().all(|held| *held >= before) {
                return;
            }
            notified.await;
        }
    }
}
