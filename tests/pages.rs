//! The web pages through the real router, without a browser: the session
//! cookie and its attributes, CSRF on every POST, sign-out ending the token
//! for the API too, admin-only pages, errors as HTML pages, and a form POST
//! read back into typed JSON. The browser flows are in tests/web/.

mod common;

use axum::http::{HeaderMap, StatusCode, header};
use common::api::{Api, PASSWORD, referral, setup};
use common::db::databases;
use serde_json::Value;

const FORM: &str = "application/x-www-form-urlencoded";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// The value of `name="NAME" value="..."` in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn page(
    api: &Api,
    method: &str,
    uri: &str,
    cookie: &str,
    body: Option<String>,
) -> (StatusCode, HeaderMap, String) {
    let headers = [("cookie", cookie)];
    let body = body.map(|b| (FORM, b));
    let (status, headers, bytes) = api.send(method, uri, None, body, &headers).await;
    (status, headers, text(&bytes))
}

fn session(token: &str) -> String {
    format!("caseflow_session={token}")
}

#[tokio::test]
async fn signing_in_sets_a_safe_cookie_and_signing_out_ends_the_token_for_the_api_too() {
    for db in databases().await {
        let (api, _) = setup(&db).await;
        let kind = db.kind;
        let (status, headers, html) = page(&api, "GET", "/login?next=/inbox", "", None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let login_cookie = set_cookies(&headers)
            .into_iter()
            .find(|c| c.starts_with("caseflow_login="))
            .expect("login cookie");
        let login_cookie = login_cookie
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let body = format!(
            "_login={}&next=%2F%2Fevil.example%2F&email=n-clinician%40example.org&password={}",
            hidden(&html, "_login"),
            PASSWORD.replace(' ', "+")
        );
        // Without the double-submit cookie the form is refused.
        let (status, _, refused) = page(&api, "POST", "/login", "", Some(body.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}: {refused}");
        let (status, headers, _) = page(&api, "POST", "/login", &login_cookie, Some(body)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{kind}");
        assert_eq!(
            headers[header::LOCATION],
            "/inbox",
            "{kind}: only local paths are followed"
        );
        let cookie = set_cookies(&headers)
            .into_iter()
            .find(|c| c.starts_with("caseflow_session="))
            .expect("session cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(cookie.contains(attribute), "{kind}: {cookie}");
        }
        assert!(!cookie.contains("Secure"), "{kind}: plain http here");
        let token = cookie["caseflow_session=".len()..]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();

        // The cookie's token is the API's token.
        let (status, _) = api.get("/api/v1/tasks", &token).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let (status, headers, inbox) = page(&api, "GET", "/inbox", &session(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
        let csrf = hidden(&inbox, "_csrf");

        let (status, headers, forged) = page(
            &api,
            "POST",
            "/logout",
            &session(&token),
            Some("_csrf=nope".to_owned()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/html"),
            "{kind}: errors are pages"
        );
        assert!(forged.contains("This form has expired"), "{kind}: {forged}");
        let (status, headers, _) = page(
            &api,
            "POST",
            "/logout",
            &session(&token),
            Some(format!("_csrf={csrf}")),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{kind}");
        assert_eq!(headers[header::LOCATION], "/login", "{kind}");
        let (status, headers, _) = page(&api, "GET", "/inbox", &session(&token), None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{kind}");
        assert_eq!(headers[header::LOCATION], "/login?next=%2Finbox", "{kind}");
        let (status, _) = api.get("/api/v1/tasks", &token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{kind}: signed out of the API too"
        );
    }
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure() {
    let db = common::db::sqlite();
    let (api, _) = setup(&db).await;
    let (_, headers, _) = api
        .send(
            "GET",
            "/login",
            None,
            None,
            &[("x-forwarded-proto", "https")],
        )
        .await;
    let cookies = set_cookies(&headers);
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn forged_posts_other_organisations_and_admin_pages_are_refused_as_pages() {
    for db in databases().await {
        let (api, service) = setup(&db).await;
        let kind = db.kind;
        let clinician = api.login("n-clinician@example.org").await;
        let (_, case) = api
            .json("POST", "/api/v1/cases", Some(&clinician), referral())
            .await;
        let id = case["id"].as_str().expect("id").to_owned();
        let form_uri = format!("/cases/{id}/transitions/assess");
        let (status, _, form) = page(&api, "GET", &form_uri, &session(&clinician), None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        let csrf = hidden(&form, "_csrf");
        let fields = "risk_level=low&presenting_issue=Stress&safety_plan_in_place=true&_version=1";

        // A CSRF token of another session does not do.
        let other = api.login("n-clinician@example.org").await;
        let (_, _, other_page) = page(&api, "GET", "/inbox", &session(&other), None).await;
        let other_csrf = hidden(&other_page, "_csrf");
        assert_ne!(other_csrf, csrf, "{kind}");
        let forged = format!("_csrf={other_csrf}&{fields}");
        let (status, _, _) =
            page(&api, "POST", &form_uri, &session(&clinician), Some(forged)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}");
        let org = service.store().org_by_name("north").await.expect("org").id;
        let unmoved = service
            .store()
            .case(org, id.parse().expect("uuid"))
            .await
            .expect("case");
        assert_eq!(unmoved.state, "submitted", "{kind}: nothing moved");

        // With its own token the form moves the case, its fields typed per schema.
        let (status, headers, _) = page(
            &api,
            "POST",
            &form_uri,
            &session(&clinician),
            Some(format!("_csrf={csrf}&{fields}")),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{kind}");
        assert_eq!(
            headers[header::LOCATION],
            format!("/cases/{id}?done=assess"),
            "{kind}"
        );
        let history = service
            .store()
            .history(org, unmoved.id)
            .await
            .expect("history");
        let sent = history
            .last()
            .and_then(|e| e.form.clone())
            .unwrap_or(Value::Null);
        assert_eq!(
            sent["safety_plan_in_place"],
            Value::Bool(true),
            "{kind}: {sent}"
        );
        assert_eq!(
            sent["interpreter_needed"],
            Value::Bool(false),
            "{kind}: an unticked box is false"
        );
        assert!(
            sent.get("_csrf").is_none() && sent.get("_version").is_none(),
            "{kind}: {sent}"
        );

        // Another organisation's case is not found; admin pages need the admin role.
        let south = api.login("s-admin@example.org").await;
        let (status, _, missing) =
            page(&api, "GET", &format!("/cases/{id}"), &session(&south), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind}");
        assert!(missing.contains("<h1>Not found</h1>"), "{kind}: {missing}");
        let (status, _, _) = page(&api, "GET", "/workflows", &session(&clinician), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}");
        let (status, _, _) = page(&api, "GET", "/workflows/referral", &session(&south), None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");

        // An API key is for programs: never a page session.
        let auditor = api.login("n-auditor@example.org").await;
        let (status, _, _) = page(
            &api,
            "GET",
            "/inbox",
            "caseflow_session=cfk_not_a_session",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{kind}");
        let (_, _, auditor_page) = page(
            &api,
            "GET",
            &format!("/cases/{id}"),
            &session(&auditor),
            None,
        )
        .await;
        assert!(
            auditor_page.contains("the auditor role fires no transition"),
            "{kind}: greyed with the reason"
        );
    }
}

#[tokio::test]
async fn the_language_is_chosen_by_link_or_browser() {
    let db = common::db::sqlite();
    let (api, _) = setup(&db).await;
    let token = api.login("n-clinician@example.org").await;
    let (_, case) = api
        .json("POST", "/api/v1/cases", Some(&token), referral())
        .await;
    let uri = format!(
        "/cases/{}/transitions/assess",
        case["id"].as_str().expect("id")
    );
    let headers = [
        ("cookie", session(&token)),
        ("accept-language", "mi-NZ, en;q=0.5".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, _, body) = api.send("GET", &uri, None, None, &headers).await;
    let html = text(&body);
    assert!(html.contains(">Taumata mōrearea<"), "Accept-Language: mi");
    assert!(html.contains("<html lang=\"mi\">"));
    let (status, headers, _) = page(&api, "GET", "/language?set=en&back=%2Finbox", "", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let chosen = set_cookies(&headers).join(";");
    assert!(chosen.contains("caseflow_lang=en"), "{chosen}");
    let cookie = format!("{}; caseflow_lang=en", session(&token));
    let headers = [("cookie", cookie.as_str()), ("accept-language", "mi")];
    let (_, _, body) = api.send("GET", &uri, None, None, &headers).await;
    assert!(
        text(&body).contains(">Risk level<"),
        "the user's choice wins"
    );
}
