//! Retention, erasure and legal holds on SQLite and PostgreSQL: the clock is
//! set years ahead, personal fields leave the case and its trail, financial
//! fields stay for their own period, the trail still verifies, and a legal
//! hold stops all of it.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use caseflow::engine::Catalog;
use caseflow::engine::retention::RetentionPeriods;
use caseflow::http::{AppState, router};
use caseflow::rules::Actor;
use caseflow::service::{RetentionSummary, Service};
use caseflow::storage::Store;
use chrono::{DateTime, Duration, Utc};
use common::Home;
use common::api::{Api, user};
use common::db::{databases, execute_unscoped};
use serde_json::{Value, json};
use uuid::Uuid;

const WORKFLOW: &str = r#"
workflow: debt_advice
version: 1
title: Debt advice
case_schema: debt_case
initial: open
roles: [adviser]
states:
  open: {}
  closed:
    terminal: true
    retention: { after: 6y, action: anonymise }
  withdrawn:
    terminal: true
    retention: { after: 1y, action: delete }
transitions:
  close:
    from: [open]
    form: closing
    roles: [adviser]
    set:
      outcome: form.outcome
      client.phone: form.phone
    to: closed
  withdraw:
    from: [open]
    roles: [adviser]
    to: withdrawn
"#;

const CASE_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "client": {"type": "object", "properties": {
      "name": {"type": "string", "x-personal": true},
      "phone": {"type": "string", "x-personal": true},
      "contacts": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string", "x-personal": true},
        "relationship": {"type": "string"}}}}}},
    "debt_total": {"type": "number", "x-financial": true},
    "outcome": {"type": "string"}
  }
}"#;

const CLOSING_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["outcome"],
  "properties": {
    "outcome": {"type": "string"},
    "phone": {"type": "string", "x-personal": true},
    "note": {"type": "string", "x-personal": true}
  }
}"#;

fn home() -> Home {
    let home = Home::empty();
    home.write("workflows/debt_advice.yaml", WORKFLOW);
    home.write("schemas/debt_case.json", CASE_SCHEMA);
    home.write("schemas/closing.json", CLOSING_SCHEMA);
    home
}

fn catalog(home: &Home) -> Arc<Catalog> {
    let (catalog, problems) = Catalog::load(&caseflow::home::load_sources(home.path(), None));
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    Arc::new(catalog)
}

/// A service whose clock reads `at`.
fn service_at(store: &Store, catalog: &Arc<Catalog>, at: DateTime<Utc>) -> Arc<Service> {
    Arc::new(Service::new(
        store.clone(),
        catalog.clone(),
        Arc::new(move || at),
    ))
}

fn adviser() -> Actor {
    Actor::user("adviser@example.org", vec!["adviser".to_owned()])
}

fn client_data() -> Value {
    json!({"client": {"name": "Ben Carter", "contacts": [
        {"name": "Amy Carter", "relationship": "sister"}]}, "debt_total": 5230.5})
}

async fn open_case(service: &Service, org: Uuid) -> Uuid {
    service
        .create_case(org, &adviser(), "debt_advice", client_data(), None)
        .await
        .expect("open")
        .id
}

async fn close(service: &Service, org: Uuid, case: Uuid) {
    let form =
        json!({"outcome": "repayment plan", "phone": "07700 900123", "note": "lives with Amy"});
    service
        .fire(org, &adviser(), case, "close", &form, None, None)
        .await
        .expect("close");
}

/// A database with the organisation `debt` running the debt advice workflow.
async fn debt_org(
    db: &common::db::TestDb,
    catalog: &Arc<Catalog>,
) -> (Store, Arc<Service>, Uuid, DateTime<Utc>) {
    let store = db.store().await;
    let now = Utc::now();
    let service = service_at(&store, catalog, now);
    let org = store.create_org("debt", now).await.expect("org").id;
    service
        .publish(org, "debt_advice.yaml", WORKFLOW, "test")
        .await
        .expect("publish");
    (store, service, org, now)
}

