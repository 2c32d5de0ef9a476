//! The caller's inbox (cases waiting on one of their roles, with due dates)
//! and their in-app notifications.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::docs::Problem;
use super::error::ApiResult;
use super::extract::{Caller, path_id};
use crate::engine::{CaseView, due_dates};
use crate::storage::Notification;

/// The most cases one inbox lists per workflow state.
const PER_STATE: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tasks))
        .routes(routes!(notifications))
        .routes(routes!(mark_read))
}

#[derive(Serialize, ToSchema)]
pub struct Task {
    pub(super) case: Uuid,
    pub(super) workflow: String,
    pub(super) state: String,
    pub(super) state_title: Option<String>,
    /// What the caller may do next.
    pub(super) transitions: Vec<String>,
    pub(super) updated_at: DateTime<Utc>,
    /// The earliest deadline of the case's state; absent when it has none.
    pub(super) due: Option<DateTime<Utc>>,
}

/// Cases in a state that some transition the caller may fire leaves from,
/// judged on each workflow's newest version; soonest due first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "inbox", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's inbox", body = Vec<Task>),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn tasks(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Task>>> {
    Ok(Json(inbox(&state, &caller).await?))
}

/// The caller's tasks, soonest due first: the API's `GET /api/v1/tasks` and the inbox page.
pub(super) async fn inbox(state: &AppState, caller: &Caller) -> ApiResult<Vec<Task>> {
    if caller.read_only() {
        return Ok(Vec::new());
    }
    let store = state.service.store();
    let mut newest: BTreeMap<String, i64> = BTreeMap::new();
    for row in store.definitions(caller.org).await? {
        newest.insert(row.workflow, row.version);
    }
    let mut items = Vec::new();
    for (workflow, version) in newest {
        let definition = state
            .service
            .definition(caller.org, &workflow, version)
            .await?;
        let mut actions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, state_def) in &definition.states {
            if state_def.terminal {
                continue;
            }
            let mine: Vec<String> = definition
                .transitions_from(name)
                .filter(|t| {
                    t.roles
                        .as_ref()
                        .is_none_or(|roles| roles.iter().any(|r| caller.has_role(r)))
                })
                .map(|t| t.name.clone())
                .collect();
            if !mine.is_empty() {
                actions.insert(name.clone(), mine);
            }
        }
        let states: Vec<String> = actions.keys().cloned().collect();
        let cases = store
            .cases_in_states(caller.org, &workflow, &states, PER_STATE)
            .await?;
        for case in cases {
            let view = CaseView {
                state: &case.state,
                data: &case.data,
            };
            // Cases opened on an older version keep its deadlines.
            let pinned = if case.workflow_version == version {
                definition.clone()
            } else {
                state
                    .service
                    .definition(caller.org, &workflow, case.workflow_version)
                    .await?
            };
            let due = due_dates(&pinned, view, case.updated_at).into_iter().min();
            items.push(Task {
                case: case.id,
                workflow: case.workflow.clone(),
                state_title: definition.states.get(&case.state).map(|s| s.title.clone()),
                transitions: actions.get(&case.state).cloned().unwrap_or_default(),
                state: case.state,
                updated_at: case.updated_at,
                due,
            });
        }
    }
    // Soonest due first; cases without a deadline after, oldest first.
    items.sort_by_key(|task| (task.due.is_none(), task.due, task.updated_at));
    Ok(items)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NotificationQuery {
    /// Only those not yet marked read.
    #[serde(default)]
    unread: bool,
    /// At most 500; 100 when absent.
    limit: Option<i64>,
}

/// The caller's in-app notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "inbox", security(("bearer" = [])),
    params(NotificationQuery),
    responses(
        (status = 200, description = "the caller's notifications", body = Vec<Notification>),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<NotificationQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(
        state
            .service
            .store()
            .notifications(
                caller.org,
                caller.user_id,
                query.unread,
                query.limit.unwrap_or(100),
            )
            .await?,
    ))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "inbox", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the notification")),
    responses(
        (status = 204, description = "marked read"),
        (status = 404, description = "not one of the caller's notifications", body = Problem, content_type = "application/problem+json"),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id)?;
    state
        .service
        .store()
        .mark_notification_read(caller.org, caller.user_id, id, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
