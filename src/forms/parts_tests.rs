//! Checking only a move's changes must agree with checking the whole case, every time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::tests::form;
use super::{Changed, Form};
use crate::rules::{Actor, Bindings};
use serde_json::{Value, json};

fn case_schema(others: Value) -> Value {
    json!({
        "type": "object",
        "title": "Case",
        "required": ["client", "reason"],
        "additionalProperties": others,
        "properties": {
            "client": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "x-ui": {"label": "Client"},
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "date_of_birth": {"type": "string", "format": "date"},
                    "interpreter_needed": {"type": "boolean"}
                }
            },
            "reason": {"type": "string"},
            "risk_level": {"enum": ["low", "medium", "high"]},
            "assessment": {"type": "object"},
            "contact": {
                "type": "object",
                "required": ["phone"],
                "properties": {"phone": {"type": "string"}, "email": {"type": "string"}}
            },
            "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
            "tags": {"type": "array", "items": {"type": "string"}}
        }
    })
}

/// The same fields, with a rule relating two of them: not plain, so checked whole.
fn related_schema() -> Value {
    let mut schema = case_schema(json!(true));
    schema["if"] =
        json!({"required": ["risk_level"], "properties": {"risk_level": {"const": "high"}}});
    schema["then"] = json!({"required": ["assessment"]});
    schema
}

fn changes() -> Vec<(&'static str, Value)> {
    vec![
        ("risk_level", json!("high")),
        ("risk_level", json!("extreme")),
        ("risk_level", Value::Null),
        ("reason", Value::Null),
        ("reason", json!(7)),
        ("client.name", json!("")),
        ("client.name", json!("Aroha")),
        ("client.name", Value::Null),
        ("client.date_of_birth", json!("2001-02-30")),
        ("client.date_of_birth", json!("2001-02-03")),
        ("client.nickname", json!("Ro")),
        ("client", json!({"name": "Hemi"})),
        ("client", json!({})),
        ("assessment.score", json!(3)),
        ("assessment", json!("done")),
        ("contact.email", json!("a@example.org")),
        ("contact.phone", json!("021 555 0101")),
        ("scores.a", json!(1)),
        ("scores.b", json!("x")),
        ("extra", json!("x")),
        ("extra", json!(1)),
        ("tags", json!(["a"])),
        ("tags.0", json!("b")),
        ("new.deep.field", json!(1)),
    ]
}

fn bases() -> [Value; 2] {
    [
        json!({"client": {"name": "Aroha", "interpreter_needed": false}, "reason": "Low mood"}),
        json!({
            "client": {"name": "Aroha", "date_of_birth": "2008-04-01"}, "reason": "Low mood",
            "risk_level": "low", "assessment": {"by": "x"}, "scores": {"a": 2}, "tags": ["x"]
        }),
    ]
}

/// Applies `moves` as a transition's `set` does, then asks both checks.
fn agree(form: &Form, base: &Value, moves: &[&(&'static str, Value)]) {
    let actor = Actor::user("u-test", Vec::new());
    let mut bindings = Bindings::new(base, &Value::Null, &actor, chrono::Utc::now());
    let mut applied = Vec::new();
    for (path, new) in moves {
        let (old, existing) = bindings.put_case_field(path, new.clone());
        if old != *new {
            applied.push((*path, existing, new));
        }
    }
    let data = bindings.into_case();
    let changed: Vec<Changed<'_>> = applied
        .iter()
        .map(|(path, existing, new)| Changed {
            path,
            existing: *existing,
            new,
        })
        .collect();
    assert_eq!(
        form.validate_changed(&data, &changed),
        form.validate(&data),
        "{moves:?} on {base}"
    );
}

#[test]
fn checking_the_changes_agrees_with_checking_the_whole_case() {
    let forms = [
        form(case_schema(json!(true))),
        form(case_schema(json!(false))),
        form(case_schema(json!({"type": "string"}))),
        form(related_schema()),
    ];
    let changes = changes();
    let mut compared = 0;
    for form in &forms {
        for base in &bases() {
            assert!(form.validate(base).is_empty(), "{base}");
            for first in &changes {
                agree(form, base, &[first]);
                for second in &changes {
                    agree(form, base, &[first, second]);
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 4 * 2 * changes.len() * changes.len());
}

#[test]
fn only_plain_object_schemas_are_taken_apart() {
    use super::parts::ObjectParts;
    assert!(ObjectParts::of(&case_schema(json!(false))).is_some());
    assert!(ObjectParts::of(&related_schema()).is_none());
    let referring = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}});
    assert!(ObjectParts::of(&referring).is_none());
    let counted = json!({"type": "object", "maxProperties": 3});
    assert!(ObjectParts::of(&counted).is_none());
}
