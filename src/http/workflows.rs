//! Workflow definitions: list, read, validate, publish, draw.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Caller, TextBody};
use crate::engine::diagram::to_svg;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workflows", get(list).post(publish))
        .route("/api/v1/workflows/validate", post(validate))
        .route("/api/v1/workflows/{workflow}", get(show))
        .route("/api/v1/workflows/{workflow}/diagram.svg", get(diagram))
}

#[derive(Serialize)]
struct Summary {
    workflow: String,
    version: i64,
    title: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionQuery {
    version: Option<i64>,
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow): Path<String>,
    Query(query): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let (row, definition) = published(&state, &caller, &workflow, query.version).await?;
    let states: Vec<Value> = definition
        .states
        .values()
        .map(|s| json!({"name": s.name, "title": s.title, "terminal": s.terminal}))
        .collect();
    let transitions: Vec<Value> = definition
        .transitions
        .values()
        .map(|t| {
            json!({
                "name": t.name, "title": t.title, "from": t.from, "to": t.to.states(),
                "roles": t.roles, "form": t.form.as_ref().map(|f| f.name()),
            })
        })
        .collect();
    Ok(Json(json!({
        "workflow": row.workflow, "version": row.version, "title": row.title,
        "source": row.source, "states": states, "transitions": transitions,
    })))
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

fn problems(diagnostics: &[crate::engine::Diagnostic], errors: bool) -> Vec<Value> {
    diagnostics
        .iter()
        .filter(|d| d.is_error() == errors)
        .map(|d| json!({"line": d.line, "column": d.column, "message": d.message}))
        .collect()
}

async fn validate(
    State(state): State<AppState>,
    _caller: Caller,
    TextBody(yaml): TextBody,
) -> Json<Value> {
    let (_, diagnostics) = state.service.catalog().compile("workflow.yaml", &yaml);
    Json(json!({"errors": problems(&diagnostics, true), "warnings": problems(&diagnostics, false)}))
}

async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    TextBody(yaml): TextBody,
) -> ApiResult<impl IntoResponse> {
    if !caller.has_role("admin") {
        return Err(ApiError::Forbidden(
            "publishing definitions needs the admin role".to_owned(),
        ));
    }
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
        Json(json!({"workflow": published.workflow, "version": published.version})),
    ))
}

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
