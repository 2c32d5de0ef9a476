//! The caller's inbox (cases waiting on one of their roles) and notifications.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiResult;
use super::extract::Caller;

/// The most cases one inbox lists per workflow state.
const PER_STATE: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tasks", get(tasks))
        .route("/api/v1/notifications", get(notifications))
}

/// Cases in a state that some transition the caller may fire leaves from,
/// judged on each workflow's newest version.
async fn tasks(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let store = state.service.store();
    let rows = store.definitions(caller.org).await?;
    let mut newest: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for row in rows {
        newest.insert(row.workflow, row.version);
    }
    let mut items = Vec::new();
    for (workflow, version) in newest {
        let definition = state
            .service
            .definition(caller.org, &workflow, version)
            .await?;
        let mut states = Vec::new();
        let mut actions = std::collections::BTreeMap::new();
        for (name, state_def) in &definition.states {
            if state_def.terminal || caller.read_only() {
                continue;
            }
            let mine: Vec<&str> = definition
                .transitions_from(name)
                .filter(|t| {
                    t.roles
                        .as_ref()
                        .is_none_or(|roles| roles.iter().any(|r| caller.has_role(r)))
                })
                .map(|t| t.name.as_str())
                .collect();
            if !mine.is_empty() {
                states.push(name.clone());
                actions.insert(name.clone(), mine);
            }
        }
        let cases = store
            .cases_in_states(caller.org, &workflow, &states, PER_STATE)
            .await?;
        for case in cases {
            items.push(json!({
                "case": case.id, "workflow": case.workflow, "state": case.state,
                "state_title": definition.states.get(&case.state).map(|s| s.title.clone()),
                "transitions": actions.get(&case.state), "updated_at": case.updated_at,
                "due": Value::Null,
            }));
        }
    }
    Ok(Json(Value::Array(items)))
}

async fn notifications(_caller: Caller) -> Json<Value> {
    // In-app notifications are written by the notification worker (the jobs issue).
    Json(json!([]))
}
