//! The case page (its data under the case schema's labels, its state, the
//! audit trail as a timeline, what the user may do and why not) and the
//! generated form of each transition, fired through the same service call as
//! `POST /api/v1/cases/{id}/transitions/{name}`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{PageError, PageResult, Session, check_csrf, field, page, when};
use crate::engine::{Definition, Refusal};
use crate::forms::FieldError;
use crate::http::AppState;
use crate::http::cases::{load_with_definition, log_reads, transition_views};
use crate::http::observe::RequestId;
use crate::service::ServiceError;
use crate::storage::CaseRecord;
use crate::web;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/transitions/{name}", get(form_page).post(fire))
}

fn short(case: &CaseRecord) -> String {
    super::case_label(case.id)
}

fn state_title(definition: &Definition, state: &str) -> String {
    definition
        .states
        .get(state)
        .map_or_else(|| state.to_owned(), |s| s.title.clone())
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Serialize)]
struct Change {
    label: String,
    old: String,
    new: String,
}

#[derive(Serialize)]
struct Entry {
    title: String,
    from: Option<String>,
    to: String,
    actor: String,
    at: String,
    at_iso: String,
    changes: Vec<Change>,
}

async fn case_page(
    State(state): State<AppState>,
    session: Session,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let caller = &session.caller;
    let (case, definition) = load_with_definition(&state, caller, &id).await?;
    log_reads(&state, caller, &request_id, "case page", [&case]).await;
    let history = state.service.store().history(caller.org, case.id).await?;
    let schema = definition.case_schema.as_deref();
    let timeline: Vec<Entry> = history
        .into_iter()
        .rev()
        .map(|entry| Entry {
            title: entry.transition.as_ref().map_or_else(
                || "Opened".to_owned(),
                |name| {
                    definition
                        .transitions
                        .get(name)
                        .map_or_else(|| name.clone(), |t| t.title.clone())
                },
            ),
            from: entry.from.as_deref().map(|s| state_title(&definition, s)),
            to: state_title(&definition, &entry.to),
            actor: entry.actor,
            at: when(entry.at),
            at_iso: entry.at.to_rfc3339(),
            changes: entry
                .changes
                .as_array()
                .into_iter()
                .flatten()
                .map(|change| Change {
                    label: web::change_label(
                        change["path"].as_str().unwrap_or(""),
                        schema,
                        session.lang,
                    ),
                    old: web::change_value(
                        change["path"].as_str().unwrap_or(""),
                        &change["old"],
                        schema,
                    ),
                    new: web::change_value(
                        change["path"].as_str().unwrap_or(""),
                        &change["new"],
                        schema,
                    ),
                })
                .collect(),
        })
        .collect();
    let terminal = definition
        .states
        .get(&case.state)
        .is_some_and(|s| s.terminal);
    let mut context = tera::Context::new();
    context.insert(
        "case",
        &json!({
            "id": case.id.to_string(),
            "short": short(&case),
            "state_title": state_title(&definition, &case.state),
            "terminal": terminal,
            "version": case.version,
            "workflow_title": definition.title,
            "workflow_version": case.workflow_version,
        }),
    );
    let mut transitions = transition_views(&state, &case, &definition, caller).await?;
    for view in &mut transitions {
        view.reasons = view.reasons.iter().map(|r| plain_reason(r)).collect();
    }
    context.insert("transitions", &transitions);
    context.insert(
        "summary",
        &web::render_summary(&case.data, schema, session.lang),
    );
    context.insert("timeline", &timeline);
    if let Some(name) = done.done
        && let Some(transition) = definition.transitions.get(&name)
    {
        context.insert("flash", &format!("Done: {}.", transition.title));
    }
    let title = format!("Case {}", short(&case));
    Ok(page(&state, &session, "case.html", &title, "", context)
        .await?
        .into_response())
}

/// A why-not as staff read it: the engine names the transition (already the
/// button's label) and lists roles as code; the page says "needs one of the
/// roles clinician or team_leader".
fn plain_reason(reason: &str) -> String {
    let reason = match reason
        .strip_prefix('`')
        .and_then(|rest| rest.split_once("` "))
    {
        Some((_, rest)) => rest,
        None => reason,
    };
    reason
        .replace("[\"", "")
        .replace("\", \"", " or ")
        .replace("\"]", "")
        .replace('`', "")
}

/// What the form page shows besides the form.
struct Shown<'a> {
    values: &'a Value,
    errors: &'a [FieldError],
    refusal: Vec<String>,
}

