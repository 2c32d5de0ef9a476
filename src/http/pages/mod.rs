//! The web pages for staff and program managers, beside the API on the same
//! app: signed in by a cookie holding the same opaque token the API uses,
//! every form POST carrying a CSRF token derived from it, errors shown as
//! pages. The pages call the same service and queries as the API handlers,
//! so a move made here is the move the API would make. They are not in the
//! OpenAPI document, which describes the JSON API only.

mod cases;
mod editor;
mod inbox;
mod session;
mod workflows;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

pub use session::Session;

use super::AppState;
use super::error::ApiError;
use crate::service::ServiceError;
use crate::storage::StoreError;
use crate::web;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .route("/language", get(session::choose_language))
        .merge(session::router())
        .merge(inbox::router())
        .merge(cases::router())
        .merge(workflows::router())
}

async fn stylesheet() -> impl IntoResponse {
    asset("text/css; charset=utf-8", web::APP_CSS)
}

async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", web::APP_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}

/// What can go wrong on a page, shown as a page.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the sign-in ended): to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    /// A POST without the right CSRF token.
    Csrf,
    Forbidden(String),
    NotFound,
    Conflict(String),
    BadRequest(String),
    Internal(String),
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Unauthorized => Self::SignIn {
                next: "/inbox".to_owned(),
            },
            ApiError::Forbidden(why) => Self::Forbidden(why),
            ApiError::NotFound => Self::NotFound,
            ApiError::Conflict(why) => Self::Conflict(why),
            ApiError::Internal(why) => Self::Internal(why),
            other => Self::BadRequest(format!("{other:?}")),
        }
    }
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            Self::SignIn { next } => {
                return Redirect::to(&format!("/login?next={}", percent_encode(&next)))
                    .into_response();
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The page was open too long or came from elsewhere. Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", capitalise(&why)),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours to see.".to_owned(),
            ),
            Self::Conflict(why) => (
                StatusCode::CONFLICT,
                "The case has moved on",
                capitalise(&why),
            ),
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, "That did not work", why),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error on a page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side",
                    "It has been logged. Try again in a moment.".to_owned(),
                )
            }
        };
        let mut context = tera::Context::new();
        context.insert("lang", "en");
        context.insert("title", heading);
        context.insert("heading", heading);
        context.insert("message", &message);
        context.insert("back", "%2F");
        let html = web::render("error.html", &context).unwrap_or_else(|error| {
            tracing::error!(%error, "the error page does not render");
            format!("<!doctype html><title>{heading}</title><h1>{heading}</h1>")
        });
        (status, Html(html)).into_response()
    }
}

pub type PageResult<T> = Result<T, PageError>;

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>()
    })
}

/// Percent-encodes all but the unreserved characters, for a URL query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Only paths of this site are followed after signing in or choosing a
/// language, so a crafted link cannot send people elsewhere.
pub fn local_path(candidate: &str) -> &str {
    let safe = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate.chars().any(char::is_control);
    if safe { candidate } else { "/inbox" }
}

/// A page of the signed-in site: the template with what every page shows
/// (who is signed in, the unread count, the CSRF token for its forms).
pub async fn page(
    state: &AppState,
    session: &Session,
    template: &str,
    title: &str,
    nav: &str,
    mut context: tera::Context,
) -> PageResult<Html<String>> {
    let caller = &session.caller;
    let unread = state
        .service
        .store()
        .notifications(caller.org, caller.user_id, true, 100)
        .await?
        .len();
    context.insert("lang", session.lang);
    context.insert("title", title);
    context.insert("nav", nav);
    context.insert("user", &caller.email);
    context.insert("is_admin", &caller.has_role("admin"));
    context.insert("csrf", &session.csrf);
    context.insert("unread", &unread);
    context.insert("back", &percent_encode(&session.path));
    web::render(template, &context)
        .map(Html)
        .map_err(PageError::Internal)
}

/// A form POST's `_csrf` must be the one derived from the session's token.
pub fn check_csrf(session: &Session, pairs: &[(String, String)]) -> PageResult<()> {
    let sent = pairs
        .iter()
        .find(|(name, _)| name == "_csrf")
        .map_or("", |(_, value)| value.as_str());
    if session::same(sent, &session.csrf) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

/// The first value sent under `name`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// A short name for a case: the end of its id (UUIDv7 ids begin with their
/// creation time, so the start is the same for cases opened together).
pub fn case_label(id: uuid::Uuid) -> String {
    let hex = id.simple().to_string();
    hex[hex.len() - 8..].to_owned()
}

/// A time as people read it, in UTC (the service stores UTC; pages do not guess a zone).
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %b %Y %H:%M UTC").to_string()
}

/// Whether the request came over HTTPS (directly or via a proxy that says so).
pub fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/cases/1?x=2"), "/cases/1?x=2");
        assert_eq!(local_path("//evil.example/"), "/inbox");
        assert_eq!(local_path("https://evil.example/"), "/inbox");
        assert_eq!(local_path("/\\evil.example"), "/inbox");
        assert_eq!(percent_encode("/a b?c=d"), "%2Fa%20b%3Fc%3Dd");
    }
}
