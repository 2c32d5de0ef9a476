//! A case's data for people: every field under the label its case schema
//! gives it (in the reader's language), nested objects as nested lists, choices
//! by their display text, yes/no for booleans. Data the schema does not
//! describe is still shown, labelled from its key, so nothing is hidden.

use std::fmt::Write;

use serde_json::Value;

use super::form::escape;
use super::schema::{self, child_pointer};
use crate::forms::{Form, UiHints, humanise};

/// Longest value text shown in a timeline entry before it is cut.
const SHORT: usize = 160;

/// The data as a description list (HTML, escaped).
pub fn render_summary(data: &Value, form: Option<&Form>, lang: &str) -> String {
    let empty_ui = UiHints::default();
    let (root, ui) = match form {
        Some(form) => (form.schema(), form.ui()),
        None => (&Value::Null, &empty_ui),
    };
    let mut html = String::new();
    object(&mut html, root, root, "", data, ui, lang);
    html
}

fn object(
    html: &mut String,
    root: &Value,
    object_schema: &Value,
    pointer: &str,
    data: &Value,
    ui: &UiHints,
    lang: &str,
) {
    let Some(members) = data.as_object() else {
        html.push_str(&escape(&short_value(data)));
        return;
    };
    if members.is_empty() {
        html.push_str("<span class=\"muted\">none</span>");
        return;
    }
    // Schema order (by hints) first, then whatever else the data holds.
    let fields = schema::fields(root, object_schema, pointer, ui);
    let mut keys: Vec<(&str, &Value)> = fields
        .iter()
        .filter(|field| members.contains_key(field.name))
        .map(|field| (field.name, field.schema))
        .collect();
    for key in members.keys() {
        if !keys.iter().any(|(known, _)| *known == key.as_str()) {
            keys.push((key.as_str(), &Value::Null));
        }
    }
    html.push_str("<dl class=\"summary\">\n");
    for (key, field_schema) in keys {
        let field_pointer = child_pointer(pointer, key);
        let label = ui
            .label_in(&field_pointer, lang)
            .map_or_else(|| humanise(key), str::to_owned);
        let _ = write!(html, "<dt>{}</dt><dd>", escape(&label));
        value(
            html,
            root,
            field_schema,
            &field_pointer,
            &members[key],
            ui,
            lang,
        );
        html.push_str("</dd>\n");
    }
    html.push_str("</dl>\n");
}

fn value(
    html: &mut String,
    root: &Value,
    field_schema: &Value,
    pointer: &str,
    data: &Value,
    ui: &UiHints,
    lang: &str,
) {
    match data {
        Value::Object(_) => object(html, root, field_schema, pointer, data, ui, lang),
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let items_schema = field_schema
                .get("items")
                .map_or(&Value::Null, |items| schema::resolve(root, items));
            html.push_str("<ol>");
            for (index, item) in items.iter().enumerate() {
                html.push_str("<li>");
                let item_pointer = format!("{pointer}/{index}");
                value(html, root, items_schema, &item_pointer, item, ui, lang);
                html.push_str("</li>");
            }
            html.push_str("</ol>");
        }
        Value::Array(items) => {
            let items_schema = field_schema.get("items").unwrap_or(&Value::Null);
            let item_pointer = format!("{pointer}/*");
            let shown: Vec<String> = items
                .iter()
                .map(|item| choice_text(ui, &item_pointer, items_schema, item))
                .collect();
            html.push_str(&escape(&shown.join(", ")));
        }
        scalar => html.push_str(&escape(&choice_text(ui, pointer, field_schema, scalar))),
    }
}

/// A scalar as shown: an enum value by its label, booleans as yes/no.
fn choice_text(ui: &UiHints, pointer: &str, field_schema: &Value, value: &Value) -> String {
    match value {
        Value::Bool(true) => "Yes".to_owned(),
        Value::Bool(false) => "No".to_owned(),
        Value::String(text) if field_schema.get("enum").is_some() => ui
            .get(pointer)
            .and_then(|hints| hints.enum_labels.get(text).cloned())
            .unwrap_or_else(|| humanise(text)),
        other => short_value(other),
    }
}

/// A value in one short line: strings bare, anything else as compact JSON, cut at a length.
pub fn short_value(value: &Value) -> String {
    let text = match value {
        Value::Null => "—".to_owned(),
        Value::String(text) => text.clone(),
        Value::Bool(true) => "Yes".to_owned(),
        Value::Bool(false) => "No".to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > SHORT {
        let cut: String = text.chars().take(SHORT).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A changed value as shown in the timeline: a choice by its label, like the summary shows it.
pub fn change_value(path: &str, value: &Value, form: Option<&Form>) -> String {
    let Some(form) = form else {
        return short_value(value);
    };
    let root = form.schema();
    let mut field = root;
    for segment in path.split('.') {
        field = schema::resolve(
            root,
            field
                .get("properties")
                .and_then(|properties| properties.get(segment))
                .unwrap_or(&Value::Null),
        );
    }
    choice_text(form.ui(), &pointer_of(path), field, value)
}

fn pointer_of(path: &str) -> String {
    path.split('.')
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The label of a changed field (`assessment.presenting_issue`) from the case schema.
pub fn change_label(path: &str, form: Option<&Form>, lang: &str) -> String {
    let pointer = pointer_of(path);
    form.and_then(|form| form.ui().label_in(&pointer, lang).map(str::to_owned))
        .unwrap_or_else(|| {
            path.split('.')
                .map(humanise)
                .collect::<Vec<_>>()
                .join(" › ")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_listed_under_its_labels_escaped() {
        let schema = json!({"type": "object", "properties": {
            "client": {"type": "object", "x-ui": {"label": "Client", "labels": {"mi": "Kiritaki"}},
                "properties": {"name": {"type": "string", "x-ui": {"label": "Name"}}}},
            "risk_level": {"enum": ["low", "high"]}
        }});
        let (registry, errors) =
            crate::forms::FormRegistry::compile(&[("case".to_owned(), schema.to_string())]);
        assert!(errors.is_empty(), "{errors:?}");
        let form = registry.get("case").map(AsRef::as_ref);
        let data = json!({"client": {"name": "<Aroha>"}, "risk_level": "high", "extra_note": true});
        let html = render_summary(&data, form, "mi");
        assert!(
            html.contains(
                "<dt>Kiritaki</dt><dd><dl class=\"summary\">\n<dt>Name</dt><dd>&lt;Aroha&gt;</dd>"
            ),
            "{html}"
        );
        assert!(html.contains("<dt>Risk level</dt><dd>High</dd>"), "{html}");
        assert!(html.contains("<dt>Extra note</dt><dd>Yes</dd>"), "{html}");
        assert_eq!(change_label("client.name", form, "en"), "Name");
        assert_eq!(
            change_label("decline.reason", form, "en"),
            "Decline › Reason"
        );
    }
}
