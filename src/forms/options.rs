//! Fields whose options come from a reference table: `"x-ui": {"options": "iwi"}`.
//!
//! The list is written once in `rules/data/` and every form offering it stays in step.
//! Before a schema is compiled, each such field gets the table's keys as its `enum` (on the
//! items, for an array field) and their labels as `enum_labels`, so validation, the API's
//! `ui` hints and the rendered `<select>` all see the same list.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::SchemaError;
use super::errors::located;

/// Option lists by table name: (value, label) in the table's order.
pub type OptionLists = BTreeMap<String, Vec<(String, String)>>;

/// Fills in every `x-ui.options` of `schema`; the first unknown list name is an error at it.
pub(crate) fn resolve(
    text: &str,
    schema: &mut Value,
    lists: &OptionLists,
) -> Result<(), SchemaError> {
    let mut problem = None;
    walk(schema, String::new(), lists, &mut problem);
    match problem {
        Some((pointer, message)) => Err(located(text, &pointer, message)),
        None => Ok(()),
    }
}

fn walk(
    node: &mut Value,
    pointer: String,
    lists: &OptionLists,
    problem: &mut Option<(String, String)>,
) {
    match node {
        Value::Object(object) => {
            if let Some(name) = object.get("x-ui").and_then(|ui| ui.get("options")).cloned() {
                apply(object, &pointer, &name, lists, problem);
            }
            for (key, child) in object.iter_mut() {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                walk(child, format!("{pointer}/{escaped}"), lists, problem);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                walk(child, format!("{pointer}/{index}"), lists, problem);
            }
        }
        _ => {}
    }
}

fn apply(
    field: &mut Map<String, Value>,
    pointer: &str,
    name: &Value,
    lists: &OptionLists,
    problem: &mut Option<(String, String)>,
) {
    let at = format!("{pointer}/x-ui/options");
    let Some(name) = name.as_str() else {
        problem.get_or_insert((
            at,
            "`options` names a table of rules/data/, e.g. \"iwi\"".to_owned(),
        ));
        return;
    };
    let Some(choices) = lists.get(name) else {
        let known: Vec<&str> = lists.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "there are none".to_owned()
        } else {
            format!("tables: {}", known.join(", "))
        };
        problem.get_or_insert((
            at,
            format!("no option list `{name}` in rules/data/ ({known})"),
        ));
        return;
    };
    let values: Vec<Value> = choices
        .iter()
        .map(|(value, _)| Value::String(value.clone()))
        .collect();
    let is_array = field.get("type").and_then(Value::as_str) == Some("array");
    if is_array {
        let items = field
            .entry("items")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(items) = items {
            items.insert("enum".to_owned(), Value::Array(values));
        }
    } else {
        field.insert("enum".to_owned(), Value::Array(values));
    }
    if let Some(Value::Object(ui)) = field.get_mut("x-ui") {
        let labels = ui
            .entry("enum_labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(labels) = labels {
            for (value, label) in choices {
                labels
                    .entry(value.clone())
                    .or_insert_with(|| Value::String(label.clone()));
            }
        }
    }
}
