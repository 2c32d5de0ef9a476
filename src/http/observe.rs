//! Every request gets an id (the caller's `X-Request-Id` when it is sane, a
//! new UUID otherwise), a tracing span carrying it, one structured log line
//! when it is answered, and its count and latency in the metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// The id of the request being answered, for handlers that record it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// A bounded label: methods outside the standard ones are counted together.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| sane(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    // Only routed requests have a matched path; anything else is one label,
    // so probing random URLs cannot grow the metrics.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id, method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "answered");
    });
    state
        .service
        .metrics()
        .request(method, &route, status, elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn request_ids_from_callers_are_bounded() {
        assert!(sane("0f3c-42_a.b:c"));
        assert!(!sane(""));
        assert!(!sane(&"a".repeat(65)));
        assert!(!sane("has space"));
        assert!(!sane("line\nbreak"));
    }
}
