//! Cases: open, list, read, history, what may be done, the forms, and moves.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller};
use crate::engine::{CaseView, available};
use crate::storage::{CaseFilter, CaseRecord};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", get(list).post(create))
        .route("/api/v1/cases/{id}", get(show))
        .route("/api/v1/cases/{id}/history", get(history))
        .route("/api/v1/cases/{id}/transitions", get(transitions))
        .route("/api/v1/cases/{id}/transitions/{name}", post(fire))
        .route("/api/v1/cases/{id}/transitions/{name}/form", get(form))
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn case_id(text: &str) -> ApiResult<Uuid> {
    // Not a UUID: it cannot be anyone's case.
    text.parse().map_err(|_| ApiError::NotFound)
}

fn forbid_read_only(caller: &Caller) -> ApiResult<()> {
    if caller.read_only() {
        return Err(ApiError::Forbidden(
            "the auditor role reads cases and changes none".to_owned(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    workflow: String,
    #[serde(default)]
    data: Value,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewCase>,
) -> ApiResult<(StatusCode, Json<CaseRecord>)> {
    forbid_read_only(&caller)?;
    let case = state
        .service
        .create_case(
            caller.org,
            &caller.actor(),
            &body.workflow,
            body.data,
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(case)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    workflow: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let after = match query.cursor.as_deref() {
        Some(cursor) => Some(
            cursor
                .parse()
                .map_err(|_| ApiError::BadRequest("`cursor` is not one we gave out".to_owned()))?,
        ),
        None => None,
    };
    let filter = CaseFilter {
        workflow: query.workflow,
        state: query.state,
        after,
        limit: query.limit.unwrap_or(50),
    };
    let page = state.service.store().cases(caller.org, &filter).await?;
    Ok(Json(
        json!({"items": page.items, "next_cursor": page.next.map(|id| id.to_string())}),
    ))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CaseRecord> {
    Ok(state.service.store().case(caller.org, case_id(id)?).await?)
}

/// The case and the definition version it is pinned to.
async fn load_with_definition(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(CaseRecord, std::sync::Arc<crate::engine::Definition>)> {
    let case = load(state, caller, id).await?;
    let definition = state
        .service
        .definition(caller.org, &case.workflow, case.workflow_version)
        .await?;
    Ok((case, definition))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseRecord>> {
    Ok(Json(load(&state, &caller, &id).await?))
}

async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case = load(&state, &caller, &id).await?;
    let entries = state.service.store().history(caller.org, case.id).await?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            json!({
                "seq": entry.seq, "transition": entry.transition, "from": entry.from, "to": entry.to,
                "actor": entry.actor, "at": entry.at, "form": entry.form, "changes": entry.changes,
            })
        })
        .collect();
    Ok(Json(Value::Array(entries)))
}

async fn transitions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (case, definition) = load_with_definition(&state, &caller, &id).await?;
    let view = CaseView {
        state: &case.state,
        data: &case.data,
    };
    let mut listed = available(&definition, view, &caller.actor(), chrono::Utc::now());
    if caller.read_only() {
        for item in &mut listed {
            item.allowed = false;
            item.reasons = vec!["the auditor role fires no transition".to_owned()];
        }
    }
    Ok(Json(json!(listed)))
}

async fn form(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, definition) = load_with_definition(&state, &caller, &id).await?;
    let transition = definition
        .transitions
        .get(&name)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(match &transition.form {
        Some(form) => json!({"schema": form.schema(), "ui": form.ui()}),
        None => json!({"schema": {"type": "object", "additionalProperties": false}, "ui": {}}),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fire {
    #[serde(default)]
    form: Value,
    expected_version: Option<i64>,
}

async fn fire(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<Fire>,
) -> ApiResult<Json<CaseRecord>> {
    forbid_read_only(&caller)?;
    let moved = state
        .service
        .fire(
            caller.org,
            &caller.actor(),
            case_id(&id)?,
            &name,
            &body.form,
            body.expected_version,
            request_id(&headers).as_deref(),
        )
        .await?;
    Ok(Json(moved))
}
