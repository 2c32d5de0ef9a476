//! The HTTP API's operational side through the real router: the OpenAPI
//! document against the routes served, metrics, request ids, Idempotency-Key,
//! API keys, users, slowed sign-ins, the case-read log, tasks and notifications.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::api::{Api, assessment, referral, setup};
use common::db::databases;
use serde_json::{Value, json};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn open_case(api: &Api, token: &str) -> String {
    let (status, case) = api
        .json("POST", "/api/v1/cases", Some(token), referral())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {case}", api.kind);
    case["id"].as_str().expect("id").to_owned()
}

/// Writes an in-app notification for north's clinician about case `id`, as
/// the notification worker would.
async fn notify_clinician(
    service: &caseflow::service::Service,
    id: &str,
    subject: &str,
) -> caseflow::storage::Notification {
    let store = service.store();
    let org = store.org_by_name("north").await.expect("org").id;
    let me = store
        .user_by_email("n-clinician@example.org")
        .await
        .expect("user")
        .id;
    let note = caseflow::storage::Notification {
        id: uuid::Uuid::now_v7(),
        case_id: Some(id.parse().expect("uuid")),
        template: "referral_assessed".to_owned(),
        subject: subject.to_owned(),
        body: "See the case.".to_owned(),
        created_at: chrono::Utc::now(),
        read_at: None,
    };
    store
        .insert_notification(org, me, &note)
        .await
        .expect("note");
    note
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_served() {
    let db = common::db::sqlite();
    let (api, _) = setup(&db).await;
    let (status, _, doc) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/workflows", "get"),
        ("/api/v1/workflows", "post"),
        ("/api/v1/workflows/validate", "post"),
        ("/api/v1/workflows/{workflow}", "get"),
        ("/api/v1/workflows/{workflow}/diagram.svg", "get"),
        ("/api/v1/cases", "get"),
        ("/api/v1/cases", "post"),
        ("/api/v1/cases/{id}", "get"),
        ("/api/v1/cases/{id}/history", "get"),
        ("/api/v1/cases/{id}/transitions", "get"),
        ("/api/v1/cases/{id}/transitions/{name}", "post"),
        ("/api/v1/cases/{id}/transitions/{name}/form", "get"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/notifications", "get"),
    ] {
        assert!(
            paths
                .get(path)
                .is_some_and(|item| item.get(method).is_some()),
            "the contract's {method} {path} is not in the document"
        );
    }
    // Every documented operation is served: unsigned, it is refused for want
    // of a token (or answered, when public), never 404 or 405.
    let public = ["/health", "/openapi.json", "/metrics"];
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            operations += 1;
            let uri = path
                .replace("{id}", "0190b5d2-0000-7000-8000-000000000000")
                .replace("{workflow}", "referral")
                .replace("{name}", "assess");
            let (status, _, _) = api
                .send(&method.to_uppercase(), &uri, None, None, &[])
                .await;
            let expected = if public.contains(&path.as_str()) {
                StatusCode::OK
            } else if path == "/api/v1/auth/login" {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected, "{method} {uri}");
            for response in item[method]["responses"]
                .as_object()
                .expect("responses")
                .keys()
            {
                assert!(
                    response.parse::<u16>().is_ok(),
                    "{method} {path}: {response}"
                );
            }
        }
    }
    assert!(operations >= 24, "only {operations} operations documented");
}

