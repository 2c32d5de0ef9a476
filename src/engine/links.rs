//! Linked cases: the `fire_linked` effects of a move. Reading a linked case's
//! data is the caller's part (the engine gets it as `links`); asking for a
//! transition on one is an effect like any other, carried out after the move.

use serde_json::Value;

use super::data_path;
use super::definition::{Definition, FireLinked};
use super::outcome::{Effect, Outcome, Refusal};
use crate::rules::{Bindings, to_json};

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
    let case_id = match data_path::get(&outcome.data, &link.field) {
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
            .eval(script, bindings)
            .and_then(|v| to_json(&v))
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
