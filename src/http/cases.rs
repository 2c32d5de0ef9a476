//! Cases: open, list, read, history, what may be done, the forms, and moves.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller, path_id};
use super::observe::RequestId;
use crate::engine::{CaseView, available_with_links};
use crate::storage::{CaseFilter, CaseRead, CaseRecord};
use crate::web::render_form;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(history))
        .routes(routes!(transitions))
        .routes(routes!(fire))
        .routes(routes!(form))
        .routes(routes!(reads))
}

/// Records who looked at which cases, for the access log regulators ask for.
pub(super) async fn log_reads(
    state: &AppState,
    caller: &Caller,
    request_id: &RequestId,
    what: &str,
    cases: impl IntoIterator<Item = &CaseRecord>,
) {
    let at = chrono::Utc::now();
    let reads = cases
        .into_iter()
        .map(|case| CaseRead {
            org_id: caller.org,
            case_id: case.id,
            reader: caller.email.clone(),
            what: what.to_owned(),
            request_id: Some(request_id.0.clone()),
            at,
        })
        .collect();
    state.service.store().log_case_reads(reads).await;
}

fn forbid_read_only(caller: &Caller) -> ApiResult<()> {
    if caller.read_only() {
        return Err(ApiError::Forbidden(
            "the auditor role reads cases and changes none".to_owned(),
        ));
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// Cases open on the newest published version.
    workflow: String,
    /// Validated against the workflow's `case_schema`.
    #[serde(default)]
    #[schema(value_type = Object)]
    data: Value,
}

/// Opens a case in the workflow's initial state.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = NewCase,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retried request with the same key answers the first answer")),
    responses(
        (status = 201, description = "the new case", body = CaseRecord),
        (status = 403, description = "the auditor role opens no case", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the data fails the case schema, one error per field", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    ApiJson(body): ApiJson<NewCase>,
) -> ApiResult<(StatusCode, Json<std::sync::Arc<CaseRecord>>)> {
    forbid_read_only(&caller)?;
    let case = state
        .service
        .create_case(
            caller.org,
            &caller.actor(),
            &body.workflow,
            body.data,
            Some(&request_id.0),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(case)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    workflow: Option<String>,
    state: Option<String>,
    /// At most 500; 50 when absent.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CasePage {
    items: Vec<CaseRecord>,
    /// Absent on the last page.
    next_cursor: Option<String>,
}

/// The organisation's cases, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "a page of cases", body = CasePage),
        (status = 400, description = "a bad cursor or filter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<CasePage>> {
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
    log_reads(&state, &caller, &request_id, "list", &page.items).await;
    Ok(Json(CasePage {
        items: page.items,
        next_cursor: page.next.map(|id| id.to_string()),
    }))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CaseRecord> {
    Ok(state.service.store().case(caller.org, path_id(id)?).await?)
}

/// The case and the definition version it is pinned to.
pub(super) async fn load_with_definition(
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

/// One case.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "the case", body = CaseRecord),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseRecord>> {
    let case = load(&state, &caller, &id).await?;
    log_reads(&state, &caller, &request_id, "case", [&case]).await;
    Ok(Json(case))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEntry {
    seq: i64,
    /// Absent for the entry that opened the case.
    transition: Option<String>,
    from: Option<String>,
    to: String,
    actor: String,
    at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<Object>)]
    form: Option<Value>,
    /// `[{path, from, to}]`, one per changed field.
    #[schema(value_type = Vec<Object>)]
    changes: Value,
}

/// The case's audit trail, oldest first.
#[utoipa::path(get, path = "/api/v1/cases/{id}/history", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "every move", body = Vec<HistoryEntry>),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HistoryEntry>>> {
    let case = load(&state, &caller, &id).await?;
    log_reads(&state, &caller, &request_id, "history", [&case]).await;
    let entries = state.service.store().history(caller.org, case.id).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| HistoryEntry {
                seq: entry.seq,
                transition: entry.transition,
                from: entry.from,
                to: entry.to,
                actor: entry.actor,
                at: entry.at,
                form: entry.form,
                changes: entry.changes,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TransitionView {
    pub(super) name: String,
    pub(super) title: String,
    /// Whether the caller may fire it now.
    pub(super) allowed: bool,
    /// Why not, when not allowed.
    pub(super) reasons: Vec<String>,
    pub(super) form: Option<String>,
}

/// The transitions leaving the case's state, each with whether the caller may fire it and why not.
#[utoipa::path(get, path = "/api/v1/cases/{id}/transitions", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "allowed and why-not per transition", body = Vec<TransitionView>),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn transitions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TransitionView>>> {
    let (case, definition) = load_with_definition(&state, &caller, &id).await?;
    Ok(Json(
        transition_views(&state, &case, &definition, &caller).await?,
    ))
}

/// What the caller may fire on the case now, and why not: the API's list and the case page's buttons.
pub(super) async fn transition_views(
    state: &AppState,
    case: &CaseRecord,
    definition: &crate::engine::Definition,
    caller: &Caller,
) -> ApiResult<Vec<TransitionView>> {
    let view = CaseView {
        state: &case.state,
        data: &case.data,
    };
    let links = state
        .service
        .linked_data(caller.org, definition, &case.data)
        .await?;
    let listed = available_with_links(
        definition,
        view,
        &links,
        &caller.actor(),
        chrono::Utc::now(),
    );
    let read_only = caller.read_only();
    Ok(listed
        .into_iter()
        .map(|item| TransitionView {
            name: item.name,
            title: item.title,
            allowed: item.allowed && !read_only,
            reasons: if read_only {
                vec!["the auditor role fires no transition".to_owned()]
            } else {
                item.reasons
            },
            form: item.form,
        })
        .collect())
}

#[derive(Serialize, ToSchema)]
pub struct FormDocument {
    /// The JSON Schema (draft 2020-12) the form must satisfy.
    #[schema(value_type = Object)]
    schema: Value,
    /// `x-ui` hints per field: labels, widgets, order.
    #[schema(value_type = Object)]
    ui: Value,
}

/// The form a transition asks for: JSON Schema and UI hints, or with
/// `Accept: text/html` the form itself, rendered.
#[utoipa::path(get, path = "/api/v1/cases/{id}/transitions/{name}/form", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case id"), ("name" = String, Path, description = "the transition")),
    responses(
        (status = 200, description = "the schema and UI hints", body = FormDocument),
        (status = 200, description = "with Accept: text/html, the rendered form", content_type = "text/html", body = String),
        (status = 404, description = "no such case or transition", body = Problem, content_type = "application/problem+json"),
    ))]
async fn form(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (case, definition) = load_with_definition(&state, &caller, &id).await?;
    let transition = definition
        .transitions
        .get(&name)
        .ok_or(ApiError::NotFound)?;
    let empty = json!({"type": "object", "additionalProperties": false});
    let no_hints = crate::forms::UiHints::default();
    let (schema, ui) = match &transition.form {
        Some(form) => (form.schema(), form.ui()),
        None => (&empty, &no_hints),
    };
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let action = format!("/cases/{}/transitions/{}", case.id, transition.name);
        return Ok(Html(render_form(&transition.title, &action, schema, ui)).into_response());
    }
    Ok(Json(FormDocument {
        schema: schema.clone(),
        ui: json!(ui),
    })
    .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fire {
    /// The transition's form; `{}` or absent when it has none.
    #[serde(default)]
    #[schema(value_type = Object)]
    form: Value,
    /// When given, the move applies only if the case is still at this version.
    expected_version: Option<i64>,
}

/// Fires a transition on the case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/transitions/{name}", tag = "cases", security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "the case id"),
        ("name" = String, Path, description = "the transition"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retried request with the same key answers the first answer"),
    ),
    request_body = Fire,
    responses(
        (status = 200, description = "the case after the move", body = CaseRecord),
        (status = 403, description = "the caller's roles may not fire it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case or transition", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case left the transition's states, or expected_version is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the form fails its schema (errors) or a guard refused (reasons)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn fire(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path((id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<Fire>,
) -> ApiResult<Json<std::sync::Arc<CaseRecord>>> {
    forbid_read_only(&caller)?;
    let moved = state
        .service
        .fire(
            caller.org,
            &caller.actor(),
            path_id(&id)?,
            &name,
            &body.form,
            body.expected_version,
            Some(&request_id.0),
        )
        .await?;
    Ok(Json(moved))
}

/// Who read the case and when (admins and auditors).
#[utoipa::path(get, path = "/api/v1/cases/{id}/reads", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "the access log, newest first", body = Vec<CaseRead>),
        (status = 403, description = "neither admin nor auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reads(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<CaseRead>>> {
    if !(caller.has_role("admin") || caller.has_role("auditor")) {
        return Err(ApiError::Forbidden(
            "the access log is for admins and auditors".to_owned(),
        ));
    }
    let case = load(&state, &caller, &id).await?;
    let store = state.service.store();
    store.flush_case_reads().await;
    Ok(Json(store.case_reads(caller.org, case.id, 500).await?))
}
