//! The background workers on both databases: deadlines fire once (and not
//! after the case moved on), notifications arrive in-app and by e-mail (as
//! `.eml` files or over a real SMTP exchange), and pending deadlines survive
//! a restart of the workers.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseflow::engine::Catalog;
use caseflow::jobs::{JobContext, RetrySettings, Workers};
use caseflow::mail::{Mailer, Templates};
use caseflow::passwords::hash_password;
use caseflow::rules::Actor;
use caseflow::service::Service;
use caseflow::storage::Store;
use common::Home;
use common::db::databases;
use serde_json::{Value, json};
use uuid::Uuid;

const REMINDERS: &str = r#"workflow: reminders
version: 1
title: Reminders
initial: open
roles: [worker, lead]
states:
  open:
    deadlines:
      - after: 1s
        notify: { roles: [lead], template: nudge }
      - after: 2s
        fire: expire
  done: { terminal: true }
  expired: { terminal: true }
transitions:
  finish:
    from: [open]
    roles: [worker]
    to: done
  expire:
    from: [open]
    roles: [lead]
    to: expired
    notify: [{ roles: [lead], to: case.contact, template: expired }]
"#;

/// The tests here run one at a time: each runs workers that poll and time
/// deadlines, and six at once on two cores made them miss their waits.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Worker logs, shown with a failing test's output.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "caseflow=debug,apalis=warn".to_owned()),
        )
        .with_test_writer()
        .try_init();
}

fn home() -> Home {
    home_with(REMINDERS)
}

fn home_with(reminders: &str) -> Home {
    let home = Home::empty();
    home.write("workflows/reminders.yaml", reminders);
    home.write(
        "templates/notify/nudge.txt.tera",
        "Subject: Case {{ case.data.name }} is waiting\n\nPlease look at {{ links.case }}\n",
    );
    home.write(
        "templates/notify/expired.txt.tera",
        "Subject: Case {{ case.data.name }} expired\n\nIt waited too long & nobody <acted>; {{ transition }} by {{ actor.id }}.\n",
    );
    home
}

fn service(store: Store, home: &Home) -> Arc<Service> {
    let sources = caseflow::home::load_sources(home.path(), None);
    let (catalog, diagnostics) = Catalog::load(&sources);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    Arc::new(Service::new(
        store,
        Arc::new(catalog),
        Arc::new(chrono::Utc::now),
    ))
}

fn start_workers(service: &Arc<Service>, home: &Home, mailer: Mailer) -> Workers {
    let templates =
        Templates::load(&home.path().join("templates/notify")).expect("templates compile");
    Workers::start(Arc::new(JobContext {
        service: service.clone(),
        templates,
        mailer,
        mail_from: "caseflow@example.org".to_owned(),
        base_url: "http://caseflow.test".to_owned(),
        retry: RetrySettings::default(),
        retention: Default::default(),
        cron: Vec::new(),
    }))
}

/// An organisation with the reminders workflow, a worker and a lead.
async fn organisation(service: &Service) -> Uuid {
    organisation_with(service, REMINDERS).await
}

/// As [`organisation`], publishing `reminders` as its reminders workflow.
async fn organisation_with(service: &Service, reminders: &str) -> Uuid {
    let store = service.store();
    let org = store
        .create_org("north", chrono::Utc::now())
        .await
        .expect("org")
        .id;
    service
        .publish(org, "reminders.yaml", reminders, "test")
        .await
        .expect("publish");
    let hash = hash_password("irrelevant password").expect("hash");
    for (email, role) in [
        ("worker@example.org", "worker"),
        ("lead@example.org", "lead"),
    ] {
        store
            .create_user(org, email, &hash, &[role.to_owned()], chrono::Utc::now())
            .await
            .expect("user");
    }
    org
}

async fn open_case(service: &Service, org: Uuid, name: &str) -> Uuid {
    service
        .create_case(
            org,
            &Actor::user("worker@example.org", vec!["worker".to_owned()]),
            "reminders",
            json!({"name": name, "contact": "family@example.org"}),
            None,
        )
        .await
        .expect("case")
        .id
}

/// Polls until `done` holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn transitions(service: &Service, org: Uuid, case: Uuid) -> Vec<(String, String)> {
    service
        .store()
        .history(org, case)
        .await
        .expect("history")
        .into_iter()
        .filter_map(|entry| entry.transition.map(|t| (t, entry.actor)))
        .collect()
}

