//! The HTTP API through the real router (no socket): status codes, problem
//! bodies, sign-in, organisations kept apart, and bad input of every kind.

mod common;

use axum::http::StatusCode;
use common::api::{assessment, referral, setup};
use common::db::{databases, shipped_referral};
use serde_json::{Value, json};

#[tokio::test]
async fn health_needs_no_sign_in_and_everything_else_does() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let (status, _, body) = api.call("GET", "/health", None, None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
        let (status, content_type, body) = api.call("GET", "/api/v1/cases", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", db.kind);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["type"], "/problems/unauthorized");
        let (status, _, _) = api
            .call("GET", "/api/v1/cases", Some("forged-token"), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_look_the_same() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let wrong = api
            .json(
                "POST",
                "/api/v1/auth/login",
                None,
                json!({"email": "n-admin@example.org", "password": "nope"}),
            )
            .await;
        let unknown = api
            .json(
                "POST",
                "/api/v1/auth/login",
                None,
                json!({"email": "nobody@example.org", "password": "nope"}),
            )
            .await;
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            wrong, unknown,
            "{}: no user enumeration through messages",
            db.kind
        );
        let token = api.login("N-Admin@Example.org").await;
        let (status, _, _) = api
            .call("POST", "/api/v1/auth/logout", Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = api.get("/api/v1/cases", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{}: a signed-out token is dead",
            db.kind
        );
    }
}

#[tokio::test]
async fn a_case_moves_and_every_refusal_has_its_status() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let clinician = api.login("n-clinician@example.org").await;
        let (status, case) = api
            .json("POST", "/api/v1/cases", Some(&clinician), referral())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {case}", db.kind);
        let id = case["id"].as_str().expect("id").to_owned();
        let fire = |name: &str| format!("/api/v1/cases/{id}/transitions/{name}");

        let (status, body) = api
            .json(
                "POST",
                &fire("assess"),
                Some(&clinician),
                json!({"form": {"risk_level": "extreme"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["path"] == "/risk_level")),
            "{body}"
        );
        let (status, body) = api
            .json(
                "POST",
                &fire("assess"),
                Some(&clinician),
                assessment("critical", false),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["reasons"][0]
                .as_str()
                .is_some_and(|r| r.contains("safety plan")),
            "{body}"
        );
        let (status, _) = api
            .json(
                "POST",
                &fire("assign_program"),
                Some(&admin),
                json!({"form": {}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}: not in a state it leaves from",
            db.kind
        );
        let (status, _) = api
            .json("POST", &fire("teleport"), Some(&clinician), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = api
            .json(
                "POST",
                &fire("assess"),
                Some(&clinician),
                json!({"form": assessment("low", false)["form"], "expected_version": 7}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}: stale expected_version",
            db.kind
        );

        let mut body = assessment("low", false);
        body["expected_version"] = json!(1);
        let (status, moved) = api
            .json("POST", &fire("assess"), Some(&clinician), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(
            (moved["state"].as_str(), moved["version"].as_i64()),
            (Some("assessed"), Some(2))
        );
        let programme = json!({"form": {"program": "individual_counselling", "key_worker": "kw@example.org", "start_date": "2026-01-05"}});
        let (status, _) = api
            .json("POST", &fire("assign_program"), Some(&clinician), programme)
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: assigning is the team leader's",
            db.kind
        );

        let (status, history) = api
            .get(&format!("/api/v1/cases/{id}/history"), &clinician)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            history.as_array().map(Vec::len),
            Some(2),
            "{}: one entry per move, refusals write none",
            db.kind
        );
        assert_eq!(history[1]["transition"], "assess");

        let (status, listed) = api
            .get(&format!("/api/v1/cases/{id}/transitions"), &clinician)
            .await;
        assert_eq!(status, StatusCode::OK);
        let assign = listed
            .as_array()
            .and_then(|l| l.iter().find(|t| t["name"] == "assign_program"))
            .expect("listed");
        assert_eq!(assign["allowed"], false);
        let (status, form) = api
            .get(
                &format!("/api/v1/cases/{id}/transitions/assign_program/form"),
                &clinician,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            form["schema"]["properties"]["program"].is_object(),
            "{form}"
        );
    }
}

#[tokio::test]
async fn another_organisation_sees_nothing() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let north = api.login("n-admin@example.org").await;
        let south = api.login("s-admin@example.org").await;
        let (_, case) = api
            .json("POST", "/api/v1/cases", Some(&north), referral())
            .await;
        let id = case["id"].as_str().expect("id");
        let (status, _) = api.get(&format!("/api/v1/cases/{id}"), &south).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", db.kind);
        let (status, _) = api
            .get(&format!("/api/v1/cases/{id}/history"), &south)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = api
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/transitions/assess"),
                Some(&south),
                assessment("low", false),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, listed) = api.get("/api/v1/cases", &south).await;
        assert_eq!(listed["items"], json!([]));
        let (_, tasks) = api.get("/api/v1/tasks", &south).await;
        assert_eq!(tasks, json!([]));
        let (_, tasks) = api.get("/api/v1/tasks", &north).await;
        assert_eq!(
            tasks.as_array().map(Vec::len),
            Some(1),
            "{}: {tasks}",
            db.kind
        );
    }
}

