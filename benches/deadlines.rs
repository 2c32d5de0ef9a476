//! Deadlines coming due together: opens BENCH_DEADLINES cases (10,000) whose
//! `after: 20s` deadline fires a transition, runs the workers on SQLite (or
//! BENCH_DATABASE_URL), and reports how late each deadline fired after its
//! due time, then the workers' CPU use while idle.
//!
//! `cargo bench --bench deadlines`

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseflow::config::Durability;
use caseflow::engine::Catalog;
use caseflow::jobs::{JobContext, RetrySettings, Workers};
use caseflow::mail::{Mailer, Templates};
use caseflow::rules::Actor;
use caseflow::service::Service;
use caseflow::storage::{CaseFilter, CaseRecord, Store};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const DUE_AFTER: Duration = Duration::from_secs(20);

const WORKFLOW: &str = r#"workflow: chase
version: 1
title: Chase
initial: open
roles: [worker]
states:
  open:
    deadlines:
      - after: 20s
        fire: expire
  expired: { terminal: true }
transitions:
  expire:
    from: [open]
    roles: [worker]
    to: expired
"#;

/// User and system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Every case of `org` in the state `expired`.
async fn expired_cases(store: &Store, org: uuid::Uuid) -> Result<Vec<CaseRecord>> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .cases(
                org,
                &CaseFilter {
                    workflow: None,
                    state: Some("expired".to_owned()),
                    after,
                    limit: 500,
                },
            )
            .await?;
        found.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(found),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let count: usize = std::env::var("BENCH_DEADLINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("workflows"))?;
    std::fs::create_dir_all(dir.path().join("templates/notify"))?;
    std::fs::write(dir.path().join("workflows/chase.yaml"), WORKFLOW)?;
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let store = Store::connect(&url, Durability::Normal).await?;
    store.migrate().await?;
    let sources = caseflow::home::load_sources(dir.path(), None);
    let (catalog, _) = Catalog::load(&sources);
    let service = Arc::new(Service::new(
        store.clone(),
        Arc::new(catalog),
        Arc::new(chrono::Utc::now),
    ));
    let org = store.create_org("bench", chrono::Utc::now()).await?.id;
    service
        .publish(org, "chase.yaml", WORKFLOW, "bench")
        .await
        .map_err(|e| e.to_string())?;
    let templates = Templates::load(&dir.path().join("templates/notify"))
        .map_err(|_| "templates do not compile")?;
    let workers = Workers::start(Arc::new(JobContext {
        service: service.clone(),
        templates,
        mailer: Mailer::Files(dir.path().join("outbox")),
        mail_from: "bench@localhost".to_owned(),
        base_url: "http://localhost".to_owned(),
        retry: RetrySettings::default(),
        retention: Default::default(),
        cron: Vec::new(),
    }));

    let opened = Instant::now();
    let actor = Actor::user("bench", vec!["worker".to_owned()]);
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..32 {
        let (service, actor) = (service.clone(), actor.clone());
        tasks.spawn(async move {
            for _ in (chunk..count).step_by(32) {
                service
                    .create_case(org, &actor, "chase", json!({}), None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    println!(
        "opened {count} cases in {:.1} s; their deadlines fall due within that span",
        opened.elapsed().as_secs_f64()
    );

    let last_due = opened.elapsed() + DUE_AFTER;
    let deadline = Instant::now() + DUE_AFTER + Duration::from_secs(180);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = expired_cases(&store, org).await?.len();
        if done == count || Instant::now() > deadline {
            println!("{done} of {count} deadlines fired");
            break;
        }
    }
    let all_fired = opened.elapsed();
    // Lateness: each expiry's time against its case's opening plus 20 s.
    let mut lateness = Vec::with_capacity(count);
    for case in expired_cases(&store, org).await? {
        let due = case.created_at + chrono::Duration::from_std(DUE_AFTER)?;
        lateness.push((case.updated_at - due).num_milliseconds());
    }
    lateness.sort_unstable();
    let at = |p: f64| {
        lateness
            .get(((lateness.len().saturating_sub(1)) as f64 * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "all fired {:.1} s after the last came due; lateness p50={} ms p99={} ms max={} ms",
        all_fired.saturating_sub(last_due).as_secs_f64(),
        at(0.5),
        at(0.99),
        lateness.last().copied().unwrap_or_default()
    );

    let before = cpu_time();
    let idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let used = cpu_time().saturating_sub(before);
    println!(
        "idle: {:.2}% of a core over {:.0} s",
        used.as_secs_f64() * 100.0 / idle.elapsed().as_secs_f64(),
        idle.elapsed().as_secs_f64()
    );
    workers.stop().await;
    store.close().await;
    Ok(())
}
