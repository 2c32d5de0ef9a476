//! Program-manager pages (admin role): the workflows and their versions; a
//! workflow's diagram, source and open cases per state and version; the
//! editor that validates (every problem located, linked to its line) and
//! publishes through the same service call as `POST /api/v1/workflows`; and a
//! line diff between two versions.

use std::collections::BTreeMap;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{PageError, PageResult, Session, check_csrf, field, page, when};
use crate::engine::Diagnostic;
use crate::engine::diagram::to_svg;
use crate::http::AppState;
use crate::service::ServiceError;
use crate::storage::DefinitionRow;
use crate::web;

/// The file name problems are reported against (the editor has no file).
const EDITOR_FILE: &str = "workflow.yaml";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/editor", get(editor).post(submit))
        .route("/workflows/{workflow}", get(show))
        .route("/workflows/{workflow}/diagram.svg", get(diagram))
        .route("/workflows/{workflow}/diff", get(diff))
}

fn require_admin(session: &Session) -> PageResult<()> {
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

#[derive(Deserialize)]
pub struct EditorQuery {
    from: Option<String>,
    version: Option<i64>,
}

async fn editor(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<EditorQuery>,
) -> PageResult<Response> {
    require_admin(&session)?;
    let Some(workflow) = &query.from else {
        return editor_page(&state, &session, "", &[], None, StatusCode::OK).await;
    };
    let store = state.service.store();
    let row = store
        .definition(session.caller.org, workflow, query.version)
        .await?;
    let next = store
        .definition(session.caller.org, workflow, None)
        .await?
        .version
        + 1;
    // A changed definition must carry a new version number: set it, and say so.
    let source = with_version(&row.source, next);
    let note = format!(
        "This is {workflow} version {} with its version set to {next}, ready to change and publish.",
        row.version
    );
    editor_page(&state, &session, &source, &[], Some(&note), StatusCode::OK).await
}

/// `source` with its top-level `version:` line saying `version`.
fn with_version(source: &str, version: i64) -> String {
    let mut done = false;
    let mut out: Vec<String> = source
        .lines()
        .map(|line| {
            let is_version = line.strip_prefix("version:").is_some_and(|rest| {
                let value = rest.split('#').next().unwrap_or("").trim();
                !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
            });
            if is_version && !done {
                done = true;
                format!("version: {version}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    if source.ends_with('\n') {
        out.push(String::new());
    }
    out.join("\n")
}

#[derive(Serialize)]
struct Located {
    line: usize,
    column: usize,
    message: String,
}

async fn editor_page(
    state: &AppState,
    session: &Session,
    source: &str,
    diagnostics: &[Diagnostic],
    ok: Option<&str>,
    status: StatusCode,
) -> PageResult<Response> {
    let located = |errors: bool| -> Vec<Located> {
        diagnostics
            .iter()
            .filter(|d| d.is_error() == errors)
            .map(|d| Located {
                line: d.line,
                column: d.column,
                message: d.message.clone(),
            })
            .collect()
    };
    let errors = located(true);
    let lines = source.lines().count().max(1) + usize::from(source.ends_with('\n'));
    let mut context = tera::Context::new();
    context.insert("source", source);
    context.insert(
        "error_lines",
        &errors.iter().map(|e| e.line).collect::<Vec<_>>(),
    );
    context.insert("errors", &errors);
    context.insert("warnings", &located(false));
    context.insert("line_numbers", &(1..=lines).collect::<Vec<_>>());
    context.insert("ok", &ok);
    let html = page(
        state,
        session,
        "editor.html",
        "Workflow editor",
        "workflows",
        context,
    )
    .await?;
    Ok((status, html).into_response())
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult<Response> {
    let Form(pairs) = form.map_err(|rejection| PageError::BadRequest(rejection.body_text()))?;
    check_csrf(&session, &pairs)?;
    require_admin(&session)?;
    // Browsers send textarea lines with CRLF; the definition is kept as typed, in LF.
    let source = field(&pairs, "source").unwrap_or("").replace("\r\n", "\n");
    if field(&pairs, "action") == Some("publish") {
        let published = state
            .service
            .publish(
                session.caller.org,
                EDITOR_FILE,
                &source,
                &session.caller.email,
            )
            .await;
        return match published {
            Ok(published) => Ok(Redirect::to(&format!(
                "/workflows/{}?version={v}&published={v}",
                published.workflow,
                v = published.version
            ))
            .into_response()),
            Err(ServiceError::Invalid(problems)) => {
                editor_page(
                    &state,
                    &session,
                    &source,
                    &problems,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(other) => Err(other.into()),
        };
    }
    let (_, diagnostics) = state.service.catalog().compile(EDITOR_FILE, &source);
    let clean = !diagnostics.iter().any(Diagnostic::is_error);
    let ok = clean.then_some("No problems found: this definition can be published.");
    let status = if clean {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    editor_page(&state, &session, &source, &diagnostics, ok, status).await
}

#[cfg(test)]
mod tests {
    use super::with_version;

    #[test]
    fn the_top_level_version_line_is_bumped_and_nothing_else() {
        let source = "workflow: w\nversion: 3 # third\nstates:\n  a:\n    version: 9\n";
        assert_eq!(
            with_version(source, 4),
            "workflow: w\nversion: 4\nstates:\n  a:\n    version: 9\n"
        );
    }
}
