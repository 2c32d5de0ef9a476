//! The HTTP API: one router per resource, JSON in and out, errors as
//! problem+json, every route described in the OpenAPI document.

mod admin;
mod auth;
mod cases;
mod clients;
mod docs;
mod error;
mod export;
mod extract;
mod idempotency;
mod inbox;
mod jobs;
mod observe;
mod pages;
mod privacy;
mod sessions;
mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ApiResult};
pub use extract::Caller;
pub use observe::{REQUEST_ID, RequestId};

use crate::service::Service;

/// Bodies over this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    sessions: Arc<sessions::Sessions>,
}

impl AppState {
    pub fn new(service: Arc<Service>) -> Self {
        Self {
            service,
            sessions: Arc::default(),
        }
    }
}

/// Every route with its description; [`router`] serves it and
/// `GET /openapi.json` describes it.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(docs::health))
        .routes(routes!(docs::openapi_json))
        .routes(routes!(docs::metrics))
        .merge(auth::router())
        .merge(workflows::router())
        .merge(cases::router())
        .merge(clients::router())
        .merge(inbox::router())
        .merge(admin::router())
        .merge(export::router())
        .merge(privacy::router())
        .merge(jobs::router())
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        .merge(pages::router())
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
