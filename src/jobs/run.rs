//! The workers: an apalis worker on the shared queue, and what each job does.

use std::sync::Arc;

use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::{
    BackendExt, BackoffRetryPolicy, BoxDynError, Data, WorkerBuilder, WorkerBuilderExt,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use uuid::Uuid;

use super::{Job, JobContext, Periodic, RetrySettings};
use crate::engine::{CaseView, DeadlineAction, DeadlineResult, Effect, deadline_due};
use crate::rules::Actor;
use crate::service::ServiceError;
use crate::storage::{CaseRecord, Db, JOB_QUEUE, Notification, StoreError};

/// apalis 1.0 can stop polling after a failed job until the next heartbeat
/// (30 s by default, seen as deadlines firing ~30 s late); a short one
/// bounds that wait.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// Due jobs one fetch takes.
const FETCH_BATCH: usize = 64;

/// The longest one job may take (an SMTP server that hangs, say).
const JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Retries within one attempt, with jittered exponential backoff; after
/// them the attempt fails and the queue tries again, up to its attempts,
/// then leaves the job failed (listed by `GET /api/v1/jobs?status=failed`).
fn retry_policy(settings: &RetrySettings) -> BackoffRetryPolicy<ExponentialBackoff> {
    let min = settings
        .min_backoff
        .max(std::time::Duration::from_millis(1));
    let backoff = ExponentialBackoffMaker::new(
        min,
        settings.max_backoff.max(min),
        0.5,
        HasherRng::default(),
    )
    .map(|mut maker| maker.make_backoff())
    .expect("a positive minimum no greater than the maximum is a valid backoff");
    BackoffRetryPolicy::new(settings.retries_per_attempt, backoff)
}

/// How often a worker looks for due jobs: they are queued by the
/// dispatcher's own transaction, which wakes no worker.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub(super) async fn work(context: Arc<JobContext>, mut stopped: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        // A fresh name per run: a worker's registration outlives it until its
        // heartbeat lapses, and apalis refuses a second worker by that name.
        let name = format!("caseflow-{}", Uuid::now_v7().simple());
        let mut signal_rx = stopped.clone();
        let signal = async move {
            let _ = signal_rx.wait_for(|stop| *stop).await;
            Ok::<(), std::io::Error>(())
        };
        let result = run_worker(&name, context.clone(), signal).await;
        if *stopped.borrow() {
            return;
        }
        failures = failures.saturating_add(1);
        let wait = std::time::Duration::from_secs(2u64.saturating_pow(failures.min(5)));
        match result {
            Ok(()) => tracing::warn!("the job worker stopped; starting it again"),
            Err(error) => {
                tracing::error!(%error, ?wait, "the job worker failed; starting it again")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn run_worker(
    name: &str,
    context: Arc<JobContext>,
    signal: impl std::future::Future<Output = Result<(), std::io::Error>> + Send + 'static,
) -> Result<(), apalis::prelude::WorkerError> {
    let retry = retry_policy(&context.retry);
    // The two apalis storages share no trait for this; one text serves both.
    macro_rules! run_on {
        ($storage:ty, $config:ty, $pool:expr) => {
            WorkerBuilder::new(name)
                .backend(
                    <$storage>::new($pool)
                        .with_config(
                            <$config>::default()
                                .queue(JOB_QUEUE)
                                .batch_size(FETCH_BATCH)
                                .heartbeat_interval(HEARTBEAT),
                        )
                        .poll_with_interval(POLL_EVERY),
                )
                .data(context)
                .retry(retry)
                .timeout(JOB_TIMEOUT)
                .build(handle)
                .run_until(signal)
                .await
        };
    }
    match context.service.store().job_db().clone() {
        Db::Sqlite(pool) => run_on!(
            apalis_sqlite::SqliteStorage::<Job>,
            apalis_sqlite::Config,
            &pool
        ),
        Db::Postgres(pool) => run_on!(
            apalis_postgres::PostgresStorage::<Job>,
            apalis_postgres::Config,
            &pool
        ),
    }
}

async fn handle(job: Job, context: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let metrics = context.service.metrics().clone();
    let (name, result) = match job {
        Job::Deadline {
            org,
            case,
            state,
            index,
            entered,
        } => (
            "deadline",
            deadline(&context, org, case, &state, index, entered).await,
        ),
        Job::Notify {
            org,
            case,
            seq,
            template,
            roles,
            to,
            key,
        } => {
            let effect = Effect::Notify {
                template,
                roles,
                to,
            };
            let by = Cause::Move(seq);
            (
                "notify",
                notify(&context, org, case, &effect, &key, by).await,
            )
        }
        Job::StartCase {
            org,
            workflow,
            data,
            id,
        } => (
            "start_case",
            start_case(&context, org, &workflow, data, id).await,
        ),
        Job::Cron { periodic, tick } => (
            periodic.name(),
            periodic_work(&context, periodic, tick).await,
        ),
        Job::FireLinked {
            org,
            case,
            transition,
            form,
            key,
        } => (
            "fire_linked",
            super::linked::fire_linked(&context, org, &case, &transition, &form, &key).await,
        ),
    };
    match &result {
        Ok(outcome) => metrics.job(name, outcome),
        Err(error) => {
            tracing::warn!(job = name, %error, "job failed; it will be tried again");
            metrics.job(name, "failed");
        }
    }
    result.map(|_| ())
}

/// Opens the case; a retry that finds it already opened is done.
async fn start_case(
    context: &JobContext,
    org: Uuid,
    workflow: &str,
    data: Value,
    id: Option<Uuid>,
) -> Result<&'static str, BoxDynError> {
    let id = id.unwrap_or_else(Uuid::now_v7);
    let service = &context.service;
    match service
        .create_case_with_id(org, &Actor::system(), workflow, data, None, id)
        .await
    {
        Ok(_) => Ok("done"),
        Err(ServiceError::Conflict(_)) if service.store().case(org, id).await.is_ok() => {
            Ok("already_done")
        }
        Err(error) => Err(error.into()),
    }
}

async fn periodic_work(
    context: &JobContext,
    periodic: Periodic,
    tick: i64,
) -> Result<&'static str, BoxDynError> {
    match periodic {
        Periodic::Retention => {
            let summary = context
                .service
                .retention(context.retention, false, &|_| {})
                .await?;
            tracing::info!(
                tick,
                cases = summary.cases_seen,
                steps = summary.steps.len(),
                on_hold = summary.on_hold,
                failed = summary.failed.len(),
                "retention applied"
            );
            Ok(if summary.failed.is_empty() {
                "done"
            } else {
                "partly_done"
            })
        }
    }
}

/// The case a job is about; `None` once it is gone (deleted), which ends the job.
async fn case_if_any(
    context: &JobContext,
    org: Uuid,
    case_id: Uuid,
) -> Result<Option<CaseRecord>, BoxDynError> {
    match context.service.store().case(org, case_id).await {
        Ok(case) => Ok(Some(case)),
        Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Whether the case still sits in `state` since the move `entered`: if it
/// left (and maybe came back), this deadline no longer applies.
async fn still_waiting(
    context: &JobContext,
    case: &CaseRecord,
    state: &str,
    entered: i64,
) -> Result<bool, ServiceError> {
    if case.state != state {
        return Ok(false);
    }
    let history = context
        .service
        .store()
        .history(case.org_id, case.id)
        .await?;
    let last_entry = history
        .iter()
        .rev()
        .find(|entry| entry.to == state && entry.from.as_deref() != Some(state));
    Ok(last_entry.is_some_and(|entry| entry.seq == entered))
}

async fn deadline(
    context: &JobContext,
    org: Uuid,
    case_id: Uuid,
    state: &str,
    index: usize,
    entered: i64,
) -> Result<&'static str, BoxDynError> {
    let service = &context.service;
    let Some(case) = case_if_any(context, org, case_id).await? else {
        return Ok("case_gone");
    };
    if !still_waiting(context, &case, state, entered).await? {
        tracing::info!(case = %case_id, state, index, "deadline skipped: the case moved on");
        return Ok("skipped");
    }
    let definition = service
        .definition(org, &case.workflow, case.workflow_version)
        .await?;
    let action = definition
        .states
        .get(state)
        .and_then(|s| s.deadlines.get(index))
        .map(|d| &d.action);
    match action {
        None => Ok("skipped"),
        Some(DeadlineAction::Fire(transition)) => {
            let fired = service
                .fire(
                    org,
                    &Actor::system(),
                    case_id,
                    transition,
                    &Value::Null,
                    Some(case.version),
                    Some(&format!("deadline:{case_id}:{entered}:{index}")),
                )
                .await;
            match fired {
                Ok(_) => Ok("fired"),
                // Someone moved the case meanwhile; their move stands.
                Err(ServiceError::Conflict(_)) => Ok("skipped"),
                Err(ServiceError::Refused(refusal)) => {
                    tracing::warn!(case = %case_id, %refusal, "a deadline's transition was refused");
                    Ok("refused")
                }
                Err(error) => Err(error.into()),
            }
        }
        Some(DeadlineAction::Notify(_)) => {
            let view = CaseView {
                state: &case.state,
                data: &case.data,
            };
            match deadline_due(&definition, view, state, index, chrono::Utc::now()) {
                Ok(DeadlineResult::Notify(effect)) => {
                    let key = format!("deadline:{case_id}:{entered}:{index}");
                    let by = Cause::Deadline {
                        state: state.to_owned(),
                        index,
                    };
                    notify(context, org, case_id, &effect, &key, by).await
                }
                Ok(_) => Ok("skipped"),
                Err(refusal) => {
                    tracing::warn!(case = %case_id, %refusal, "a deadline's notification failed");
                    Ok("refused")
                }
            }
        }
    }
}

/// What a notification is about: a move (its audit entry) or a deadline.
pub enum Cause {
    Move(i64),
    Deadline { state: String, index: usize },
}

async fn notify(
    context: &JobContext,
    org: Uuid,
    case_id: Uuid,
    effect: &Effect,
    key: &str,
    cause: Cause,
) -> Result<&'static str, BoxDynError> {
    let store = context.service.store();
    let Some(case) = case_if_any(context, org, case_id).await? else {
        return Ok("case_gone");
    };
    let about = match cause {
        Cause::Move(seq) => {
            let entry = match store.audit_entry(org, case_id, seq).await {
                Ok(entry) => Some(entry),
                Err(StoreError::NotFound) => None,
                Err(error) => return Err(error.into()),
            };
            let entry = entry.as_ref();
            json!({
                "actor": {"id": entry.map_or("system", |e| e.actor.as_str())},
                "transition": entry.and_then(|e| e.transition.clone()),
                "deadline": Value::Null,
            })
        }
        Cause::Deadline { state, index } => json!({
            "actor": {"id": "system"},
            "transition": Value::Null,
            "deadline": {"state": state, "index": index},
        }),
    };
    deliver(context, &case, effect, key, &about).await?;
    Ok("sent")
}

/// A stable id per notification and recipient, so a retried job writes no
/// second in-app copy.
fn notification_id(key: &str, recipient: &str) -> Uuid {
    let digest = Sha256::digest(format!("{key}\n{recipient}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// Renders and sends a notification: in-app to every user holding one of
/// its roles, by e-mail to them and to its addresses. A retry after a
/// partial failure may e-mail someone twice; in-app copies stay single.
pub async fn deliver(
    context: &JobContext,
    case: &CaseRecord,
    effect: &Effect,
    key: &str,
    about: &Value,
) -> Result<(), BoxDynError> {
    let Effect::Notify {
        template,
        roles,
        to,
    } = effect
    else {
        return Ok(());
    };
    let store = context.service.store();
    let users = store.users(case.org_id).await?;
    let recipients: Vec<_> = users
        .iter()
        .filter(|user| user.active && user.roles.iter().any(|r| roles.contains(r)))
        .collect();
    // What templates see: `case`, `actor`, `transition`, `deadline`, `links`.
    let mut scope = json!({
        "case": {"id": case.id, "workflow": case.workflow, "state": case.state,
                 "version": case.version, "data": case.data},
        "links": {"case": format!("{}/cases/{}", context.base_url, case.id)},
    });
    if let (Some(scope), Some(about)) = (scope.as_object_mut(), about.as_object()) {
        scope.extend(about.clone());
    }
    let rendered = context.templates.render(template, &scope)?;
    let now = chrono::Utc::now();
    for user in &recipients {
        let notification = Notification {
            id: notification_id(key, &user.email),
            case_id: Some(case.id),
            template: template.clone(),
            subject: rendered.subject.clone(),
            body: rendered.text.clone(),
            created_at: now,
            read_at: None,
        };
        store
            .insert_notification(case.org_id, user.id, &notification)
            .await?;
    }
    let mut addresses: Vec<&str> = recipients.iter().map(|u| u.email.as_str()).collect();
    addresses.extend(to.iter().map(String::as_str));
    addresses.sort_unstable();
    addresses.dedup();
    for address in addresses {
        context
            .mailer
            .send(&context.mail_from, address, &rendered)
            .await?;
    }
    Ok(())
}