async fn sweep(service: &Service, dry_run: bool) -> RetentionSummary {
    service
        .retention(RetentionPeriods::default(), dry_run, &|_| {})
        .await
        .expect("retention")
}

fn steps_for(summary: &RetentionSummary, case: Uuid) -> Vec<(String, Vec<String>)> {
    summary
        .steps
        .iter()
        .filter(|step| step.case_id == case)
        .map(|step| (step.step.clone(), step.fields.clone()))
        .collect()
}

async fn verified(store: &Store) {
    let (_, breaks) = store.verify_audit(None).await.expect("verify");
    assert!(breaks.is_empty(), "{breaks:?}");
}

#[tokio::test]
async fn closed_cases_are_anonymised_then_retired_and_the_trail_still_verifies() {
    let home = home();
    let catalog = catalog(&home);
    for db in databases().await {
        let (store, service, org, now) = debt_org(&db, &catalog).await;
        let closed = open_case(&service, org).await;
        close(&service, org, closed).await;
        let held = open_case(&service, org).await;
        close(&service, org, held).await;
        service
            .set_legal_hold(org, held, "admin", true, Some("litigation".to_owned()))
            .await
            .expect("hold");
        let still_open = open_case(&service, org).await;

        // Nothing is due yet.
        assert!(sweep(&service, false).await.steps.is_empty(), "{}", db.kind);

        // Six years and a day later, a dry run lists but changes nothing.
        let later = service_at(&store, &catalog, now + Duration::days(6 * 366));
        let preview = sweep(&later, true).await;
        assert_eq!(
            steps_for(&preview, closed),
            [(
                "anonymise".to_owned(),
                vec![
                    "/client/name".to_owned(),
                    "/client/phone".to_owned(),
                    "/client/contacts/0/name".to_owned()
                ]
            )],
            "{}",
            db.kind
        );
        assert!(
            steps_for(&preview, held).is_empty(),
            "legal hold: {}",
            db.kind
        );
        assert!(steps_for(&preview, still_open).is_empty());
        assert_eq!(preview.on_hold, 1);
        let untouched = store.case(org, closed).await.expect("case");
        assert_eq!(untouched.data["client"]["name"], "Ben Carter");

        // Applying it scrubs the case and the trail, and records doing so.
        let applied = sweep(&later, false).await;
        assert_eq!(steps_for(&applied, closed), steps_for(&preview, closed));
        let case = store.case(org, closed).await.expect("case");
        assert_eq!(
            case.data,
            json!({"client": {"contacts": [{"relationship": "sister"}]},
                   "debt_total": 5230.5, "outcome": "repayment plan"}),
            "{}",
            db.kind
        );
        let history = store.history(org, closed).await.expect("history");
        let text = serde_json::to_string(&history).expect("json");
        for personal in ["Ben Carter", "Amy Carter", "07700 900123", "lives with Amy"] {
            assert!(!text.contains(personal), "{personal} left in {text}");
        }
        let last = history.last().expect("entries");
        assert_eq!(last.transition.as_deref(), Some("retention"));
        assert_eq!(last.actor, "system:retention");
        let recorded: Vec<&str> = last
            .changes
            .as_array()
            .expect("changes")
            .iter()
            .filter_map(|change| change["path"].as_str())
            .collect();
        assert_eq!(
            recorded,
            ["client.name", "client.phone", "client.contacts.0.name"],
            "recorded as change paths, like any move"
        );
        assert_eq!(last.reasons["redacted_entries"], json!([1, 2]));
        assert_eq!(
            history[1].form.as_ref().expect("form")["outcome"],
            "repayment plan"
        );
        assert_eq!(history[0].redacted_by, Some(last.seq));
        verified(&store).await;
        assert_eq!(
            store.case(org, held).await.expect("held").data["client"]["name"],
            "Ben Carter"
        );

        // Once applied, the same sweep has nothing more to do.
        assert!(steps_for(&sweep(&later, false).await, closed).is_empty());

        // Financial data goes after seven years, the whole record after ten.
        let seven = service_at(&store, &catalog, now + Duration::days(7 * 366));
        let financial = sweep(&seven, false).await;
        assert_eq!(
            steps_for(&financial, closed),
            [("scrub_financial".to_owned(), vec!["/debt_total".to_owned()])]
        );
        assert!(
            store
                .case(org, closed)
                .await
                .expect("case")
                .data
                .get("debt_total")
                .is_none()
        );
        verified(&store).await;
        let ten = service_at(&store, &catalog, now + Duration::days(10 * 366));
        let purged = sweep(&ten, false).await;
        assert_eq!(
            steps_for(&purged, closed),
            [("purge".to_owned(), vec!["*".to_owned()])]
        );
        assert!(
            store.case(org, closed).await.is_err(),
            "purged: {}",
            db.kind
        );
        let left = execute_unscoped(
            &store,
            "SELECT COUNT(*) FROM audit_entries WHERE case_id = $1",
            closed,
        )
        .await;
        assert_eq!(left, [0]);
        assert!(store.case(org, held).await.is_ok(), "held case kept");
        verified(&store).await;
    }
}

