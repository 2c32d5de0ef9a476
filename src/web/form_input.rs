//! A submitted HTML form (`application/x-www-form-urlencoded` pairs) read back
//! into the JSON its schema expects: numbers as numbers, check boxes as
//! booleans, `contacts[0].name` as arrays of objects in the order the rows
//! were sent. Empty inputs are left out, so a missing required field is
//! reported as missing by the schema, at the field. Fields whose `if`/`then`
//! condition does not hold are dropped: hidden data is never kept.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use super::schema::{self, Kind, child_name, item_name, submitted_text};
use crate::forms::UiHints;

/// The submitted values by input name, in the order they came.
struct Submitted<'a> {
    values: HashMap<&'a str, Vec<&'a str>>,
    order: Vec<&'a str>,
}

impl<'a> Submitted<'a> {
    fn new(pairs: &'a [(String, String)]) -> Self {
        let mut values: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut order = Vec::new();
        for (name, value) in pairs {
            let entry = values.entry(name.as_str()).or_default();
            if entry.is_empty() {
                order.push(name.as_str());
            }
            entry.push(value.as_str());
        }
        Self { values, order }
    }

    /// The first non-empty value sent under `name`.
    fn one(&self, name: &str) -> Option<&'a str> {
        self.values
            .get(name)?
            .iter()
            .copied()
            .find(|value| !value.trim().is_empty())
    }

    fn all(&self, name: &str) -> Vec<&'a str> {
        self.values
            .get(name)
            .map(|values| values.iter().copied().filter(|v| !v.is_empty()).collect())
            .unwrap_or_default()
    }

    /// The row numbers sent for the array `name`, in the order the rows came
    /// (so rows moved in the page keep their new order even unnumbered).
    fn rows(&self, name: &str) -> Vec<String> {
        let opening = format!("{name}[");
        let mut rows: Vec<String> = Vec::new();
        for key in &self.order {
            let Some(rest) = key.strip_prefix(&opening) else {
                continue;
            };
            let Some((index, _)) = rest.split_once(']') else {
                continue;
            };
            if !rows.iter().any(|seen| seen == index) {
                rows.push(index.to_owned());
            }
        }
        rows
    }
}

/// The JSON object `pairs` describe under `form_schema`.
pub fn read_form(form_schema: &Value, ui: &UiHints, pairs: &[(String, String)]) -> Value {
    let submitted = Submitted::new(pairs);
    let (object, _) = read_object(form_schema, form_schema, "", "", ui, &submitted);
    Value::Object(object)
}

/// The object and whether anything in it was actually filled in.
fn read_object(
    root: &Value,
    object: &Value,
    prefix: &str,
    pointer: &str,
    ui: &UiHints,
    submitted: &Submitted<'_>,
) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    let mut filled = false;
    let fields = schema::fields(root, object, pointer, ui);
    for field in &fields {
        let name = child_name(prefix, field.name);
        let field_pointer = schema::child_pointer(pointer, field.name);
        let read = read_value(
            root,
            field.schema,
            &name,
            &field_pointer,
            field.required,
            ui,
            submitted,
        );
        if let Some((value, meaningful)) = read {
            filled |= meaningful;
            out.insert(field.name.to_owned(), value);
        }
    }
    let whole = Value::Object(out.clone());
    for field in &fields {
        if let Some(condition) = &field.condition
            && !condition.holds(&whole)
        {
            out.remove(field.name);
        }
    }
    (out, filled)
}

