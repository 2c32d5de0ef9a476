//! Program-manager pages (admin role): the workflows and their versions; a
//! workflow's diagram, source and open cases per state and version; and a
//! line diff between two versions. The editor is in `editor.rs`.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{PageError, PageResult, Session, page, when};
use crate::engine::diagram::to_svg;
use crate::http::AppState;
use crate::storage::DefinitionRow;
use crate::web;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list))
        .route(
            "/workflows/editor",
            get(super::editor::editor).post(super::editor::submit),
        )
        .route("/workflows/{workflow}", get(show))
        .route("/workflows/{workflow}/diagram.svg", get(diagram))
        .route("/workflows/{workflow}/diff", get(diff))
}

pub(super) fn require_admin(session: &Session) -> PageResult<()> {
    session
        .caller
        .require_admin("the workflow pages")
        .map_err(PageError::from)
}

/// Every published version of `workflow`, oldest first; 404 when there is none.
async fn versions(
    state: &AppState,
    session: &Session,
    workflow: &str,
) -> PageResult<Vec<DefinitionRow>> {
    let rows: Vec<DefinitionRow> = state
        .service
        .store()
        .definitions(session.caller.org)
        .await?
        .into_iter()
        .filter(|row| row.workflow == workflow)
        .collect();
    if rows.is_empty() {
        return Err(PageError::NotFound);
    }
    Ok(rows)
}

#[derive(Serialize)]
struct Listed {
    name: String,
    title: String,
    versions: Vec<i64>,
    published: String,
    published_by: String,
}

async fn list(State(state): State<AppState>, session: Session) -> PageResult<Html<String>> {
    require_admin(&session)?;
    let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
    for row in state
        .service
        .store()
        .definitions(session.caller.org)
        .await?
    {
        let entry = listed
            .entry(row.workflow.clone())
            .or_insert_with(|| Listed {
                name: row.workflow.clone(),
                title: String::new(),
                versions: Vec::new(),
                published: String::new(),
                published_by: String::new(),
            });
        // Rows come oldest first: the last one seen is the newest.
        entry.title = row.title;
        entry.versions.push(row.version);
        entry.published = when(row.published_at);
        entry.published_by = row.published_by;
    }
    let mut context = tera::Context::new();
    context.insert("workflows", &listed.into_values().collect::<Vec<_>>());
    page(
        &state,
        &session,
        "workflows.html",
        "Workflows",
        "workflows",
        context,
    )
    .await
}

#[derive(Deserialize)]
pub struct VersionQuery {
    version: Option<i64>,
    published: Option<i64>,
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(workflow): Path<String>,
    Query(query): Query<VersionQuery>,
) -> PageResult<Html<String>> {
    require_admin(&session)?;
    let org = session.caller.org;
    let rows = versions(&state, &session, &workflow).await?;
    let row = match query.version {
        Some(version) => rows
            .iter()
            .find(|row| row.version == version)
            .ok_or(PageError::NotFound)?,
        None => rows.last().ok_or(PageError::NotFound)?,
    };
    let definition = state
        .service
        .definition(org, &workflow, row.version)
        .await?;
    let numbers: Vec<i64> = rows.iter().map(|row| row.version).collect();
    let previous = numbers
        .iter()
        .rev()
        .find(|version| **version < row.version)
        .or(numbers.first())
        .copied()
        .unwrap_or(row.version);
    // Open cases: a row per state of the shown version, a column per version that has any.
    let counts = state
        .service
        .store()
        .open_case_counts(org, &workflow)
        .await?;
    let mut count_versions: Vec<i64> = counts.iter().map(|(version, _, _)| *version).collect();
    count_versions.dedup();
    let mut state_names: Vec<String> = definition.states.keys().cloned().collect();
    for (_, name, _) in &counts {
        if !state_names.contains(name) {
            state_names.push(name.clone());
        }
    }
    let table: Vec<serde_json::Value> = state_names
        .iter()
        .filter(|name| counts.iter().any(|(_, state, _)| state == *name))
        .map(|name| {
            let per_version: Vec<i64> = count_versions
                .iter()
                .map(|version| {
                    counts
                        .iter()
                        .find(|(v, s, _)| v == version && s == name)
                        .map_or(0, |(_, _, n)| *n)
                })
                .collect();
            let title = definition
                .states
                .get(name)
                .map_or_else(|| name.clone(), |s| s.title.clone());
            json!({"title": title, "counts": per_version})
        })
        .collect();
    let mut context = tera::Context::new();
    context.insert("name", &workflow);
    context.insert("title", &row.title);
    context.insert("version", &row.version);
    context.insert("versions", &numbers);
    context.insert("previous", &previous);
    context.insert("counts", &table);
    context.insert("count_versions", &count_versions);
    context.insert("source", &row.source.lines().collect::<Vec<_>>());
    context.insert(
        "state_list",
        &definition
            .states
            .values()
            .map(|s| s.title.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    if let Some(published) = query.published {
        context.insert("flash", &format!("Published version {published}."));
    }
    let title = row.title.clone();
    page(
        &state,
        &session,
        "workflow.html",
        &title,
        "workflows",
        context,
    )
    .await
}

async fn diagram(
    State(state): State<AppState>,
    session: Session,
    Path(workflow): Path<String>,
    Query(query): Query<VersionQuery>,
) -> PageResult<Response> {
    let org = session.caller.org;
    let row = state
        .service
        .store()
        .definition(org, &workflow, query.version)
        .await?;
    let definition = state
        .service
        .definition(org, &workflow, row.version)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        to_svg(&definition.doc),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

async fn diff(
    State(state): State<AppState>,
    session: Session,
    Path(workflow): Path<String>,
    Query(query): Query<DiffQuery>,
) -> PageResult<Html<String>> {
    require_admin(&session)?;
    let rows = versions(&state, &session, &workflow).await?;
    let newest = rows.last().ok_or(PageError::NotFound)?;
    let to = query.to.unwrap_or(newest.version);
    let from = query.from.unwrap_or_else(|| {
        rows.iter()
            .rev()
            .find(|row| row.version < to)
            .map_or(to, |row| row.version)
    });
    let source = |version: i64| {
        rows.iter()
            .find(|row| row.version == version)
            .map(|row| row.source.as_str())
            .ok_or(PageError::NotFound)
    };
    let lines = web::line_diff(source(from)?, source(to)?);
    let mut context = tera::Context::new();
    context.insert("name", &workflow);
    context.insert("from", &from);
    context.insert("to", &to);
    context.insert(
        "versions",
        &rows.iter().map(|row| row.version).collect::<Vec<_>>(),
    );
    context.insert("added", &lines.iter().filter(|l| l.kind == "added").count());
    context.insert(
        "removed",
        &lines.iter().filter(|l| l.kind == "removed").count(),
    );
    context.insert("lines", &web::folded(lines));
    let title = format!("{workflow}: changes");
    page(&state, &session, "diff.html", &title, "workflows", context).await
}
