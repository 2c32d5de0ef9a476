//! Workflow definitions: list, read, validate, publish, draw.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::ApiResult;
use super::extract::{Caller, TextBody};
use crate::engine::diagram::to_svg;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, publish))
        .routes(routes!(validate))
        .routes(routes!(show))
        .routes(routes!(diagram))
}

#[derive(Serialize, ToSchema)]
pub struct Summary {
    workflow: String,
    version: i64,
    title: String,
}

/// The newest published version of each workflow of the caller's organisation.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])),
    responses(
        (status = 200, description = "newest version of each", body = Vec<Summary>),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Summary>>> {
    let rows = state.service.store().definitions(caller.org).await?;
    let mut newest: BTreeMap<String, Summary> = BTreeMap::new();
    for row in rows {
        newest.insert(
            row.workflow.clone(),
            Summary {
                workflow: row.workflow,
                version: row.version,
                title: row.title,
            },
        );
    }
    Ok(Json(newest.into_values().collect()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// A published version; the newest when absent.
    version: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct StateInfo {
    name: String,
    title: String,
    terminal: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TransitionInfo {
    name: String,
    title: String,
    from: Vec<String>,
    to: Vec<String>,
    /// Absent: any signed-in user of the organisation may fire it.
    roles: Option<Vec<String>>,
    form: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowDetail {
    workflow: String,
    version: i64,
    title: String,
    /// The YAML as published.
    source: String,
    states: Vec<StateInfo>,
    transitions: Vec<TransitionInfo>,
}

/// One published version with its source, states and transitions.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}", tag = "workflows", security(("bearer" = [])),
    params(("workflow" = String, Path, description = "the workflow id"), VersionQuery),
    responses(
        (status = 200, description = "the definition", body = WorkflowDetail),
        (status = 404, description = "no such workflow or version", body = Problem, content_type = "application/problem+json"),
    ))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<WorkflowDetail>> {
    let (row, definition) = published(&state, &caller, &workflow, query.version).await?;
    let states = definition
        .states
        .values()
        .map(|s| StateInfo {
            name: s.name.clone(),
            title: s.title.clone(),
            terminal: s.terminal,
        })
        .collect();
    let transitions = definition
        .transitions
        .values()
        .map(|t| TransitionInfo {
            name: t.name.clone(),
            title: t.title.clone(),
            from: t.from.clone(),
            to: t.to.states().into_iter().map(str::to_owned).collect(),
            roles: t.roles.clone(),
            form: t.form.as_ref().map(|f| f.name().to_owned()),
        })
        .collect();
    Ok(Json(WorkflowDetail {
        workflow: row.workflow,
        version: row.version,
        title: row.title,
        source: row.source,
        states,
        transitions,
    }))
}

/// A published version (the newest when `version` is `None`) and its compiled definition.
async fn published(
    state: &AppState,
    caller: &Caller,
    workflow: &str,
    version: Option<i64>,
) -> ApiResult<(
    crate::storage::DefinitionRow,
    std::sync::Arc<crate::engine::Definition>,
)> {
    let row = state
        .service
        .store()
        .definition(caller.org, workflow, version)
        .await?;
    let definition = state
        .service
        .definition(caller.org, workflow, row.version)
        .await?;
    Ok((row, definition))
}

/// A problem in a definition, located in the YAML sent.
#[derive(Serialize, ToSchema)]
pub struct Located {
    pub(super) line: usize,
    column: usize,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Validation {
    /// Empty when the definition is valid.
    errors: Vec<Located>,
    warnings: Vec<Located>,
}

/// The errors (or the warnings) among `diagnostics`, for the API and the editor page.
pub(super) fn located(diagnostics: &[crate::engine::Diagnostic], errors: bool) -> Vec<Located> {
    diagnostics
        .iter()
        .filter(|d| d.is_error() == errors)
        .map(|d| Located {
            line: d.line,
            column: d.column,
            message: d.message.clone(),
        })
        .collect()
}

/// Checks a YAML definition against the rules, schemas and templates, without publishing it.
#[utoipa::path(post, path = "/api/v1/workflows/validate", tag = "workflows", security(("bearer" = [])),
    request_body(content = String, content_type = "application/yaml", description = "a workflow definition"),
    responses(
        (status = 200, description = "every problem, located", body = Validation),
        (status = 415, description = "not YAML", body = Problem, content_type = "application/problem+json"),
    ))]
async fn validate(
    State(state): State<AppState>,
    _caller: Caller,
    TextBody(yaml): TextBody,
) -> Json<Validation> {
    let (_, diagnostics) = state.service.catalog().compile("workflow.yaml", &yaml);
    Json(Validation {
        errors: located(&diagnostics, true),
        warnings: located(&diagnostics, false),
    })
}

#[derive(Serialize, ToSchema)]
pub struct PublishedVersion {
    workflow: String,
    version: i64,
}

/// Publishes a new version (admin only). The same text again answers 200; a
/// changed text must bump `version`.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])),
    request_body(content = String, content_type = "application/yaml", description = "a workflow definition"),
    responses(
        (status = 201, description = "published", body = PublishedVersion),
        (status = 200, description = "this exact version was already published", body = PublishedVersion),
        (status = 403, description = "the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "every problem, located", body = Problem, content_type = "application/problem+json"),
    ))]
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    TextBody(yaml): TextBody,
) -> ApiResult<(StatusCode, Json<PublishedVersion>)> {
    caller.require_admin("publishing definitions")?;
    let published = state
        .service
        .publish(caller.org, "workflow.yaml", &yaml, &caller.email)
        .await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PublishedVersion {
            workflow: published.workflow,
            version: published.version,
        }),
    ))
}

/// The state diagram of a published version.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}/diagram.svg", tag = "workflows", security(("bearer" = [])),
    params(("workflow" = String, Path, description = "the workflow id"), VersionQuery),
    responses(
        (status = 200, description = "an SVG drawing", content_type = "image/svg+xml", body = String),
        (status = 404, description = "no such workflow or version", body = Problem, content_type = "application/problem+json"),
    ))]
async fn diagram(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<impl IntoResponse> {
    let (_, definition) = published(&state, &caller, &workflow, query.version).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        to_svg(&definition.doc),
    ))
}