/// One field's value, if it has one, and whether it counts as filled in (an
/// unticked box is `false` but does not make its group "filled").
fn read_value(
    root: &Value,
    field: &Value,
    name: &str,
    pointer: &str,
    required: bool,
    ui: &UiHints,
    submitted: &Submitted<'_>,
) -> Option<(Value, bool)> {
    match schema::kind(root, field) {
        Kind::Choice => {
            let text = submitted.one(name)?;
            Some((choice(field, text), true))
        }
        Kind::Choices => {
            let items = field
                .get("items")
                .map_or(&Value::Null, |items| schema::resolve(root, items));
            let chosen: Vec<Value> = submitted
                .all(name)
                .into_iter()
                .map(|text| choice(items, text))
                .collect();
            (!chosen.is_empty()).then(|| (Value::Array(chosen), true))
        }
        Kind::Group => {
            let (object, filled) = read_object(root, field, name, pointer, ui, submitted);
            (filled || required).then(|| (Value::Object(object), filled))
        }
        Kind::Rows => {
            let items = field
                .get("items")
                .map_or(&Value::Null, |items| schema::resolve(root, items));
            let item_pointer = format!("{pointer}/*");
            let mut rows = Vec::new();
            for index in submitted.rows(name) {
                let row_name = item_name(name, &index);
                if schema::kind(root, items) == Kind::Group {
                    let (object, _) =
                        read_object(root, items, &row_name, &item_pointer, ui, submitted);
                    rows.push(Value::Object(object));
                } else if let Some((value, _)) =
                    read_value(root, items, &row_name, &item_pointer, false, ui, submitted)
                {
                    rows.push(value);
                }
            }
            (!rows.is_empty()).then(|| (Value::Array(rows), true))
        }
        Kind::Boolean => {
            let ticked = submitted.one(name) == Some("true");
            Some((Value::Bool(ticked), ticked))
        }
        Kind::Integer => {
            let text = submitted.one(name)?.trim();
            let value = text
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from);
            Some((value, true))
        }
        Kind::Number => {
            let text = submitted.one(name)?.trim();
            let value = text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or_else(|| Value::String(text.to_owned()), Value::Number);
            Some((value, true))
        }
        Kind::Text => submitted
            .one(name)
            .map(|text| (Value::String(text.to_owned()), true)),
    }
}

/// The `enum` member a control's text stands for; unknown text is kept as
/// sent so the schema reports it.
fn choice(field: &Value, text: &str) -> Value {
    field
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|choices| choices.iter().find(|choice| submitted_text(choice) == text))
        .cloned()
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_take_the_types_of_their_schema() {
        let schema = json!({"type": "object", "properties": {
            "count": {"type": "integer"}, "ratio": {"type": "number"},
            "ok": {"type": "boolean"}, "off": {"type": "boolean"},
            "level": {"enum": ["low", 3]}, "note": {"type": "string"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}},
            "client": {"type": "object", "properties": {"name": {"type": "string"}}},
            "empty": {"type": "object", "properties": {"name": {"type": "string"}}},
            "contacts": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "phone": {"type": "string"}}}}
        }});
        let form = pairs(&[
            ("_csrf", "x"),
            ("count", "12"),
            ("ratio", "1.5"),
            ("ok", "true"),
            ("level", "3"),
            ("note", ""),
            ("tags", "c"),
            ("tags", "a"),
            ("client.name", "Aroha"),
            ("empty.name", ""),
            ("contacts[7].name", "Second"),
            ("contacts[7].phone", "021"),
            ("contacts[2].name", "Third"),
        ]);
        let read = read_form(&schema, &UiHints::default(), &form);
        assert_eq!(
            read,
            json!({"count": 12, "ratio": 1.5, "ok": true, "off": false, "level": 3,
                "tags": ["c", "a"], "client": {"name": "Aroha"},
                "contacts": [{"name": "Second", "phone": "021"}, {"name": "Third"}]})
        );
    }

    #[test]
    fn typing_that_is_not_a_number_is_kept_for_the_schema_to_refuse() {
        let schema = json!({"type": "object", "properties": {"count": {"type": "integer"}}});
        let read = read_form(&schema, &UiHints::default(), &pairs(&[("count", "twelve")]));
        assert_eq!(read, json!({"count": "twelve"}));
    }

    #[test]
    fn a_field_whose_condition_fails_is_not_kept() {
        let schema = json!({"type": "object",
            "properties": {"needed": {"type": "boolean"}, "language": {"type": "string"}},
            "if": {"properties": {"needed": {"const": true}}, "required": ["needed"]},
            "then": {"required": ["language"]}});
        let hidden = read_form(
            &schema,
            &UiHints::default(),
            &pairs(&[("language", "Samoan")]),
        );
        assert_eq!(hidden, json!({"needed": false}));
        let shown = read_form(
            &schema,
            &UiHints::default(),
            &pairs(&[("needed", "true"), ("language", "Samoan")]),
        );
        assert_eq!(shown, json!({"needed": true, "language": "Samoan"}));
    }
}