#[tokio::test]
async fn delete_policy_hides_the_case_and_keeps_only_financial_fields() {
    let home = home();
    let catalog = catalog(&home);
    for db in databases().await {
        let (store, service, org, now) = debt_org(&db, &catalog).await;
        let case = open_case(&service, org).await;
        service
            .fire(org, &adviser(), case, "withdraw", &json!({}), None, None)
            .await
            .expect("withdraw");
        let later = service_at(&store, &catalog, now + Duration::days(400));
        let summary = sweep(&later, false).await;
        assert_eq!(
            steps_for(&summary, case),
            [("delete".to_owned(), vec!["/client".to_owned()])],
            "{}",
            db.kind
        );
        assert!(
            store.case(org, case).await.is_err(),
            "deleted cases are hidden"
        );
        let kept = execute_unscoped(
            &store,
            "SELECT COUNT(*) FROM cases WHERE id = $1 AND deleted_at IS NOT NULL",
            case,
        )
        .await;
        assert_eq!(
            kept,
            [1],
            "the row stays for its financial and audit periods"
        );
        verified(&store).await;
    }
}

#[tokio::test]
async fn a_forged_scrub_breaks_the_chain() {
    let home = home();
    let catalog = catalog(&home);
    for db in databases().await {
        let (store, service, org, _) = debt_org(&db, &catalog).await;
        let case = open_case(&service, org).await;
        close(&service, org, case).await;
        verified(&store).await;
        // Someone blanks the closing form and copies its digest in by hand,
        // with no retention entry to say so.
        let form = execute_unscoped(
            &store,
            "SELECT COUNT(*) FROM audit_entries WHERE case_id = $1 AND seq = 2",
            case,
        )
        .await;
        assert_eq!(form, [1]);
        let history = store.history(org, case).await.expect("history");
        let digest = caseflow::storage::content_digest(history[1].form.as_ref().expect("form"));
        let sql: &'static str = Box::leak(
            format!(
                "UPDATE audit_entries SET form = NULL, form_digest = '{digest}' \
                 WHERE case_id = $1 AND seq = 2 RETURNING seq"
            )
            .into_boxed_str(),
        );
        execute_unscoped(&store, sql, case).await;
        let (_, breaks) = store.verify_audit(Some(case)).await.expect("verify");
        assert_eq!(breaks.len(), 1, "{}: {breaks:?}", db.kind);
        assert!(
            breaks[0].problem.contains("without a retention entry"),
            "{breaks:?}"
        );
    }
}

