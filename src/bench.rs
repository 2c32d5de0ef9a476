//! `caseflow bench`: drives referral cases through the real engine, forms,
//! guards, audit and outbox on the configured database, and measures the
//! storage floor (the same rows with no engine) beside it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::{CaseView, Definition, Refusal};
use crate::rules::Actor;
use crate::service::{Service, ServiceResult, Written, moved, new_case};
use crate::storage::{CaseRecord, Move, NewCase, Store, stored_time};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub cases: usize,
    pub concurrency: usize,
    /// Appends `CASE_ID VERSION` after every acknowledged move (for crash tests).
    pub ack_log: Option<PathBuf>,
    pub floor: bool,
    /// Also writes the floor's rows one transaction per write, the reference
    /// group commit is measured against.
    pub single: bool,
}

/// Latencies of one phase.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub transitions: usize,
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.transitions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
    }

    fn merge(&mut self, other: Measured) {
        self.transitions += other.transitions;
        self.latencies_us.extend(other.latencies_us);
    }
}

fn client(index: usize) -> Value {
    json!({
        "client": {
            "name": format!("Bench client {index}"), "date_of_birth": "1990-05-17",
            "cultural_identity": ["maori"], "primary_language": "en", "interpreter_needed": false
        },
        "referrer": { "name": "Dr Bench", "organisation": "Bench GP", "email": "gp@example.org" },
        "reason": "Benchmark referral"
    })
}

struct Script {
    steps: Vec<(&'static str, Actor, Value)>,
}

fn happy_path() -> Script {
    let next_year = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(365))
        .unwrap_or_default();
    let user = |role: &str| Actor::user(format!("bench-{role}"), vec![role.to_owned()]);
    Script {
        steps: vec![
            (
                "assess",
                user("clinician"),
                json!({"risk_level": "low", "presenting_issue": "Stress", "interpreter_needed": false, "safety_plan_in_place": false}),
            ),
            (
                "assign_program",
                user("team_leader"),
                json!({"program": "individual_counselling", "key_worker": "kw@example.org", "start_date": "2026-01-05"}),
            ),
            ("request_consent", user("intake_worker"), Value::Null),
            (
                "record_consent",
                user("intake_worker"),
                json!({"consents": [{"type": "treatment", "given": true, "expiry_date": next_year.to_string()}]}),
            ),
        ],
    }
}

fn decline() -> Script {
    Script {
        steps: vec![(
            "decline",
            Actor::user("bench-clinician", vec!["clinician".to_owned()]),
            json!({"reason": "referred_elsewhere", "details": "Benchmark"}),
        )],
    }
}

/// Every tenth case is declined at assessment; the rest go all the way to enrolment.
fn script_for(index: usize) -> Script {
    if index % 10 == 9 {
        decline()
    } else {
        happy_path()
    }
}

struct AckLog(Mutex<std::fs::File>);

impl AckLog {
    fn record(&self, case: &CaseRecord) {
        if let Ok(mut file) = self.0.lock() {
            // Unbuffered: a line is with the OS before the next move starts.
            let _ = writeln!(file, "{} {}", case.id, case.version);
        }
    }
}

/// A progress bar over a phase's cases, drawn only on a terminal and cleared
/// when the phase ends.
struct CasesBar(indicatif::ProgressBar);