async fn lead_notifications(service: &Service, org: Uuid) -> Vec<(Option<Uuid>, String)> {
    let store = service.store();
    let lead = store.user_by_email("lead@example.org").await.expect("lead");
    let mut found: Vec<_> = store
        .notifications(org, lead.id, false, 500)
        .await
        .expect("notifications")
        .into_iter()
        .map(|n| (n.case_id, n.template))
        .collect();
    found.sort();
    found
}

fn eml_files(folder: &std::path::Path) -> Vec<String> {
    let mut texts: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    texts.sort();
    texts
}

#[tokio::test]
async fn deadlines_fire_once_skip_cases_that_moved_on_and_notify() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    for db in databases().await {
        let home = home();
        let mail = tempfile::tempdir().expect("mail dir");
        let service = service(db.store().await, &home);
        let org = organisation(&service).await;
        let workers = start_workers(&service, &home, Mailer::Files(mail.path().to_path_buf()));

        let waiting = open_case(&service, org, "Aroha").await;
        let finished = open_case(&service, org, "Bea").await;
        service
            .fire(
                org,
                &Actor::user("worker@example.org", vec!["worker".to_owned()]),
                finished,
                "finish",
                &Value::Null,
                None,
                None,
            )
            .await
            .expect("finish");

        let expired = eventually(Duration::from_secs(60), || async {
            service
                .store()
                .case(org, waiting)
                .await
                .expect("case")
                .state
                == "expired"
        })
        .await;
        assert!(expired, "{}: the 2s deadline fired", db.kind);
        // Give any duplicate a chance to show itself.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            transitions(&service, org, waiting).await,
            [("expire".to_owned(), "system".to_owned())],
            "{}: fired exactly once, by the system",
            db.kind
        );
        assert_eq!(
            transitions(&service, org, finished).await,
            [("finish".to_owned(), "worker@example.org".to_owned())],
            "{}: a case that moved on is left alone",
            db.kind
        );
        let notified = eventually(Duration::from_secs(10), || async {
            lead_notifications(&service, org).await.len() >= 2
        })
        .await;
        assert!(notified, "{}", db.kind);
        assert_eq!(
            lead_notifications(&service, org).await,
            [
                (Some(waiting), "expired".to_owned()),
                (Some(waiting), "nudge".to_owned())
            ],
            "{}: the finished case's reminder was skipped",
            db.kind
        );
        let emails = eml_files(mail.path());
        assert_eq!(
            emails.len(),
            3,
            "{}: nudge to the lead, expiry to the lead and the family",
            db.kind
        );
        let expiry = emails
            .iter()
            .find(|e| e.contains("family@example.org"))
            .expect("the family's e-mail");
        assert!(expiry.contains("Subject: Case Aroha expired"), "{expiry}");
        assert!(expiry.contains("Content-Type: text/plain"), "{expiry}");
        assert!(expiry.contains("Content-Type: text/html"), "{expiry}");
        assert!(
            expiry.contains("nobody &lt;acted&gt;"),
            "HTML is escaped: {expiry}"
        );
        assert!(
            expiry.contains("expire by system."),
            "the move's actor: {expiry}"
        );
        workers.stop().await;
    }
}

#[tokio::test]
async fn a_notification_goes_over_smtp_with_both_parts() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    let db = common::db::sqlite();
    let home = home();
    let smtp = common::smtp::SmtpSink::start().await;
    let service = service(db.store().await, &home);
    let org = organisation(&service).await;
    let mailer =
        Mailer::from_settings(Some(&smtp.url), std::path::Path::new("unused")).expect("smtp url");
    let workers = start_workers(&service, &home, mailer);
    open_case(&service, org, "Aroha").await;
    let arrived = eventually(Duration::from_secs(60), || async {
        smtp.messages().len() >= 3
    })
    .await;
    assert!(arrived, "{:?}", smtp.messages());
    let messages = smtp.messages();
    let nudge = messages
        .iter()
        .find(|m| m.data.contains("is waiting"))
        .expect("the nudge");
    assert_eq!(nudge.from, "<caseflow@example.org>");
    assert_eq!(nudge.to, ["<lead@example.org>"]);
    assert!(nudge.data.contains("Subject: Case Aroha is waiting"));
    assert!(nudge.data.contains("http://caseflow.test/cases/"));
    assert!(nudge.data.contains("text/html"));
    workers.stop().await;
}

