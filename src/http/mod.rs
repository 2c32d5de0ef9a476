//! The HTTP API: one router per resource, JSON in and out, errors as problem+json.

mod auth;
mod cases;
mod error;
mod extract;
mod inbox;
mod workflows;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub use error::{ApiError, ApiResult};
pub use extract::Caller;

use crate::service::Service;

/// Bodies over this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(auth::router())
        .merge(workflows::router())
        .merge(cases::router())
        .merge(inbox::router())
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