async fn render_form_page(
    state: &AppState,
    session: &Session,
    case: &CaseRecord,
    definition: &Definition,
    name: &str,
    shown: Shown<'_>,
) -> PageResult<Response> {
    let transition = definition
        .transitions
        .get(name)
        .ok_or(PageError::NotFound)?;
    let empty = json!({"type": "object", "additionalProperties": false});
    let no_hints = crate::forms::UiHints::default();
    let (schema, ui) = transition
        .form
        .as_ref()
        .map_or((&empty, &no_hints), |form| (form.schema(), form.ui()));
    let fields = web::render_fields(&web::FormView {
        schema,
        ui,
        values: shown.values,
        errors: shown.errors,
        lang: session.lang,
    });
    let mut errors: Vec<Value> = shown
        .errors
        .iter()
        .map(|error| {
            let label = ui
                .label_in(&error.path, session.lang)
                .map_or_else(|| "The form".to_owned(), str::to_owned);
            json!({
                "text": format!("{label} {}", error.message),
                "target": if error.path.is_empty() { "main".to_owned() } else { web::field_id(&web::pointer_to_name(&error.path)) },
            })
        })
        .collect();
    // The summary lists problems in the order the fields come on the page.
    errors.sort_by_key(|error| {
        let target = format!("id=\"{}\"", error["target"].as_str().unwrap_or(""));
        fields.find(&target).unwrap_or(usize::MAX)
    });
    let mut context = tera::Context::new();
    context.insert("case_id", &case.id.to_string());
    context.insert("case_short", &short(case));
    context.insert("case_version", &case.version);
    context.insert("state_title", &state_title(definition, &case.state));
    context.insert("name", name);
    context.insert("heading", &transition.title);
    context.insert("fields", &fields);
    context.insert("errors", &errors);
    context.insert("refusal", &shown.refusal);
    let failed = !errors.is_empty() || !shown.refusal.is_empty();
    let html = page(
        state,
        session,
        "transition.html",
        &transition.title,
        "",
        context,
    )
    .await?;
    let status = if failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, html).into_response())
}

async fn form_page(
    State(state): State<AppState>,
    session: Session,
    Path((id, name)): Path<(String, String)>,
) -> PageResult<Response> {
    let (case, definition) = load_with_definition(&state, &session.caller, &id).await?;
    let views = transition_views(&state, &case, &definition, &session.caller).await?;
    let Some(view) = views.iter().find(|view| view.name == name) else {
        return Err(if definition.transitions.contains_key(&name) {
            PageError::Conflict(format!(
                "the case is now {}, which this transition does not leave from",
                state_title(&definition, &case.state).to_lowercase()
            ))
        } else {
            PageError::NotFound
        });
    };
    let shown = Shown {
        values: &Value::Null,
        errors: &[],
        refusal: view.reasons.iter().map(|r| plain_reason(r)).collect(),
    };
    render_form_page(&state, &session, &case, &definition, &name, shown).await
}

async fn fire(
    State(state): State<AppState>,
    session: Session,
    Extension(request_id): Extension<RequestId>,
    Path((id, name)): Path<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult<Response> {
    let Form(pairs) = form.map_err(|rejection| PageError::BadRequest(rejection.body_text()))?;
    check_csrf(&session, &pairs)?;
    let caller = &session.caller;
    if caller.read_only() {
        return Err(PageError::Forbidden(
            "the auditor role reads cases and changes none".to_owned(),
        ));
    }
    let (case, definition) = load_with_definition(&state, caller, &id).await?;
    let transition = definition
        .transitions
        .get(&name)
        .ok_or(PageError::NotFound)?;
    let submitted = match &transition.form {
        Some(form) => web::read_form(form.schema(), form.ui(), &pairs),
        None => json!({}),
    };
    let expected_version = field(&pairs, "_version").and_then(|v| v.parse::<i64>().ok());
    let fired = state
        .service
        .fire(
            caller.org,
            &caller.actor(),
            case.id,
            &name,
            &submitted,
            expected_version,
            Some(&request_id.0),
        )
        .await;
    let (errors, refusal) = match fired {
        Ok(_) => {
            let back = format!("/cases/{}?done={}", case.id, super::percent_encode(&name));
            return Ok(Redirect::to(&back).into_response());
        }
        Err(ServiceError::Refused(Refusal::InvalidForm(errors))) => (errors, Vec::new()),
        Err(ServiceError::Refused(Refusal::Guard(reasons))) => (Vec::new(), reasons),
        Err(ServiceError::Refused(Refusal::UnknownTransition(_))) => {
            return Err(PageError::NotFound);
        }
        Err(ServiceError::Refused(refusal)) => (Vec::new(), vec![refusal.to_string()]),
        Err(ServiceError::Conflict(why)) => (
            Vec::new(),
            vec![format!(
                "the case changed while the form was open ({why}); check the case and try again"
            )],
        ),
        Err(other) => return Err(other.into()),
    };
    let shown = Shown {
        values: &submitted,
        errors: &errors,
        refusal,
    };
    render_form_page(&state, &session, &case, &definition, &name, shown).await
}

#[cfg(test)]
mod tests {
    use super::plain_reason;

    #[test]
    fn why_nots_read_as_sentences() {
        assert_eq!(
            plain_reason("`assign_program` needs one of the roles [\"team_leader\", \"admin\"]"),
            "needs one of the roles team_leader or admin"
        );
        assert_eq!(
            plain_reason("the client is under 5"),
            "the client is under 5"
        );
    }
}