#[tokio::test]
async fn pending_deadlines_survive_a_restart_of_the_workers() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    for db in databases().await {
        let home = home();
        let mail = tempfile::tempdir().expect("mail dir");
        let first = service(db.store().await, &home);
        let org = organisation(&first).await;
        let workers = start_workers(&first, &home, Mailer::Files(mail.path().to_path_buf()));
        let case = open_case(&first, org, "Aroha").await;
        // Stop before anything is due: the deadlines are queued, not run.
        tokio::time::sleep(Duration::from_millis(300)).await;
        workers.stop().await;
        assert_eq!(
            first.store().case(org, case).await.expect("case").state,
            "open"
        );

        tokio::time::sleep(Duration::from_secs(2)).await;
        let second = service(db.store().await, &home);
        let workers = start_workers(&second, &home, Mailer::Files(mail.path().to_path_buf()));
        let expired = eventually(Duration::from_secs(60), || async {
            second.store().case(org, case).await.expect("case").state == "expired"
        })
        .await;
        assert!(expired, "{}: fired late, after the restart", db.kind);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(
            transitions(&second, org, case).await.len(),
            1,
            "{}",
            db.kind
        );
        workers.stop().await;
    }
}

#[tokio::test]
async fn two_workers_on_one_postgres_fire_each_deadline_once() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    for db in databases().await {
        if db.kind != "postgres" {
            continue;
        }
        let home = home();
        let mail = tempfile::tempdir().expect("mail dir");
        let a = service(db.store().await, &home);
        let org = organisation(&a).await;
        let b = service(db.store().await, &home);
        let mut cases = Vec::new();
        for index in 0..1000 {
            cases.push(open_case(&a, org, &format!("client {index}")).await);
        }
        let first = start_workers(&a, &home, Mailer::Files(mail.path().to_path_buf()));
        let second = start_workers(&b, &home, Mailer::Files(mail.path().to_path_buf()));
        let started = Instant::now();
        let expired = std::sync::atomic::AtomicUsize::new(0);
        // A bound for a stuck queue, not a speed target (see benches/deadlines.rs).
        let all_expired = eventually(Duration::from_secs(300), || async {
            let count = common::db::execute_unscoped(
                a.store(),
                "SELECT COUNT(*) FROM cases WHERE state = 'expired' \
                 AND org_id = (SELECT org_id FROM cases WHERE id = $1)",
                cases[0],
            )
            .await;
            let count = usize::try_from(count[0]).unwrap_or(0);
            expired.store(count, std::sync::atomic::Ordering::Relaxed);
            count == cases.len()
        })
        .await;
        assert!(
            all_expired,
            "{} of {} expired after {:?}",
            expired.into_inner(),
            cases.len(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for case in &cases {
            assert_eq!(transitions(&a, org, *case).await.len(), 1, "case {case}");
        }
        // Both deadlines were overdue when the workers started, so a reminder
        // may rightly be skipped once its case expired; none may come twice.
        let nudges: Vec<_> = lead_notifications(&a, org)
            .await
            .into_iter()
            .filter(|(_, template)| template == "nudge")
            .collect();
        let mut unique = nudges.clone();
        unique.dedup();
        assert_eq!(unique, nudges, "no reminder twice");
        // In-app copies are unique by construction; e-mails show a job run twice.
        let header = |eml: &str, name: &str| {
            eml.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_default()
                .to_owned()
        };
        let mut sent: Vec<(String, String)> = eml_files(mail.path())
            .iter()
            .map(|eml| (header(eml, "To: "), header(eml, "Subject: ")))
            .collect();
        let total = sent.len();
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), total, "no e-mail twice");
        assert!(
            total >= 2 * cases.len(),
            "expiry e-mails to the lead and the family"
        );
        first.stop().await;
        second.stop().await;
    }
}

