//! `Idempotency-Key` on the requests that open or move cases: a retried
//! request with the same key gets the first answer instead of a second move.
//! The key is claimed before the handler runs, so two copies sent at once
//! cannot both move; a failure on our side frees it for the retry.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::Caller;
use super::{AppState, BODY_LIMIT};
use crate::storage::Reservation;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The routes whose POSTs honour the header.
const ROUTES: [&str; 2] = ["/api/v1/cases", "/api/v1/cases/{id}/transitions/{name}"];

/// A claim whose request never answered (the process died) is taken over after this.
const STALE_AFTER_SECONDS: i64 = 60;

pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let applies = request.method() == Method::POST
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|path| ROUTES.contains(&path.as_str()));
    let key = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(key) = key.filter(|_| applies) else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 255 {
        return ApiError::BadRequest("`Idempotency-Key` must be 1 to 255 characters".to_owned())
            .into_response();
    }
    let (mut parts, body) = request.into_parts();
    let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await else {
        // Unsigned requests get their 401 from the handler.
        return next.run(Request::from_parts(parts, body)).await;
    };
    // The handler takes the caller from here rather than looking it up again.
    parts.extensions.insert(caller.clone());
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let fingerprint = {
        let mut hash = Sha256::new();
        hash.update(caller.user_id.as_bytes());
        hash.update(parts.uri.path().as_bytes());
        hash.update([0]);
        hash.update(&bytes);
        crate::storage::hex(&hash.finalize())
    };
    let store = state.service.store();
    let now = Utc::now();
    let reservation = store
        .reserve_idempotency_key(
            caller.org,
            &key,
            &fingerprint,
            now,
            now - chrono::Duration::seconds(STALE_AFTER_SECONDS),
        )
        .await;
    match reservation {
        Err(error) => ApiError::from(error).into_response(),
        Ok(Reservation::Reserved) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            remember(&state, &caller, &key, response).await
        }
        Ok(Reservation::Answered {
            fingerprint: first,
            status,
            body,
        }) if first == fingerprint => replay(status, body),
        Ok(Reservation::InProgress { fingerprint: first }) if first == fingerprint => {
            ApiError::Conflict(
                "a request with this Idempotency-Key is still being answered; retry shortly"
                    .to_owned(),
            )
            .into_response()
        }
        Ok(_) => ApiError::KeyReused.into_response(),
    }
}

/// Keeps the answer for retries; a failure on our side frees the key instead.
async fn remember(state: &AppState, caller: &Caller, key: &str, response: Response) -> Response {
    let store = state.service.store();
    let status = response.status();
    if status.is_server_error() {
        if let Err(error) = store.release_idempotency_key(caller.org, key).await {
            tracing::error!(%error, "cannot free an Idempotency-Key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Err(error) = store
        .answer_idempotency_key(caller.org, key, status.as_u16(), &text)
        .await
    {
        tracing::error!(%error, "cannot record the answer to an Idempotency-Key");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
