//! The workflow editor (admin role): a definition's YAML in a textarea with
//! line numbers; Validate lists every problem located and linked to its
//! line, Publish creates the new version through the same service call as
//! `POST /api/v1/workflows`.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::workflows::require_admin;
use super::{PageError, PageResult, Session, check_csrf, field, page};
use crate::engine::Diagnostic;
use crate::http::AppState;
use crate::http::workflows::located;
use crate::service::ServiceError;

/// The file name problems are reported against (the editor has no file).
const EDITOR_FILE: &str = "workflow.yaml";

#[derive(Deserialize)]
pub struct EditorQuery {
    from: Option<String>,
    version: Option<i64>,
}

pub async fn editor(
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

async fn editor_page(
    state: &AppState,
    session: &Session,
    source: &str,
    diagnostics: &[Diagnostic],
    ok: Option<&str>,
    status: StatusCode,
) -> PageResult<Response> {
    let located = |errors: bool| located(diagnostics, errors);
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

pub async fn submit(
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