#[test]
fn every_shipped_template_renders_for_a_referral() {
    let templates =
        Templates::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/notify"))
            .expect("the shipped templates compile");
    let case = json!({
        "id": Uuid::nil(), "workflow": "referral", "state": "waitlisted", "version": 5,
        "data": {
            "client": {"name": "Aroha Ngata", "date_of_birth": "2008-04-01"},
            "referrer": {"name": "Dr Walker", "organisation": "Te Whare GP", "email": "gp@example.org"},
            "reason": "Low mood", "risk_level": "low", "program": "group_programme",
            "key_worker": "kw@example.org", "start_date": "2026-02-01",
            "consent": {"requested_on": "2026-01-05", "expiry_date": "2027-01-05"},
            "decline": {"reason": "referred_elsewhere", "details": "Closer to home"}
        }
    });
    // The fields the other shipped processes' templates read.
    let others: Value = serde_json::from_str(
        r#"{
        "name": "Aroha Ngata", "risk_notes": "Disclosed self-harm", "episode": 1,
        "consent_expiry": "2027-01-05", "exit": {"reason": "goals_met", "exit_date": "2026-06-01"},
        "participant": {"name": "Jordan Lee", "ndis_number": "430123456"},
        "worker_id": "kim@example.org", "cost": 140.46,
        "session": {"date": "2026-01-05"}, "rejection": {"reason": "times_incorrect"},
        "used": 900.0, "total_budget": 1000.0, "end_date": "2026-06-30",
        "invoice_number": "INV-1", "due_date": "2026-01-20",
        "totals": {"subtotal": 165.21, "gst": 2.48, "total": 167.69},
        "requirement": "conc_8_2_financial_statement", "check_type": "file_review",
        "deadline": "2026-01-15", "finding": {"text": "Income not verified", "severity": "minor"},
        "remedial": {"action": "Re-verify income", "deadline": "2026-02-15"},
        "resident": {"name": "Margaret Hughes"}, "plan_type": "nursing", "review_date": "2026-04-01",
        "category": "fall", "severity": "serious", "occurred_on": "2026-01-05",
        "description": "Found on the floor", "immediate_action": "GP called"
        }"#,
    )
    .expect("sample data");
    let mut case = case;
    case["data"]
        .as_object_mut()
        .expect("data")
        .extend(others.as_object().expect("object").clone());
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/notify"))
            .expect("templates")
            .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".txt.tera") else {
            continue;
        };
        for about in [
            json!({"actor": {"id": "clinician@example.org"}, "transition": "assess", "deadline": null}),
            json!({"actor": {"id": "system"}, "transition": null, "deadline": {"state": "submitted", "index": 0}}),
        ] {
            let mut scope =
                json!({"case": case, "links": {"case": "http://caseflow.test/cases/1"}});
            scope
                .as_object_mut()
                .expect("object")
                .extend(about.as_object().expect("object").clone());
            let rendered = templates
                .render(name, &scope)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(!rendered.subject.is_empty(), "{name}");
            assert!(rendered.html.starts_with("<!doctype html>"), "{name}");
        }
    }
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_listed_for_admins_and_can_be_retried() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    use caseflow::http::{AppState, router};
    use common::api::{Api, PASSWORD};

    for db in databases().await {
        // The nudge must fail for good before the expiry moves the case on,
        // or it finds the case expired and is skipped: with one second
        // between them, the nudge's first try on PostgreSQL came as late as
        // the expiry. The organisation's published workflow is the one cases
        // follow, so the later expiry goes there, not only into the home.
        let reminders = REMINDERS.replace("after: 2s", "after: 5s");
        let home = home_with(&reminders);
        let dir = tempfile::tempdir().expect("dir");
        // A file where the mail folder should be: every e-mail fails.
        let blocked = dir.path().join("outbox");
        std::fs::write(&blocked, "not a folder").expect("block");
        let service = service(db.store().await, &home);
        let org = organisation_with(&service, &reminders).await;
        let store = service.store();
        let hash = hash_password(PASSWORD).expect("hash");
        store
            .create_user(
                org,
                "admin@example.org",
                &hash,
                &["admin".to_owned()],
                chrono::Utc::now(),
            )
            .await
            .expect("admin");
        let other = store
            .create_org("south", chrono::Utc::now())
            .await
            .expect("org")
            .id;
        store
            .create_user(
                other,
                "south@example.org",
                &hash,
                &["admin".to_owned()],
                chrono::Utc::now(),
            )
            .await
            .expect("admin");
        let templates =
            Templates::load(&home.path().join("templates/notify")).expect("templates compile");
        let workers = Workers::start(Arc::new(JobContext {
            service: service.clone(),
            templates,
            mailer: Mailer::Files(blocked.clone()),
            mail_from: "caseflow@example.org".to_owned(),
            base_url: "http://caseflow.test".to_owned(),
            retry: RetrySettings {
                attempts: 1,
                retries_per_attempt: 1,
                min_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(20),
            },
            retention: Default::default(),
            cron: Vec::new(),
        }));
        let api = Api {
            app: router(AppState::new(service.clone())),
            kind: db.kind,
        };
        let admin = api.login("admin@example.org").await;
        let south = api.login("south@example.org").await;
        open_case(&service, org, "Aroha").await;

        // The nudge and the expiry's notification both fail to send.
        let mut failed = Value::Null;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            failed = api.get("/api/v1/jobs?status=failed", &admin).await.1;
            if failed.as_array().is_some_and(|jobs| jobs.len() >= 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let listed = failed.as_array().is_some_and(|jobs| jobs.len() >= 2);
        assert!(listed, "{}: {failed}", db.kind);
        let jobs = failed.as_array().expect("jobs").clone();
        assert!(
            jobs.iter().any(|j| j["job"]["job"] == "deadline"),
            "{failed}"
        );
        assert!(jobs.iter().any(|j| j["job"]["job"] == "notify"), "{failed}");
        assert!(jobs[0]["last_result"].is_string(), "{failed}");
        let (_, theirs) = api.get("/api/v1/jobs?status=failed", &south).await;
        assert_eq!(
            theirs,
            json!([]),
            "{}: another organisation's jobs",
            db.kind
        );
        let (status, _) = api.get("/api/v1/jobs?status=done", &admin).await;
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);

        // Mail works again: a retry sends what failed.
        std::fs::remove_file(&blocked).expect("unblock");
        for job in &jobs {
            let uri = format!("/api/v1/jobs/{}/retry", job["id"].as_str().expect("id"));
            let (status, _, _) = api.call("POST", &uri, Some(&south), None).await;
            assert_eq!(status, axum::http::StatusCode::NOT_FOUND, "{}", db.kind);
            let (status, _, _) = api.call("POST", &uri, Some(&admin), None).await;
            assert_eq!(status, axum::http::StatusCode::NO_CONTENT, "{}", db.kind);
        }
        // The reminder's case has expired meanwhile, so its retry rightly
        // sends nothing; the expiry goes to the lead and the family.
        let sent = eventually(Duration::from_secs(60), || async {
            eml_files(&blocked).len() >= 2
        })
        .await;
        assert!(sent, "{}: {:?}", db.kind, eml_files(&blocked).len());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let emails = eml_files(&blocked);
        assert_eq!(emails.len(), 2, "{}", db.kind);
        assert!(emails.iter().all(|e| e.contains("expired")), "{emails:?}");
        let (_, left) = api.get("/api/v1/jobs?status=failed", &admin).await;
        assert_eq!(left, json!([]), "{}", db.kind);
        workers.stop().await;
    }
}

