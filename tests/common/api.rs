//! The HTTP API through the real router (no socket): a client with the
//! request helpers, and two organisations with the shipped referral workflow.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use caseflow::http::{AppState, router};
use caseflow::passwords::hash_password;
use caseflow::service::Service;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::db::{TestDb, service, shipped_referral};

pub struct Api {
    pub app: axum::Router,
    pub kind: &'static str,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl Api {
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, String, Value) {
        let (status, headers, bytes) = self.send(method, uri, token, body, &[]).await;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, value)
    }

    /// Any request, with extra headers; the raw answer.
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some((content_type, text)) => request
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(text)),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, bytes.to_vec())
    }

    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self
            .call(
                method,
                uri,
                token,
                Some(("application/json", body.to_string())),
            )
            .await;
        (status, value)
    }

    pub async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (status, _, value) = self.call("GET", uri, Some(token), None).await;
        (status, value)
    }

    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .json(
                "POST",
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", self.kind);
        body["token"].as_str().expect("token").to_owned()
    }
}

pub async fn user(service: &Service, org: uuid::Uuid, email: &str, roles: &[&str]) {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let hash = hash_password(PASSWORD).expect("hash");
    service
        .store()
        .create_user(org, email, &hash, &roles, chrono::Utc::now())
        .await
        .expect("user");
}

/// Two organisations with the referral workflow, and users with various roles.
pub async fn setup(db: &TestDb) -> (Api, Arc<Service>) {
    let service = service(db.store().await);
    for (org, prefix) in [("north", "n"), ("south", "s")] {
        let id = service
            .store()
            .create_org(org, chrono::Utc::now())
            .await
            .expect("org")
            .id;
        service
            .publish(id, "referral.yaml", &shipped_referral(), "test")
            .await
            .expect("publish");
        user(
            &service,
            id,
            &format!("{prefix}-admin@example.org"),
            &["admin", "clinician", "team_leader", "intake_worker"],
        )
        .await;
        user(
            &service,
            id,
            &format!("{prefix}-clinician@example.org"),
            &["clinician"],
        )
        .await;
        user(
            &service,
            id,
            &format!("{prefix}-auditor@example.org"),
            &["auditor"],
        )
        .await;
    }
    let app = router(AppState::new(service.clone()));
    (Api { app, kind: db.kind }, service)
}

pub fn referral() -> Value {
    json!({"workflow": "referral", "data": {
        "client": {"name": "Aroha Ngata", "date_of_birth": "2008-04-01"},
        "referrer": {"name": "Dr Walker", "organisation": "GP", "email": "gp@example.org"},
        "reason": "Low mood"}})
}

pub fn assessment(risk: &str, safety_plan: bool) -> Value {
    json!({"form": {"risk_level": risk, "presenting_issue": "Stress", "interpreter_needed": false, "safety_plan_in_place": safety_plan}})
}