impl CasesBar {
    fn new(cases: usize, phase: &str) -> Self {
        let bar = indicatif::ProgressBar::new(cases as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} cases {per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(phase.to_owned());
        Self(bar)
    }
}

impl Drop for CasesBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Runs the engine phase: `options.cases` cases across `options.concurrency` tasks.
pub async fn engine_phase(
    service: Arc<Service>,
    org: Uuid,
    options: &BenchOptions,
) -> ServiceResult<Measured> {
    let bar = CasesBar::new(options.cases, "engine");
    let next = Arc::new(AtomicUsize::new(0));
    let ack = match &options.ack_log {
        Some(path) => Some(Arc::new(AckLog(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    crate::service::ServiceError::Conflict(format!(
                        "cannot open {}: {error}",
                        path.display()
                    ))
                })?,
        )))),
        None => None,
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (service, next, ack, progress) =
            (service.clone(), next.clone(), ack.clone(), bar.0.clone());
        let cases = options.cases;
        tasks.spawn(async move {
            let mut measured = Measured::default();
            let system = Actor::system();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= cases {
                    return Ok::<Measured, crate::service::ServiceError>(measured);
                }
                let case = service
                    .create_case(org, &system, "referral", client(index), None)
                    .await?;
                if let Some(ack) = &ack {
                    ack.record(&case);
                }
                for (transition, actor, form) in script_for(index).steps {
                    let began = Instant::now();
                    let moved = service
                        .fire(org, &actor, case.id, transition, &form, None, None)
                        .await?;
                    measured
                        .latencies_us
                        .push(began.elapsed().as_micros() as u64);
                    measured.transitions += 1;
                    if let Some(ack) = &ack {
                        ack.record(&moved);
                    }
                }
                progress.inc(1);
            }
        });
    }
    let mut total = Measured::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => total.merge(result?),
            Err(error) => {
                return Err(crate::service::ServiceError::Conflict(format!(
                    "a bench task failed: {error}"
                )));
            }
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One case's rows as the engine phase writes them, made before the floor's
/// clock starts.
struct Planned {
    opening: NewCase,
    moves: Vec<(Move, Value)>,
}

/// Runs the engine (opening, then the case's script) without writing anything.
fn plan(
    definition: &Definition,
    version: i64,
    org: Uuid,
    index: usize,
) -> Result<Planned, Refusal> {
    let system = Actor::system();
    let at = stored_time(Utc::now());
    let opened = crate::engine::start(definition, client(index), &system, at)?;
    let written = Written {
        actor: &system,
        at,
        request_id: None,
    };
    let opening = new_case(definition, version, org, Uuid::now_v7(), opened, &written);
    let mut case = CaseRecord::clone(&opening.record);
    let mut moves = Vec::new();
    for (transition, actor, form) in script_for(index).steps {
        let view = CaseView {
            state: &case.state,
            data: &case.data,
        };
        let outcome = crate::engine::fire(definition, view, transition, &form, &actor, at)?;
        let written = Written {
            actor: &actor,
            at,
            request_id: None,
        };
        let (change, after) = moved(definition, &case, outcome, &form, &written);
        moves.push((change, after.data.clone()));
        case = after;
    }
    Ok(Planned { opening, moves })
}

/// The storage floor: the rows the engine phase writes (the engine's own,
/// made beforehand for a fresh set of cases), written on `store` with no
/// engine work on the clock; `phase` names it on the progress bar.
pub async fn floor_phase(
    store: Store,
    org: Uuid,
    options: &BenchOptions,
    definition: &Definition,
    version: i64,
    phase: &str,
) -> Result<Measured, String> {
    let bar = CasesBar::new(options.cases, phase);
    let planned = (0..options.cases)
        .map(|index| plan(definition, version, org, index))
        .collect::<Result<Vec<_>, Refusal>>()
        .map_err(|refusal| format!("the engine refused a planned move: {refusal}"))?;
    let planned = Arc::new(Mutex::new(planned.into_iter()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (store, planned, progress) = (store.clone(), planned.clone(), bar.0.clone());
        tasks.spawn(async move {
            let mut measured = Measured::default();
            loop {
                let next = planned.lock().ok().and_then(|mut planned| planned.next());
                let Some(Planned { opening, moves }) = next else {
                    return Ok::<Measured, crate::storage::StoreError>(measured);
                };
                store.insert_case(opening).await?;
                for (change, data) in moves {
                    let began = Instant::now();
                    store.apply_move(change, &data).await?;
                    measured
                        .latencies_us
                        .push(began.elapsed().as_micros() as u64);
                    measured.transitions += 1;
                }
                progress.inc(1);
            }
        });
    }
    let mut total = Measured::default();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(result) = joined {
            total.merge(result.map_err(|error| error.to_string())?);
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}