#[tokio::test]
async fn a_start_case_job_run_twice_opens_one_case() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    for db in databases().await {
        let home = home();
        let service = service(db.store().await, &home);
        let org = organisation(&service).await;
        let id = Uuid::now_v7();
        let job = caseflow::jobs::Job::StartCase {
            org,
            workflow: "reminders".to_owned(),
            data: json!({"name": "Linked", "contact": "family@example.org"}),
            id: Some(id),
        };
        // As if the first run opened the case but died before it was acknowledged.
        for key in ["first-run", "retried-run"] {
            service
                .store()
                .queue_job(&caseflow::storage::QueuedJob {
                    key: key.to_owned(),
                    args: serde_json::to_vec(&job).expect("json"),
                    run_at: chrono::Utc::now(),
                    attempts: 1,
                })
                .await
                .expect("queue");
        }
        let mail = tempfile::tempdir().expect("mail dir");
        let workers = start_workers(&service, &home, Mailer::Files(mail.path().to_path_buf()));
        let opened = eventually(Duration::from_secs(60), || async {
            service.store().case(org, id).await.is_ok()
        })
        .await;
        assert!(opened, "{}", db.kind);
        let done_sql: &'static str = Box::leak(
            format!(
                // Only these two: the case they open queues jobs of its own.
                "SELECT COUNT(*) FROM {} WHERE status = 'Done' \
                 AND idempotency_key IN ('first-run', 'retried-run') AND $1 IS NOT NULL",
                service.store().job_table()
            )
            .into_boxed_str(),
        );
        let settled = eventually(Duration::from_secs(60), || async {
            let failed = service
                .store()
                .failed_jobs(org, 100)
                .await
                .map(|jobs| jobs.len())
                .unwrap_or(usize::MAX);
            let done = common::db::execute_unscoped(service.store(), done_sql, id).await;
            failed == 0 && done == [2]
        })
        .await;
        workers.stop().await;
        assert!(settled, "both runs finished without failing: {}", db.kind);
        let page = service
            .store()
            .cases(
                org,
                &caseflow::storage::CaseFilter {
                    workflow: Some("reminders".to_owned()),
                    state: None,
                    after: None,
                    limit: 10,
                },
            )
            .await
            .expect("cases");
        assert_eq!(page.items.len(), 1, "{}", db.kind);
    }
}

