//! Periodic work declared in configuration (`CASEFLOW_CRON_*`). Every process
//! follows the schedules with apalis-cron, and on each tick queues one job
//! whose key is the job's name and the tick: however many processes run, the
//! queue holds one job per tick and one worker does it.

use std::sync::Arc;

use apalis_cron::CronScheduler;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::{Job, JobContext};
use crate::storage::QueuedJob;

/// The periodic jobs caseflow knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Periodic {
    /// Apply the retention policies.
    Retention,
}

impl Periodic {
    pub fn name(self) -> &'static str {
        match self {
            Self::Retention => "retention",
        }
    }
}

/// The job a tick queues; two processes build the same key for the same tick.
pub fn tick_job(periodic: Periodic, tick: DateTime<Utc>, attempts: usize) -> QueuedJob {
    let job = Job::Cron {
        periodic,
        tick: tick.timestamp(),
    };
    QueuedJob {
        key: format!("cron:{}:{}", periodic.name(), tick.timestamp()),
        args: serde_json::to_vec(&job).unwrap_or_default(),
        run_at: tick,
        attempts,
    }
}

pub(super) async fn follow(
    context: Arc<JobContext>,
    periodic: Periodic,
    schedule: cron::Schedule,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = Box::pin(CronScheduler::new(schedule).into_stream());
    loop {
        let tick = tokio::select! {
            _ = stopped.changed() => return,
            tick = ticks.next() => tick,
        };
        let tick = match tick {
            Some(Ok(tick)) => tick,
            Some(Err(error)) => {
                tracing::warn!(job = periodic.name(), %error, "cron schedule failed");
                continue;
            }
            None => return,
        };
        let Some(at) = i64::try_from(tick.get_timestamp())
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        else {
            continue;
        };
        let job = tick_job(periodic, at, context.retry.attempts);
        match context.service.store().queue_job(&job).await {
            Ok(()) => tracing::debug!(job = periodic.name(), %at, "cron tick queued"),
            Err(error) => tracing::warn!(job = periodic.name(), %error, "cron tick not queued"),
        }
    }
}
