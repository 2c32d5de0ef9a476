//! Turning outbox rows into jobs, a batch at a time, until told to stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Job;
use crate::engine::Effect;
use crate::service::Service;
use crate::storage::{OutboxRow, QueuedJob};

/// How often the dispatcher looks for new effects when it found none.
const IDLE_POLL: Duration = Duration::from_millis(200);
const BATCH: i64 = 64;
/// How long dispatch waits for a busy group commit, a little at a time.
const YIELD_AT_MOST: Duration = Duration::from_secs(1);
const YIELD_PAUSE: Duration = Duration::from_millis(10);

/// The jobs an outbox row becomes: a deadline runs when due, the rest now.
/// Cancelled deadlines need no job: a deadline finds its case moved on.
pub fn plan(row: &OutboxRow, attempts: usize) -> Vec<QueuedJob> {
    let effect: Effect = match serde_json::from_value(row.payload.clone()) {
        Ok(effect) => effect,
        Err(error) => {
            tracing::error!(outbox = %row.id, %error, "an outbox row that is not an effect");
            return Vec::new();
        }
    };
    let (job, run_at) = match effect {
        Effect::ScheduleDeadline { state, index, due } => (
            Job::Deadline {
                org: row.org_id,
                case: row.case_id,
                state,
                index,
                entered: row.seq,
            },
            due,
        ),
        Effect::Notify {
            template,
            roles,
            to,
        } => (
            Job::Notify {
                org: row.org_id,
                case: row.case_id,
                seq: row.seq,
                template,
                roles,
                to,
                key: row.id.to_string(),
            },
            row.available_at,
        ),
        Effect::StartCase { workflow, data } => (
            Job::StartCase {
                org: row.org_id,
                workflow,
                data,
                id: Some(row.id),
            },
            row.available_at,
        ),
        Effect::FireLinked {
            case,
            transition,
            form,
            ..
        } => (
            Job::FireLinked {
                org: row.org_id,
                case,
                transition,
                form,
                key: row.id.to_string(),
            },
            row.available_at,
        ),
        // Written by versions before cancellations stopped going to the outbox.
        Effect::CancelDeadlines { .. } => return Vec::new(),
    };
    match serde_json::to_vec(&job) {
        Ok(args) => vec![QueuedJob {
            key: row.id.to_string(),
            args,
            run_at,
            attempts,
        }],
        Err(error) => {
            tracing::error!(outbox = %row.id, %error, "cannot encode a job");
            Vec::new()
        }
    }
}

pub(super) async fn dispatch_loop(
    service: Arc<Service>,
    attempts: usize,
    mut stopped: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut last_run = Instant::now();
    loop {
        // Moves people are waiting for go first: while the group commit has a
        // queue, dispatch waits (at most YIELD_AT_MOST), since on SQLite both
        // need the one writer.
        if service.store().writes_waiting() > 0 && last_run.elapsed() < YIELD_AT_MOST {
            tokio::select! {
                _ = tokio::time::sleep(YIELD_PAUSE) => continue,
                _ = stopped.changed() => return,
            }
        }
        last_run = Instant::now();
        let wait = match service
            .store()
            .dispatch_outbox(BATCH, chrono::Utc::now(), |row| plan(row, attempts))
            .await
        {
            Ok(taken) => {
                failures = 0;
                if taken as i64 == BATCH {
                    Duration::ZERO
                } else {
                    IDLE_POLL
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "outbox dispatch failed; retrying");
                IDLE_POLL * 2u32.saturating_pow(failures.min(5))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
    }
}