/// SQLite queues a dispatch's jobs in one statement; a row handed over a
/// second time (as by a second process) must still queue its job once.
#[tokio::test]
async fn an_outbox_row_dispatched_twice_queues_its_job_once_on_sqlite() {
    logs();
    let _serial = ONE_AT_A_TIME.lock().await;
    let db = common::db::sqlite();
    assert_eq!(db.kind, "sqlite");
    let home = home();
    let service = service(db.store().await, &home);
    let org = organisation(&service).await;
    let mut cases = Vec::new();
    for name in ["Aroha", "Mere", "Tama"] {
        cases.push(open_case(&service, org, name).await);
    }
    let dispatch = || async {
        service
            .store()
            .dispatch_outbox(64, chrono::Utc::now(), |row| caseflow::jobs::plan(row, 1))
            .await
            .expect("dispatch")
    };
    let taken = dispatch().await;
    assert!(
        taken >= cases.len(),
        "every new case has an effect: {taken}"
    );
    let count_sql: &'static str = "SELECT COUNT(*) FROM Jobs WHERE $1 IS NOT NULL";
    let queued = common::db::execute_unscoped(service.store(), count_sql, cases[0]).await;
    assert!(queued[0] >= 1, "{queued:?}");

    for case in &cases {
        common::db::execute_unscoped(
            service.store(),
            "UPDATE outbox SET status = 'pending' WHERE case_id = $1",
            *case,
        )
        .await;
    }
    assert_eq!(dispatch().await, taken, "the same rows are taken again");
    let again = common::db::execute_unscoped(service.store(), count_sql, cases[0]).await;
    assert_eq!(again, queued, "no job is queued twice");
}

/// apalis-sqlite's acknowledgement, word for word (queries/task/ack.sql in apalis-sqlite 1.0).
const APALIS_SQLITE_ACK: &str = "WITH j AS (SELECT value ->> 'task_id' AS task_id, \
    value ->> 'attempt' AS attempt, value ->> 'result' AS result, value ->> 'status' AS status \
    FROM json_each(?1)) \
    UPDATE Jobs SET status = j.status, attempts = j.attempt, last_result = j.result, \
    done_at = strftime('%s', 'now') FROM j WHERE Jobs.id = j.task_id AND Jobs.lock_by = ?2";

#[tokio::test]
async fn acknowledging_a_job_on_sqlite_looks_it_up_by_id_not_by_worker() {
    use sqlx::Row;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("jobs.db").display());
    let store = caseflow::storage::Store::connect(&url, caseflow::config::Durability::Normal)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    // Twice, as on every start: the index stays gone.
    store.migrate().await.expect("migrate again");
    let caseflow::storage::Db::Sqlite(pool) = store.db() else {
        unreachable!("a SQLite URL gives a SQLite store");
    };
    let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {APALIS_SQLITE_ACK}"
    )))
    .bind("[]")
    .bind("worker")
    .fetch_all(pool)
    .await
    .expect("plan")
    .iter()
    .map(|row| row.get::<String, _>("detail"))
    .collect();
    // Walking the worker's jobs would parse the JSON once per job it ever took.
    assert!(
        plan.first().is_some_and(|step| step.contains("json_each")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|step| step.contains("SEARCH Jobs") && step.contains("(id=?)")),
        "{plan:?}"
    );
    store.close().await;
}
