//! The OpenAPI 3.1 document, generated from the handlers' annotations as the
//! router is built, so a route cannot be served without being described.

use std::sync::OnceLock;

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An RFC 9457 problem, as every error is answered.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI per kind of problem, e.g. `/problems/invalid-form`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: Option<String>,
    /// Form or definition errors, one per failing field or located problem.
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Value>,
    /// Why a guard refused the move.
    pub reasons: Option<Vec<String>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "caseflow",
        description = "Declarative workflows for community-services case management. \
            Every error is application/problem+json."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a token from POST /api/v1/auth/login, or an API key"))
                    .build(),
            ),
        );
    }
}

/// The document, rendered once.
fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, openapi) = super::api().split_for_parts();
        openapi.to_pretty_json().unwrap_or_default()
    })
}

#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the service answers.
    pub status: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "the service is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics(
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.service.metrics().render(),
    )
}
