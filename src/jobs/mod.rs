//! Background work inside `caseflow serve`: the outbox dispatcher turns the
//! effects each move wrote into apalis jobs, and the workers carry them out
//! (deadlines, notifications, linked cases) with retries. The jobs live in
//! the same database as the cases.

mod cron;
mod dispatch;
mod linked;
mod run;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::mail::{Mailer, Templates};
use crate::service::Service;
use crate::storage::Db;

pub use cron::{Periodic, tick_job};
pub use dispatch::plan;
pub use run::deliver;

/// One unit of background work, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Deadline `index` of `state`, scheduled by the move with audit entry
    /// `entered` (the one that entered the state).
    Deadline {
        org: Uuid,
        case: Uuid,
        state: String,
        index: usize,
        entered: i64,
    },
    /// A notification the move with audit entry `seq` asked for; `key` makes
    /// its in-app copies unique.
    Notify {
        org: Uuid,
        case: Uuid,
        seq: i64,
        template: String,
        roles: Vec<String>,
        to: Vec<String>,
        key: String,
    },
    /// A case of another workflow a move asked to open, as case `id` (the
    /// outbox row's id), so a retried job cannot open it twice.
    StartCase {
        org: Uuid,
        workflow: String,
        data: serde_json::Value,
        #[serde(default)]
        id: Option<Uuid>,
    },
    /// One tick (Unix seconds) of a periodic job.
    Cron { periodic: Periodic, tick: i64 },
    /// A transition a move asked for on a linked case; `key` makes it fire once.
    FireLinked {
        org: Uuid,
        case: String,
        transition: String,
        form: serde_json::Value,
        key: String,
    },
}

/// What the workers need.
pub struct JobContext {
    pub service: Arc<Service>,
    pub templates: Templates,
    pub mailer: Mailer,
    /// The sender of every e-mail.
    pub mail_from: String,
    /// Links in messages point here, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub retry: RetrySettings,
    pub retention: crate::engine::retention::RetentionPeriods,
    /// Each periodic job with its schedule.
    pub cron: Vec<(Periodic, ::cron::Schedule)>,
}

/// How hard a failing job is tried before it is left failed.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// Attempts the queue makes, each after the one before failed.
    pub attempts: usize,
    /// Retries within one attempt, waiting `min_backoff` doubling to `max_backoff`.
    pub retries_per_attempt: usize,
    pub min_backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            attempts: 8,
            retries_per_attempt: 4,
            min_backoff: std::time::Duration::from_secs(1),
            max_backoff: std::time::Duration::from_secs(30),
        }
    }
}

/// The running dispatcher and workers; [`Workers::stop`] lets jobs in
/// flight finish.
pub struct Workers {
    stop: watch::Sender<bool>,
    finished: Finished,
}

enum Finished {
    Here(tokio::task::JoinSet<()>),
    /// The workers run on a thread of their own, which says when they are done.
    Apart(tokio::sync::oneshot::Receiver<()>),
}

impl Workers {
    /// Starts the workers. On SQLite they get a thread and runtime of their
    /// own: they share the one write connection with the group commit, and on
    /// the request runtime a worker that had its statement's answer still
    /// waited its turn behind every request before it let the connection go,
    /// holding up whole batches of moves for tens of milliseconds. On
    /// PostgreSQL they stay on the caller's runtime, which owns the pool's
    /// sockets.
    pub fn start(context: Arc<JobContext>) -> Self {
        let (stop, stopped) = watch::channel(false);
        if matches!(context.service.store().db(), Db::Sqlite(_)) {
            match start_apart(context.clone(), stopped.clone()) {
                Ok(finished) => {
                    return Self {
                        stop,
                        finished: Finished::Apart(finished),
                    };
                }
                Err(error) => {
                    tracing::warn!(%error, "no thread for the background workers; they share the request runtime");
                }
            }
        }
        Self {
            stop,
            finished: Finished::Here(spawn_all(context, stopped)),
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        match self.finished {
            Finished::Here(mut tasks) => while tasks.join_next().await.is_some() {},
            Finished::Apart(finished) => {
                let _ = finished.await;
            }
        }
    }
}

/// Runs the workers on a current-thread runtime of a thread of their own;
/// the receiver hears when they have all finished.
fn start_apart(
    context: Arc<JobContext>,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("caseflow-jobs".to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(async move {
                    let mut tasks = spawn_all(context, stopped);
                    while tasks.join_next().await.is_some() {}
                }),
                Err(error) => {
                    tracing::error!(%error, "the background workers could not start");
                }
            }
            let _ = done.send(());
        })?;
    Ok(finished)
}

fn spawn_all(context: Arc<JobContext>, stopped: watch::Receiver<bool>) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(dispatch::dispatch_loop(
        context.service.clone(),
        context.retry.attempts,
        stopped.clone(),
    ));
    for (periodic, schedule) in &context.cron {
        tasks.spawn(cron::follow(
            context.clone(),
            *periodic,
            schedule.clone(),
            stopped.clone(),
        ));
    }
    tasks.spawn(run::work(context, stopped));
    tasks
}