#[tokio::test]
async fn erasure_is_for_admins_of_the_organisation_and_stops_at_a_legal_hold() {
    let home = home();
    let catalog = catalog(&home);
    for db in databases().await {
        let store = db.store().await;
        let service = service_at(&store, &catalog, Utc::now());
        let mut orgs = Vec::new();
        for name in ["north", "south"] {
            let org = store.create_org(name, Utc::now()).await.expect("org").id;
            service
                .publish(org, "debt_advice.yaml", WORKFLOW, "test")
                .await
                .expect("publish");
            user(
                &service,
                org,
                &format!("{name}-admin@example.org"),
                &["admin"],
            )
            .await;
            user(
                &service,
                org,
                &format!("{name}-adviser@example.org"),
                &["adviser"],
            )
            .await;
            orgs.push(org);
        }
        let api = Api {
            app: router(AppState::new(service.clone())),
            kind: db.kind,
        };
        let admin = api.login("north-admin@example.org").await;
        let adviser = api.login("north-adviser@example.org").await;
        let other_admin = api.login("south-admin@example.org").await;
        let case = open_case(&service, orgs[0]).await;
        let erase = format!("/api/v1/cases/{case}/erase");

        let (status, _, body) = api.call("POST", &erase, Some(&adviser), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _, _) = api.call("POST", &erase, Some(&other_admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another organisation's case");

        let hold = format!("/api/v1/cases/{case}/legal-hold");
        let (status, _) = api
            .json(
                "PUT",
                &hold,
                Some(&admin),
                json!({"hold": true, "reason": "court order"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, body) = api.call("POST", &erase, Some(&admin), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["type"], "/problems/legal-hold");
        assert_eq!(
            store.case(orgs[0], case).await.expect("case").data["client"]["name"],
            "Ben Carter",
            "nothing erased under a hold"
        );

        let (status, _) = api
            .json("PUT", &hold, Some(&admin), json!({"hold": false}))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, body) = api.call("POST", &erase, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["fields_removed"], 2, "{body}");
        let (status, case_body) = api.get(&format!("/api/v1/cases/{case}"), &admin).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            case_body["data"],
            json!({"client": {"contacts": [{"relationship": "sister"}]}, "debt_total": 5230.5})
        );
        let (_, history) = api
            .get(&format!("/api/v1/cases/{case}/history"), &admin)
            .await;
        let transitions: Vec<&str> = history
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|entry| entry["transition"].as_str())
            .collect();
        assert_eq!(transitions, ["legal_hold", "legal_hold", "erasure"]);
        assert!(!history.to_string().contains("Ben Carter"), "{history}");
        verified(&store).await;

        // The case goes on and gathers a phone number; its policy still removes it.
        close(&service, orgs[0], case).await;
        let later = service_at(&store, &catalog, Utc::now() + Duration::days(6 * 366));
        assert_eq!(
            steps_for(&sweep(&later, false).await, case),
            [("anonymise".to_owned(), vec!["/client/phone".to_owned()])],
            "{}",
            db.kind
        );
        verified(&store).await;
    }
}

#[tokio::test]
async fn two_processes_following_the_nightly_schedule_apply_each_tick_once() {
    use caseflow::jobs::{JobContext, Periodic, RetrySettings, Workers};
    use caseflow::mail::{Mailer, Templates};
    let home = home();
    home.write(
        "templates/notify/unused.txt.tera",
        "Subject: unused\n\nunused\n",
    );
    let catalog = catalog(&home);
    for db in databases().await {
        let (store, service, org, now) = debt_org(&db, &catalog).await;
        let case = open_case(&service, org).await;
        close(&service, org, case).await;

        // The same tick queued by two processes is one job.
        let tick = DateTime::from_timestamp(now.timestamp() - 5, 0).expect("time");
        for _ in 0..2 {
            store
                .queue_job(&caseflow::jobs::tick_job(Periodic::Retention, tick, 1))
                .await
                .expect("queue");
        }
        let jobs_table = store.job_table();
        let count_sql: &'static str = Box::leak(
            format!(
                "SELECT COUNT(*) FROM {jobs_table} WHERE idempotency_key LIKE 'cron:%' \
                 AND $1 IS NOT NULL"
            )
            .into_boxed_str(),
        );
        assert_eq!(
            execute_unscoped(&store, count_sql, case).await,
            [1],
            "{}",
            db.kind
        );

        // Two worker sets, as two `caseflow serve` processes, six years on,
        // with the sweep every second.
        let later = now + Duration::days(6 * 366);
        let mut processes = Vec::new();
        for _ in 0..2 {
            let outbox = tempfile::tempdir().expect("dir");
            processes.push(Workers::start(Arc::new(JobContext {
                service: service_at(&store, &catalog, later),
                templates: Templates::load(&home.path().join("templates/notify"))
                    .expect("templates"),
                mailer: Mailer::Files(outbox.path().to_path_buf()),
                mail_from: "caseflow@example.org".to_owned(),
                base_url: "http://caseflow.test".to_owned(),
                retry: RetrySettings::default(),
                retention: RetentionPeriods::default(),
                cron: vec![(Periodic::Retention, "* * * * * *".parse().expect("cron"))],
            })));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let history = store.history(org, case).await.expect("history");
            let sweeps = history
                .iter()
                .filter(|entry| entry.transition.as_deref() == Some("retention"))
                .count();
            if sweeps > 0 {
                assert_eq!(sweeps, 1, "{}", db.kind);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no sweep ran: {}",
                db.kind
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // A few more ticks pass; each tick is queued once however many follow it.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        for process in processes {
            process.stop().await;
        }
        let per_key_sql: &'static str = Box::leak(
            format!(
                "SELECT COUNT(*) FROM {jobs_table} WHERE idempotency_key LIKE 'cron:%' \
                 AND $1 IS NOT NULL GROUP BY idempotency_key"
            )
            .into_boxed_str(),
        );
        let per_key = execute_unscoped(&store, per_key_sql, case).await;
        assert!(per_key.len() >= 3, "ticks queued: {per_key:?}");
        assert!(per_key.iter().all(|count| *count == 1), "{per_key:?}");
        let history = store.history(org, case).await.expect("history");
        assert_eq!(
            history
                .iter()
                .filter(|entry| entry.transition.as_deref() == Some("retention"))
                .count(),
            1,
            "anonymised once: {}",
            db.kind
        );
        verified(&store).await;
    }
}

