//! The inbox page: the cases waiting on the user's roles (the same list as
//! `GET /api/v1/tasks`), overdue and soonest due first, filtered by workflow
//! and state; and the user's notifications with the unread count.

use std::collections::BTreeMap;

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{PageError, PageResult, Session, check_csrf, page, when};
use crate::http::AppState;
use crate::http::extract::path_id;
use crate::http::inbox::inbox;

/// Notifications shown on the inbox, newest first.
const NOTIFICATIONS_SHOWN: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(inbox_page))
        .route("/notifications/{id}/read", post(mark_read))
}

#[derive(Deserialize)]
pub struct Filters {
    workflow: Option<String>,
    state: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    name: String,
    title: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    label: String,
    workflow_title: String,
    state_title: String,
    due: String,
    overdue: bool,
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Note {
    id: String,
    subject: String,
    created: String,
    read: bool,
    case_id: Option<String>,
}

/// "in 2 days", "3 hours ago": how far a due time is, roughly.
fn relative(due: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> String {
    let minutes = (due - now).num_minutes();
    let (amount, unit) = match minutes.abs() {
        m if m < 60 => (m, "minute"),
        m if m < 48 * 60 => (m / 60, "hour"),
        m => (m / (24 * 60), "day"),
    };
    let plural = if amount == 1 { "" } else { "s" };
    if minutes >= 0 {
        format!("in {amount} {unit}{plural}")
    } else {
        format!("{amount} {unit}{plural} ago")
    }
}

async fn inbox_page(
    State(state): State<AppState>,
    session: Session,
    Query(filters): Query<Filters>,
) -> PageResult<Html<String>> {
    let caller = &session.caller;
    let selected_workflow = filters.workflow.filter(|w| !w.is_empty());
    let selected_state = filters.state.filter(|s| !s.is_empty());
    let mut newest: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for row in state.service.store().definitions(caller.org).await? {
        newest.insert(row.workflow, (row.version, row.title));
    }
    let mut states: Vec<Choice> = Vec::new();
    let mut definitions = BTreeMap::new();
    for (workflow, (version, _)) in &newest {
        let definition = state
            .service
            .definition(caller.org, workflow, *version)
            .await?;
        definitions.insert(workflow.clone(), definition.clone());
        if selected_workflow.as_ref().is_some_and(|w| w != workflow) {
            continue;
        }
        for (name, info) in &definition.states {
            if !info.terminal && !states.iter().any(|s| &s.name == name) {
                states.push(Choice {
                    name: name.clone(),
                    title: info.title.clone(),
                });
            }
        }
    }
    let now = Utc::now();
    let tasks: Vec<Row> = inbox(&state, caller)
        .await?
        .into_iter()
        .filter(|task| {
            selected_workflow
                .as_ref()
                .is_none_or(|w| *w == task.workflow)
        })
        .filter(|task| selected_state.as_ref().is_none_or(|s| *s == task.state))
        .map(|task| Row {
            id: task.case.to_string(),
            label: super::case_label(task.case),
            workflow_title: newest
                .get(&task.workflow)
                .map_or_else(|| task.workflow.clone(), |(_, title)| title.clone()),
            state_title: task.state_title.unwrap_or_else(|| task.state.clone()),
            due: task.due.map_or_else(
                || "no deadline".to_owned(),
                |due| format!("{} ({})", when(due), relative(due, now)),
            ),
            overdue: task.due.is_some_and(|due| due < now),
            actions: task
                .transitions
                .iter()
                .map(|name| {
                    definitions
                        .get(&task.workflow)
                        .and_then(|d| d.transitions.get(name))
                        .map_or_else(|| name.clone(), |t| t.title.clone())
                })
                .collect(),
        })
        .collect();
    let notes: Vec<Note> = state
        .service
        .store()
        .notifications(caller.org, caller.user_id, false, NOTIFICATIONS_SHOWN)
        .await?
        .into_iter()
        .map(|n| Note {
            id: n.id.to_string(),
            subject: n.subject,
            created: when(n.created_at),
            read: n.read_at.is_some(),
            case_id: n.case_id.map(|id| id.to_string()),
        })
        .collect();
    let workflows: Vec<Choice> = newest
        .into_iter()
        .map(|(name, (_, title))| Choice { name, title })
        .collect();
    let mut context = tera::Context::new();
    context.insert("tasks", &tasks);
    context.insert("notifications", &notes);
    context.insert("workflows", &workflows);
    context.insert("states", &states);
    context.insert("selected_workflow", &selected_workflow.unwrap_or_default());
    context.insert("selected_state", &selected_state.unwrap_or_default());
    page(&state, &session, "inbox.html", "Inbox", "inbox", context).await
}

async fn mark_read(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult<Response> {
    let Form(pairs) = form.map_err(|rejection| PageError::BadRequest(rejection.body_text()))?;
    check_csrf(&session, &pairs)?;
    let caller = &session.caller;
    state
        .service
        .store()
        .mark_notification_read(caller.org, caller.user_id, path_id(&id)?, Utc::now())
        .await?;
    Ok(Redirect::to("/inbox").into_response())
}

#[cfg(test)]
mod tests {
    use super::relative;
    use chrono::{Duration, Utc};

    #[test]
    fn due_times_read_as_distances() {
        let now = Utc::now();
        assert_eq!(relative(now + Duration::days(2), now), "in 2 days");
        assert_eq!(relative(now - Duration::hours(3), now), "3 hours ago");
        assert_eq!(relative(now + Duration::minutes(1), now), "in 1 minute");
    }
}