#[tokio::test]
async fn metrics_count_requests_and_transitions_and_request_ids_are_echoed() {
    let db = common::db::sqlite();
    let (api, _) = setup(&db).await;
    let admin = api.login("n-admin@example.org").await;
    let id = open_case(&api, &admin).await;
    let (status, headers, _) = api
        .send(
            "GET",
            &format!("/api/v1/cases/{id}"),
            Some(&admin),
            None,
            &[("x-request-id", "trace-42")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "trace-42");
    let (_, headers, _) = api
        .send(
            "GET",
            "/health",
            None,
            None,
            &[("x-request-id", "bad id\t")],
        )
        .await;
    let generated = headers["x-request-id"].to_str().expect("id");
    assert!(generated.parse::<uuid::Uuid>().is_ok(), "{generated}");
    let uri = format!("/api/v1/cases/{id}/transitions/assess");
    let (status, body) = api
        .json("POST", &uri, Some(&admin), assessment("low", false))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api
        .json("POST", &uri, Some(&admin), assessment("low", false))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    api.get("/api/v1/nowhere/at/all", &admin).await;

    let (status, headers, bytes) = api.send("GET", "/metrics", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain")
    );
    let metrics = text(&bytes);
    for line in [
        r#"caseflow_http_requests_total{method="GET",route="/api/v1/cases/{id}",status="200"} 1"#,
        r#"caseflow_http_requests_total{method="POST",route="/api/v1/cases",status="201"} 1"#,
        r#"caseflow_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"caseflow_transitions_total{workflow="referral",transition="assess"} 1"#,
        r#"caseflow_transitions_refused_total{transition="assess",code="wrong_state"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
    assert!(metrics.contains("caseflow_http_request_duration_seconds_bucket{"));
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_gets_the_first_answer() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let body = Some(("application/json", referral().to_string()));
        let key = [("idempotency-key", "referral-from-portal-1")];
        let first = api
            .send("POST", "/api/v1/cases", Some(&admin), body.clone(), &key)
            .await;
        let again = api
            .send("POST", "/api/v1/cases", Some(&admin), body.clone(), &key)
            .await;
        assert_eq!(
            first.0,
            StatusCode::CREATED,
            "{}: {}",
            db.kind,
            text(&first.2)
        );
        assert_eq!((again.0, &again.2), (first.0, &first.2), "{}", db.kind);
        assert_eq!(again.1["idempotent-replayed"], "true");
        let (_, page) = api.get("/api/v1/cases", &admin).await;
        assert_eq!(
            page["items"].as_array().expect("items").len(),
            1,
            "{}",
            db.kind
        );

        // The same key with another request is refused, not replayed.
        let mut other = referral();
        other["data"]["reason"] = json!("Anxiety");
        let (status, _, problem) = api
            .send(
                "POST",
                "/api/v1/cases",
                Some(&admin),
                Some(("application/json", other.to_string())),
                &key,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", db.kind);
        let problem: Value = serde_json::from_slice(&problem).expect("problem");
        assert_eq!(problem["type"], "/problems/idempotency-key-reused");

        // A retried move moves once: one audit entry, the same answer.
        let id = serde_json::from_slice::<Value>(&first.2).expect("case")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let uri = format!("/api/v1/cases/{id}/transitions/assess");
        let form = Some(("application/json", assessment("low", false).to_string()));
        let key = [("idempotency-key", "assess-1")];
        let moved = api
            .send("POST", &uri, Some(&admin), form.clone(), &key)
            .await;
        let retried = api
            .send("POST", &uri, Some(&admin), form.clone(), &key)
            .await;
        assert_eq!(moved.0, StatusCode::OK, "{}: {}", db.kind, text(&moved.2));
        assert_eq!((retried.0, &retried.2), (moved.0, &moved.2));
        let (_, history) = api
            .get(&format!("/api/v1/cases/{id}/history"), &admin)
            .await;
        assert_eq!(history.as_array().expect("history").len(), 2, "{}", db.kind);

        // Keys belong to an organisation: the other one's same key is its own.
        let south = api.login("s-admin@example.org").await;
        let key = [("idempotency-key", "referral-from-portal-1")];
        let theirs = api
            .send("POST", "/api/v1/cases", Some(&south), body, &key)
            .await;
        assert_eq!(theirs.0, StatusCode::CREATED);
        assert_ne!(theirs.2, first.2, "{}", db.kind);
    }
}

#[tokio::test]
async fn api_keys_act_with_their_own_roles_until_revoked() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let clinician = api.login("n-clinician@example.org").await;
        let request = json!({"name": "referral-portal", "roles": ["intake_worker"]});
        let (status, _) = api
            .json(
                "POST",
                "/api/v1/api-keys",
                Some(&clinician),
                request.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", db.kind);
        let (status, issued) = api
            .json("POST", "/api/v1/api-keys", Some(&admin), request.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {issued}", db.kind);
        let key = issued["key"].as_str().expect("key").to_owned();
        assert!(key.starts_with("cfk_"));
        let (status, _) = api
            .json("POST", "/api/v1/api-keys", Some(&admin), request)
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}: names are unique",
            db.kind
        );

        let (status, case) = api
            .json("POST", "/api/v1/cases", Some(&key), referral())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {case}", db.kind);
        assert_eq!(case["created_by"], "apikey:referral-portal");
        let id = case["id"].as_str().expect("id");
        let (status, _) = api
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/transitions/assess"),
                Some(&key),
                assessment("low", false),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: not a clinician",
            db.kind
        );
        let (status, _, _) = api
            .call(
                "POST",
                "/api/v1/workflows",
                Some(&key),
                Some(("application/yaml", "workflow: x".to_owned())),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let south = api.login("s-admin@example.org").await;
        let (status, _) = api.get(&format!("/api/v1/cases/{id}"), &south).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (_, keys) = api.get("/api/v1/api-keys", &admin).await;
        assert_eq!(keys[0]["name"], "referral-portal");
        assert!(
            !keys.to_string().contains(&key[4..]),
            "the key is never shown again"
        );
        let (_, south_keys) = api.get("/api/v1/api-keys", &south).await;
        assert_eq!(south_keys, json!([]));
        let key_id = issued["id"].as_str().expect("id");
        let (status, _, _) = api
            .call(
                "DELETE",
                &format!("/api/v1/api-keys/{key_id}"),
                Some(&south),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}: another org's key",
            db.kind
        );
        let (status, _, _) = api
            .call(
                "DELETE",
                &format!("/api/v1/api-keys/{key_id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = api.get("/api/v1/cases", &key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}: revoked", db.kind);
    }
}

