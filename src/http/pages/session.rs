//! Signing in and out of the pages. The session cookie holds the same opaque
//! token `POST /api/v1/auth/login` gives (HttpOnly, SameSite=Lax, Path=/,
//! Secure behind HTTPS), so expiry, revocation and the slowed sign-ins are
//! the API's own. Forms carry a CSRF token derived from that token: a page of
//! another site cannot read it, so it cannot forge a POST. The sign-in form,
//! before there is a session, uses a double-submit cookie instead.

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{PageError, PageResult, check_csrf, field, local_path, over_https};
use crate::http::AppState;
use crate::http::auth::{sign_in, sign_out};
use crate::http::error::ApiError;
use crate::http::extract::{API_KEY_PREFIX, Caller};
use crate::web;

const SESSION_COOKIE: &str = "caseflow_session";
const LOGIN_COOKIE: &str = "caseflow_login";
const LANGUAGE_COOKIE: &str = "caseflow_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The signed-in user of a page request.
pub struct Session {
    pub caller: Caller,
    /// The CSRF token every form of this session must send back.
    pub csrf: String,
    /// The language for labels: `en` or `mi`.
    pub lang: &'static str,
    /// The path and query of this request, to come back to.
    pub path: String,
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn language_of(headers: &HeaderMap) -> &'static str {
    web::language(
        cookie(headers, LANGUAGE_COOKIE).as_deref(),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok()),
    )
}

/// The CSRF token of a session: a hash of its token under a label of its own,
/// so the page can show it without showing the token.
fn csrf_for(token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"caseflow page form\0");
    hasher.update(token.as_bytes());
    crate::storage::hex(&hasher.finalize())
}

/// Compares secrets without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let sign_in = || PageError::SignIn { next: path.clone() };
        // API keys are for programs; a cookie never carries one.
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|token| !token.starts_with(API_KEY_PREFIX))
            .ok_or_else(sign_in)?;
        let caller = match Caller::for_token(&token, state).await {
            Ok(caller) => caller,
            Err(ApiError::Unauthorized) => return Err(sign_in()),
            Err(other) => return Err(other.into()),
        };
        Ok(Self {
            caller,
            csrf: csrf_for(&token),
            lang: language_of(&parts.headers),
            path,
        })
    }
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn secure(headers: &HeaderMap) -> &'static str {
    if over_https(headers) { "; Secure" } else { "" }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> PageResult<Response> {
    let next = local_path(query.next.as_deref().unwrap_or("/inbox")).to_owned();
    // Already signed in: straight on.
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && Caller::for_token(&token, &state).await.is_ok()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    login_form(&headers, &next, "", None, StatusCode::OK)
}

/// The sign-in form with a fresh double-submit token in a cookie and the form.
fn login_form(
    headers: &HeaderMap,
    next: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> PageResult<Response> {
    let login_token = crate::passwords::random_secret();
    let mut context = tera::Context::new();
    context.insert("lang", language_of(headers));
    context.insert("title", "Sign in");
    context.insert("next", next);
    context.insert("email", email);
    context.insert("error", &error);
    context.insert("login_token", &login_token);
    context.insert("back", &super::percent_encode("/login"));
    let html = web::render("login.html", &context).map_err(PageError::Internal)?;
    let mut response = (status, axum::response::Html(html)).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{LOGIN_COOKIE}={login_token}; HttpOnly; SameSite=Strict; Path=/login{}",
            secure(headers)
        ),
    );
    Ok(response)
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult<Response> {
    let Form(pairs) = form.map_err(|rejection| PageError::BadRequest(rejection.body_text()))?;
    let next = local_path(field(&pairs, "next").unwrap_or("/inbox")).to_owned();
    let email = field(&pairs, "email").unwrap_or("").trim().to_owned();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = field(&pairs, "_login").unwrap_or("");
    if expected.is_empty() || !same(sent, &expected) {
        return login_form(
            &headers,
            &next,
            &email,
            Some("The sign-in form had expired. Please sign in again."),
            StatusCode::FORBIDDEN,
        );
    }
    let password = field(&pairs, "password").unwrap_or("").to_owned();
    let (token, expires_at) = match sign_in(&state, &email, password).await {
        Ok(signed_in) => signed_in,
        Err(ApiError::Unauthorized) => {
            return login_form(
                &headers,
                &next,
                &email,
                Some("The e-mail or the password is not right."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(other) => return Err(other.into()),
    };
    let max_age = (expires_at - chrono::Utc::now()).num_seconds().max(0);
    let mut response = Redirect::to(&next).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{}",
            secure(&headers)
        ),
    );
    set_cookie(
        &mut response,
        &format!("{LOGIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/login; Max-Age=0"),
    );
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult<Response> {
    let Form(pairs) = form.map_err(|rejection| PageError::BadRequest(rejection.body_text()))?;
    check_csrf(&session, &pairs)?;
    sign_out(&state, &session.caller).await?;
    let mut response = Redirect::to("/login").into_response();
    set_cookie(
        &mut response,
        &format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct LanguageQuery {
    set: String,
    back: Option<String>,
}

/// Remembers the chosen language for labels in a cookie (a link, not a form:
/// it changes nothing but how pages read).
pub async fn choose_language(headers: HeaderMap, Query(query): Query<LanguageQuery>) -> Response {
    let back = local_path(query.back.as_deref().unwrap_or("/inbox")).to_owned();
    let mut response = Redirect::to(&back).into_response();
    if web::LANGUAGES.contains(&query.set.as_str()) {
        set_cookie(
            &mut response,
            &format!(
                "{LANGUAGE_COOKIE}={}; SameSite=Lax; Path=/; Max-Age=31536000{}",
                query.set,
                secure(&headers)
            ),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_csrf_tokens_differ_per_session() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; caseflow_session=abc ; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_ne!(csrf_for("abc"), csrf_for("abd"));
        assert!(same(&csrf_for("abc"), &csrf_for("abc")));
        assert!(!same("abc", "abd"));
    }
}