#[tokio::test]
async fn an_auditor_reads_but_changes_nothing() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let auditor = api.login("n-auditor@example.org").await;
        let (_, case) = api
            .json("POST", "/api/v1/cases", Some(&admin), referral())
            .await;
        let id = case["id"].as_str().expect("id");
        assert_eq!(
            api.get(&format!("/api/v1/cases/{id}"), &auditor).await.0,
            StatusCode::OK
        );
        let (status, _) = api
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/transitions/decline"),
                Some(&auditor),
                json!({"form": {"reason": "other", "details": "x"}}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", db.kind);
        assert_eq!(
            api.json("POST", "/api/v1/cases", Some(&auditor), referral())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_status() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let token = api.login("n-admin@example.org").await;
        let (status, _, body) = api
            .call(
                "POST",
                "/api/v1/cases",
                Some(&token),
                Some(("application/json", "{\"workflow\": ".to_owned())),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}: malformed JSON {body}",
            db.kind
        );
        let (status, body) = api
            .json(
                "POST",
                "/api/v1/cases",
                Some(&token),
                json!({"workflow": "referral", "data": {}, "priority": "high"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unknown field: {body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("priority")),
            "{body}"
        );
        let (status, _, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                Some(&token),
                Some(("text/plain", referral().to_string())),
            )
            .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let huge =
            json!({"workflow": "referral", "data": {"notes": "x".repeat(1_100_000)}}).to_string();
        let (status, _, body) = api
            .call(
                "POST",
                "/api/v1/cases",
                Some(&token),
                Some(("application/json", huge)),
            )
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let (status, _) = api.get("/api/v1/cases/not-a-uuid", &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = api
            .json(
                "POST",
                "/api/v1/cases",
                Some(&token),
                json!({"workflow": "referral", "data": {"client": {}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["type"], "/problems/invalid-case-data");
        let (status, _) = api
            .json(
                "POST",
                "/api/v1/cases",
                Some(&token),
                json!({"workflow": "nonesuch"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn definitions_are_validated_and_published_by_admins() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let clinician = api.login("n-clinician@example.org").await;
        let broken = shipped_referral().replace("    to: assessed\n", "    to: assesed\n");
        let (status, _, body) = api
            .call(
                "POST",
                "/api/v1/workflows/validate",
                Some(&clinician),
                Some(("application/yaml", broken.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let error = &body["errors"][0];
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("assesed"))
                && error["line"].as_u64() > Some(1),
            "{body}"
        );
        let (status, _, _) = api
            .call(
                "POST",
                "/api/v1/workflows",
                Some(&clinician),
                Some(("application/yaml", shipped_referral())),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, body) = api
            .call(
                "POST",
                "/api/v1/workflows",
                Some(&admin),
                Some(("application/yaml", broken)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let bumped = shipped_referral().replace("version: 2\n", "version: 3\n");
        let (status, _, body) = api
            .call(
                "POST",
                "/api/v1/workflows",
                Some(&admin),
                Some(("application/yaml", bumped)),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::CREATED,
                json!({"workflow": "referral", "version": 3})
            )
        );
        let (_, listed) = api.get("/api/v1/workflows", &clinician).await;
        assert_eq!(
            listed,
            json!([{"workflow": "referral", "version": 3, "title": "Referral to enrolment"}])
        );
        let (status, one) = api
            .get("/api/v1/workflows/referral?version=2", &clinician)
            .await;
        assert_eq!((status, one["version"].as_i64()), (StatusCode::OK, Some(2)));
        let (status, content_type, _) = api
            .call(
                "GET",
                "/api/v1/workflows/referral/diagram.svg",
                Some(&clinician),
                None,
            )
            .await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "image/svg+xml")
        );
    }
}

#[tokio::test]
async fn case_lists_page_with_a_cursor() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let token = api.login("n-admin@example.org").await;
        for _ in 0..5 {
            assert_eq!(
                api.json("POST", "/api/v1/cases", Some(&token), referral())
                    .await
                    .0,
                StatusCode::CREATED
            );
        }
        let (_, first) = api
            .get("/api/v1/cases?limit=3&workflow=referral", &token)
            .await;
        assert_eq!(first["items"].as_array().map(Vec::len), Some(3));
        let cursor = first["next_cursor"].as_str().expect("cursor");
        let (_, second) = api
            .get(&format!("/api/v1/cases?limit=3&cursor={cursor}"), &token)
            .await;
        assert_eq!(
            second["items"].as_array().map(Vec::len),
            Some(2),
            "{}",
            db.kind
        );
        assert_eq!(second["next_cursor"], Value::Null);
        let (status, _) = api.get("/api/v1/cases?limit=3&colour=blue", &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn twenty_fires_at_one_version_move_the_case_once() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let admin = api.login("n-admin@example.org").await;
        let (_, case) = api
            .json("POST", "/api/v1/cases", Some(&admin), referral())
            .await;
        let id = case["id"].as_str().expect("id").to_owned();
        let api = std::sync::Arc::new(api);
        let mut fires = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (api, admin, id) = (api.clone(), admin.clone(), id.clone());
            fires.spawn(async move {
                let mut body = assessment("low", false);
                body["expected_version"] = json!(1);
                api.json(
                    "POST",
                    &format!("/api/v1/cases/{id}/transitions/assess"),
                    Some(&admin),
                    body,
                )
                .await
                .0
            });
        }
        let mut statuses = fires.join_all().await;
        statuses.sort();
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let conflicts = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((ok, conflicts), (1, 19), "{}: {statuses:?}", db.kind);
        let (_, history) = api
            .get(&format!("/api/v1/cases/{id}/history"), &admin)
            .await;
        let moves = history
            .as_array()
            .expect("history")
            .iter()
            .filter(|entry| entry["transition"] == "assess")
            .count();
        assert_eq!(moves, 1, "{}: one audit entry", db.kind);
    }
}

#[tokio::test]
async fn a_form_renders_as_html_for_browsers() {
    let db = common::db::sqlite();
    let (api, _) = setup(&db).await;
    let clinician = api.login("n-clinician@example.org").await;
    let (_, case) = api
        .json("POST", "/api/v1/cases", Some(&clinician), referral())
        .await;
    let id = case["id"].as_str().expect("id");
    let uri = format!("/api/v1/cases/{id}/transitions/assess/form");
    let (status, headers, body) = api
        .send(
            "GET",
            &uri,
            Some(&clinician),
            None,
            &[("accept", "text/html,application/xhtml+xml")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let html = String::from_utf8(body).expect("utf-8");
    assert!(
        html.contains(&format!("action=\"/cases/{id}/transitions/assess\"")),
        "{html}"
    );
    assert!(
        html.contains(
            "<legend>Risk level<span class=\"req\" aria-hidden=\"true\"> *</span></legend>"
        ),
        "{html}"
    );
    // `widget: radio` in the hints: one radio button per value, with its label.
    assert!(
        html.contains("<input type=\"radio\" id=\"field-risk_level-0\" name=\"risk_level\" value=\"low\" required> <label for=\"field-risk_level-0\">Low</label>"),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"field-recommended_program\">Recommended programme</label>\n<select id=\"field-recommended_program\" name=\"recommended_program\">"),
        "{html}"
    );
    assert!(
        html.contains(
            "<textarea id=\"field-presenting_issue\" name=\"presenting_issue\" rows=\"4\" required"
        ),
        "{html}"
    );
    assert!(html.contains("type=\"number\" id=\"field-sessions_recommended\" name=\"sessions_recommended\" value=\"\" min=\"1\" max=\"52\""), "{html}");
    assert!(
        html.contains("type=\"date\" id=\"field-next_contact_date\""),
        "{html}"
    );
    assert!(
        html.find("risk_level") < html.find("presenting_issue")
            && html.find("presenting_issue") < html.find("notes"),
        "fields in x-ui order"
    );
    // Without the header the JSON document is answered, as before.
    let (_, form) = api.get(&uri, &clinician).await;
    assert_eq!(form["schema"]["title"], "Assessment");
}
