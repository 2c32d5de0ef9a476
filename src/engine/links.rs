//! Linked cases: `links:` and `fire_linked:` checked where written, and the
//! `fire_linked` effects of a move. Reading a linked case's data is the
//! caller's part (the engine gets it as `links`); asking for a transition on
//! one is an effect like any other, carried out after the move.

use indexmap::IndexMap;
use serde_json::Value;

use super::checker::Checker;
use super::data_path;
use super::definition::{Definition, FireLinked, Link};
use super::model::{TransitionDoc, WorkflowDoc};
use super::outcome::{Effect, Outcome, Refusal};
use crate::forms::Form;
use crate::rules::Bindings;
use crate::yaml_path;

/// The `fire_linked` effect, read from the case after the move's `set`s; a case not linked
/// (its id field empty) gets a warning rather than a refusal, since the move itself is sound.
pub(super) fn linked_effect(
    definition: &Definition,
    fire_linked: &FireLinked,
    bindings: &mut Bindings,
    outcome: &mut Outcome,
) -> Result<(), Refusal> {
    let Some(link) = definition.links.get(&fire_linked.link) else {
        return Ok(());
    };
    let case_id = match data_path::get(bindings.case(), &link.field) {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        _ => {
            outcome.warnings.push(format!(
                "`{}` not fired on link `{}`: the case has no `{}`",
                fire_linked.transition, fire_linked.link, link.field
            ));
            return Ok(());
        }
    };
    let mut form = Value::Object(serde_json::Map::new());
    for (field, script) in &fire_linked.form {
        let value = definition
            .rules
            .eval_json(script, bindings)
            .map_err(|error| {
                Refusal::Rule(format!(
                    "`fire_linked {}: {field}`: {}",
                    fire_linked.link, error.message
                ))
            })?;
        if !value.is_null() {
            data_path::set(&mut form, field, value);
        }
    }
    outcome.effects.push(Effect::FireLinked {
        link: fire_linked.link.clone(),
        workflow: link.workflow.clone(),
        case: case_id,
        transition: fire_linked.transition.clone(),
        form,
    });
    Ok(())
}

/// The `fire_linked` entries of transition `name`, each link checked against `links`.
pub(super) fn compile_fire_linked(
    checker: &mut Checker<'_>,
    name: &String,
    doc: &TransitionDoc,
    form: Option<&Form>,
) -> Vec<FireLinked> {
    doc.fire_linked
        .iter()
        .enumerate()
        .map(|(index, fire)| {
            if !checker.links.contains(&fire.link) {
                let declared: Vec<&str> = checker.links.iter().map(String::as_str).collect();
                checker.error(
                    &yaml_path!("transitions", name, "fire_linked", index, "link"),
                    format!(
                        "no link `{}` (declare it under `links`; declared: {})",
                        fire.link,
                        if declared.is_empty() {
                            "none".to_owned()
                        } else {
                            declared.join(", ")
                        }
                    ),
                );
            }
            let form = fire
                .form
                .iter()
                .filter_map(|(field, expression)| {
                    let path = yaml_path!("transitions", name, "fire_linked", index, "form", field);
                    checker
                        .script(&path, expression, form)
                        .map(|script| (field.clone(), script))
                })
                .collect();
            FireLinked {
                link: fire.link.clone(),
                transition: fire.transition.clone(),
                form,
            }
        })
        .collect()
}

pub(super) fn compile_links(
    checker: &mut Checker<'_>,
    doc: &WorkflowDoc,
) -> IndexMap<String, Link> {
    let mut links = IndexMap::new();
    for (name, link) in &doc.links {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            checker.error_at_key(
                &yaml_path!("links", name),
                format!("link name `{name}` may use only a-z, 0-9 and _"),
            );
        }
        if !checker.context.workflows.contains(&link.workflow) {
            checker.error(
                &yaml_path!("links", name, "workflow"),
                format!("no workflow `{}` to link to", link.workflow),
            );
        }
        let valid_path = link.field.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid_path {
            checker.error(
                &yaml_path!("links", name, "field"),
                format!(
                    "`{}` is not a case data path (write field or field.subfield)",
                    link.field
                ),
            );
        }
        links.insert(
            name.clone(),
            Link {
                workflow: link.workflow.clone(),
                field: link.field.clone(),
            },
        );
    }
    links
}
