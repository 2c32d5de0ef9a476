//! The shipped processes end to end, on both databases: each driven through
//! the HTTP API as its real roles would, refusals included, with the
//! background workers carrying out deadlines, started cases and linked moves.

#[path = "../common/mod.rs"]
mod common;

mod care;
mod counselling;
mod ndis;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use caseflow::http::{AppState, router};
use caseflow::jobs::{JobContext, RetrySettings, Workers};
use caseflow::mail::{Mailer, Templates};
use caseflow::service::Service;
use common::api::{Api, user};
use common::db::{TestDb, service};
use serde_json::{Value, json};
use uuid::Uuid;

/// Workers poll and time deadlines: one world at a time keeps two cores from missing waits.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Everyone who works a process, by short name, with their roles.
const STAFF: &[(&str, &[&str])] = &[
    ("intake", &["intake_worker"]),
    ("clinician", &["clinician"]),
    ("lead", &["team_leader"]),
    ("key", &["key_worker"]),
    ("worker", &["support_worker"]),
    ("coordinator", &["support_coordinator"]),
    ("both", &["support_worker", "support_coordinator"]),
    ("planner", &["plan_manager"]),
    ("finance", &["finance_officer"]),
    ("finance_manager", &["finance_manager"]),
    ("adviser", &["adviser"]),
    ("officer", &["compliance_officer"]),
    ("compliance_manager", &["compliance_manager"]),
    ("nurse", &["nurse"]),
    ("manager", &["care_manager"]),
    ("carer", &["care_worker"]),
    ("admin", &["admin"]),
];

/// An organisation running every shipped workflow, its staff signed in, the workers on.
pub struct World {
    pub api: Api,
    pub service: Arc<Service>,
    pub org: Uuid,
    /// Another organisation, to show nothing crosses over.
    pub other_org: Uuid,
    tokens: HashMap<&'static str, String>,
    workers: Option<Workers>,
    _mail: tempfile::TempDir,
}

impl World {
    pub async fn new(db: &TestDb) -> Self {
        let service = service(db.store().await);
        let mut orgs = Vec::new();
        for name in ["north", "south"] {
            let org = service
                .store()
                .create_org(name, chrono::Utc::now())
                .await
                .expect("org")
                .id;
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            for path in caseflow::home::files_with(&root.join("workflows"), &["yaml"]) {
                let text = std::fs::read_to_string(&path).expect("workflow");
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or("x.yaml");
                service
                    .publish(org, file, &text, "test")
                    .await
                    .expect("publish");
            }
            orgs.push(org);
        }
        let (org, other_org) = (orgs[0], orgs[1]);
        for (name, roles) in STAFF {
            user(&service, org, &format!("{name}@north.example"), roles).await;
        }
        user(
            &service,
            other_org,
            "intake@south.example",
            &["intake_worker"],
        )
        .await;
        let api = Api {
            app: router(AppState::new(service.clone())),
            kind: db.kind,
        };
        let mut tokens = HashMap::new();
        for (name, _) in STAFF {
            tokens.insert(*name, api.login(&format!("{name}@north.example")).await);
        }
        tokens.insert("south", api.login("intake@south.example").await);
        let mail = tempfile::tempdir().expect("mail dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let templates = Templates::load(&root.join("templates/notify")).expect("templates");
        let workers = Workers::start(Arc::new(JobContext {
            service: service.clone(),
            templates,
            mailer: Mailer::Files(mail.path().to_path_buf()),
            mail_from: "caseflow@example.org".to_owned(),
            base_url: "http://caseflow.test".to_owned(),
            retry: RetrySettings::default(),
            retention: Default::default(),
            cron: Vec::new(),
        }));
        Self {
            api,
            service,
            org,
            other_org,
            tokens,
            workers: Some(workers),
            _mail: mail,
        }
    }

    pub fn token(&self, who: &str) -> &str {
        self.tokens
            .get(who)
            .unwrap_or_else(|| panic!("no staff member {who}"))
    }

    /// Opens a case as `who`; its id.
    pub async fn open(&self, who: &str, workflow: &str, data: Value) -> String {
        let (status, case) = self
            .api
            .json(
                "POST",
                "/api/v1/cases",
                Some(self.token(who)),
                json!({"workflow": workflow, "data": data}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {case}", self.api.kind);
        case["id"].as_str().expect("id").to_owned()
    }

    /// Fires `transition` as `who`: the status and the answer.
    pub async fn fire(
        &self,
        who: &str,
        case: &str,
        transition: &str,
        form: Value,
    ) -> (StatusCode, Value) {
        self.api
            .json(
                "POST",
                &format!("/api/v1/cases/{case}/transitions/{transition}"),
                Some(self.token(who)),
                json!({"form": form}),
            )
            .await
    }

    /// Fires and expects the move to `state`; the case after it.
    pub async fn moves(
        &self,
        who: &str,
        case: &str,
        transition: &str,
        form: Value,
        state: &str,
    ) -> Value {
        let (status, moved) = self.fire(who, case, transition, form).await;
        assert_eq!(
            (status, moved["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{}: {transition} by {who}: {moved}",
            self.api.kind
        );
        moved
    }

    /// Fires and expects a guard refusal mentioning `reason`.
    pub async fn refused(
        &self,
        who: &str,
        case: &str,
        transition: &str,
        form: Value,
        reason: &str,
    ) {
        let (status, body) = self.fire(who, case, transition, form).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            self.api.kind
        );
        let reasons = body["reasons"].to_string();
        assert!(
            reasons.contains(reason),
            "{}: expected “{reason}” in {body}",
            self.api.kind
        );
    }

    pub async fn case(&self, id: &str) -> Value {
        let (status, case) = self
            .api
            .get(&format!("/api/v1/cases/{id}"), self.token("lead"))
            .await;
        assert_eq!(status, StatusCode::OK, "{case}");
        case
    }

    /// Waits (at most a minute) until the case is in `state`, moved there by the workers.
    pub async fn reaches(&self, id: &str, state: &str) -> Value {
        let started = Instant::now();
        loop {
            let case = self.case(id).await;
            if case["state"] == state {
                return case;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: the case stayed in {} instead of reaching {state}",
                self.api.kind,
                case["state"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `check` holds of the case's data.
    pub async fn data_until(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let case = self.case(id).await;
            if check(&case["data"]) {
                return case;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: {what} never happened: {}",
                self.api.kind,
                case["data"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `who` has an in-app notification from `template`.
    pub async fn notified(&self, who: &str, template: &str) {
        let started = Instant::now();
        loop {
            let (_, listed) = self.api.get("/api/v1/notifications", self.token(who)).await;
            let found = listed
                .as_array()
                .or_else(|| listed["items"].as_array())
                .is_some_and(|items| items.iter().any(|n| n["template"] == template));
            if found {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}: {who} never got {template}: {listed}",
                self.api.kind
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(workers) = self.workers.take() {
            workers.stop().await;
        }
    }
}

/// `YYYY-MM-DD`, `days` from today.
pub fn day(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}