fn caseflow(home: &Home, url: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_caseflow"))
        .args(args)
        .current_dir(home.path())
        .env("DATABASE_URL", url)
        .env("CASEFLOW_HOME", home.path())
        .output()
        .expect("run caseflow");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_retention_command_previews_then_applies() {
    let home = home();
    let catalog = catalog(&home);
    let url = format!("sqlite://{}?mode=rwc", home.path().join("cf.db").display());
    let store = Store::connect(&url, caseflow::config::Durability::Normal)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let now = Utc::now();
    let service = service_at(&store, &catalog, now);
    let org = store.create_org("debt", now).await.expect("org").id;
    service
        .publish(org, "debt_advice.yaml", WORKFLOW, "test")
        .await
        .expect("publish");
    let case = open_case(&service, org).await;
    close(&service, org, case).await;
    store.close().await;

    let at = (now + Duration::days(6 * 366)).to_rfc3339();
    let (code, out, err) = caseflow(&home, &url, &["retention", "--dry-run", "--at", &at]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "would case {case} (debt_advice in closed, closed "
        )) && out.contains(
            "anonymise /client/name /client/phone /client/contacts/0/name; trail entries 1,2"
        ),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("would apply 1 step(s) on 1 closed case(s); 0 under legal hold; 0 failed"),
        "{out}"
    );
    let (code, out, _) = caseflow(&home, &url, &["retention", "--dry-run", "--at", &at]);
    assert_eq!(code, 0);
    assert!(
        out.contains("would apply 1 step(s)"),
        "a dry run changes nothing: {out}"
    );

    let (code, out, err) = caseflow(&home, &url, &["retention", "--at", &at]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("applied 1 step(s) on 1 closed case(s)"),
        "{out}"
    );
    let (code, out, _) = caseflow(&home, &url, &["retention", "--at", &at]);
    assert_eq!(code, 0);
    assert!(out.contains("applied 0 step(s)"), "{out}");
    let (code, out, err) = caseflow(&home, &url, &["verify-audit"]);
    assert_eq!(code, 0, "{out}{err}");
}