#[tokio::test]
async fn admins_add_users_change_roles_and_deactivate() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let clinician = api.login("n-clinician@example.org").await;
        let new_user = json!({"email": "Kiri@Example.org", "roles": ["intake_worker"], "password": common::api::PASSWORD});
        let (status, _) = api
            .json("POST", "/api/v1/users", Some(&clinician), new_user.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, user) = api
            .json("POST", "/api/v1/users", Some(&admin), new_user.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {user}", db.kind);
        assert_eq!(user["email"], "kiri@example.org");
        let (status, _) = api
            .json("POST", "/api/v1/users", Some(&admin), new_user)
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, problem) = api
            .json(
                "POST",
                "/api/v1/users",
                Some(&admin),
                json!({"email": "x@example.org", "roles": [], "password": "short"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(problem["detail"].as_str().expect("detail").contains("12"));

        let kiri = api.login("kiri@example.org").await;
        let (_, users) = api.get("/api/v1/users", &admin).await;
        assert!(users.to_string().contains("kiri@example.org"));
        assert!(!users.to_string().contains("argon2"), "no hashes shown");
        let uri = format!("/api/v1/users/{}", user["id"].as_str().expect("id"));
        let (status, _) = api
            .json(
                "PUT",
                &uri,
                Some(&admin),
                json!({"roles": ["clinician"], "active": false}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}", db.kind);
        let (status, _) = api.get("/api/v1/cases", &kiri).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}: deactivated", db.kind);
        let south = api.login("s-admin@example.org").await;
        let (status, _) = api
            .json(
                "PUT",
                &uri,
                Some(&south),
                json!({"roles": [], "active": true}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", db.kind);
    }
}

#[tokio::test]
async fn failed_sign_ins_are_recorded_and_counted() {
    for db in databases().await {
        let (api, service) = setup(&db).await;
        for _ in 0..4 {
            let (status, _) = api
                .json(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    json!({"email": "n-admin@example.org", "password": "guess"}),
                )
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let since = chrono::Utc::now() - chrono::Duration::minutes(5);
        let failures = service
            .store()
            .sign_in_failures("n-admin@example.org", since)
            .await
            .expect("count");
        assert_eq!(failures, 4, "{}", db.kind);
        let metrics = service.metrics().render();
        assert!(
            metrics.contains("caseflow_failed_sign_ins_total 4"),
            "{metrics}"
        );
        // The right password still works: slowed, not locked out.
        api.login("n-admin@example.org").await;
    }
}

#[tokio::test]
async fn reads_of_a_case_are_logged_for_auditors() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let clinician = api.login("n-clinician@example.org").await;
        let auditor = api.login("n-auditor@example.org").await;
        let id = open_case(&api, &clinician).await;
        api.get(&format!("/api/v1/cases/{id}"), &clinician).await;
        api.get(&format!("/api/v1/cases/{id}/history"), &clinician)
            .await;
        api.get("/api/v1/cases", &clinician).await;
        let uri = format!("/api/v1/cases/{id}/reads");
        let (status, _) = api.get(&uri, &clinician).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The log is written with the next group commit: wait for it.
        let mut seen = Vec::new();
        for _ in 0..100 {
            let (status, reads) = api.get(&uri, &auditor).await;
            assert_eq!(status, StatusCode::OK);
            seen = reads
                .as_array()
                .expect("reads")
                .iter()
                .filter(|r| r["reader"] == "n-clinician@example.org")
                .map(|r| r["what"].as_str().expect("what").to_owned())
                .collect();
            if seen.len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen.sort();
        assert_eq!(seen, ["case", "history", "list"], "{}", db.kind);
        let south = api.login("s-admin@example.org").await;
        let (status, _) = api.get(&uri, &south).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn tasks_carry_due_dates_and_notifications_are_the_callers_own() {
    for db in databases().await {
        let (api, service) = setup(&db).await;
        let clinician = api.login("n-clinician@example.org").await;
        let id = open_case(&api, &clinician).await;
        let (_, case) = api.get(&format!("/api/v1/cases/{id}"), &clinician).await;
        let (status, tasks) = api.get("/api/v1/tasks", &clinician).await;
        assert_eq!(status, StatusCode::OK);
        let task = tasks
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["case"] == json!(id))
            .expect("the new case is in the clinician's inbox")
            .clone();
        assert_eq!(task["transitions"], json!(["assess", "decline"]));
        // `submitted` has one deadline, two days after entering it.
        let updated: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(case["updated_at"].clone()).expect("time");
        let due: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(task["due"].clone()).expect("due");
        assert_eq!(due - updated, chrono::Duration::days(2), "{}", db.kind);

        let note = notify_clinician(&service, &id, "A referral was assessed").await;
        let (_, mine) = api
            .get("/api/v1/notifications?unread=true", &clinician)
            .await;
        assert_eq!(mine[0]["subject"], "A referral was assessed", "{}", db.kind);
        let admin = api.login("n-admin@example.org").await;
        let (_, theirs) = api.get("/api/v1/notifications", &admin).await;
        assert_eq!(theirs, json!([]));
        let read = format!("/api/v1/notifications/{}/read", note.id);
        let (status, _, _) = api.call("POST", &read, Some(&admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not the admin's");
        let (status, _, _) = api.call("POST", &read, Some(&clinician), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, unread) = api
            .get("/api/v1/notifications?unread=true", &clinician)
            .await;
        assert_eq!(unread, json!([]), "{}", db.kind);
        let (_, all) = api.get("/api/v1/notifications", &clinician).await;
        assert!(all[0]["read_at"].is_string());
    }
}

#[tokio::test]
async fn an_admin_exports_everything_held_about_a_case() {
    for db in databases().await {
        let (api, service) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let clinician = api.login("n-clinician@example.org").await;
        let id = open_case(&api, &clinician).await;
        let (status, _) = api
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/transitions/assess"),
                Some(&clinician),
                assessment("low", false),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        notify_clinician(&service, &id, "Assessed").await;

        let uri = format!("/api/v1/cases/{id}/export");
        let (status, _) = api.get(&uri, &clinician).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let south = api.login("s-admin@example.org").await;
        let (status, _) = api.get(&uri, &south).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", db.kind);
        let (status, export) = api.get(&uri, &admin).await;
        assert_eq!(status, StatusCode::OK, "{}: {export}", db.kind);
        assert_eq!(export["case"]["id"], json!(id));
        assert_eq!(export["case"]["state"], "assessed");
        let history = export["history"].as_array().expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[1]["form"]["risk_level"], "low");
        assert_eq!(history[1]["prev_hash"], history[0]["hash"]);
        assert_eq!(export["notifications"][0]["subject"], "Assessed");
        assert_eq!(export["exported_by"], "n-admin@example.org");
    }
}
