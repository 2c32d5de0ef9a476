#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn registry(sources: &[(&str, Value)]) -> FormRegistry {
    let sources: Vec<(String, String)> = sources
        .iter()
        .map(|(n, v)| {
            (
                (*n).to_owned(),
                serde_json::to_string_pretty(v).expect("test fixture"),
            )
        })
        .collect();
    let (registry, errors) = FormRegistry::compile(&sources);
    assert!(errors.is_empty(), "unexpected schema errors: {errors:?}");
    registry
}

pub(super) fn form(schema: Value) -> Arc<Form> {
    registry(&[("f", schema)])
        .get("f")
        .cloned()
        .expect("test fixture")
}

fn err(path: &str, message: &str) -> FieldError {
    FieldError {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// A typical intake form: 15 fields of the usual kinds, one conditional requirement.
pub(crate) fn intake_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["given_name", "family_name", "date_of_birth", "risk_level", "referral_date"],
        "properties": {
            "given_name": {"type": "string", "minLength": 1, "x-personal": true},
            "family_name": {"type": "string", "minLength": 1, "x-personal": true},
            "date_of_birth": {"type": "string", "format": "date", "x-personal": true},
            "email": {"type": "string", "format": "email", "x-personal": true},
            "phone": {"type": "string", "pattern": "^[0-9 +()-]{6,}$",
                      "x-ui": {"pattern_message": "must be a phone number"}},
            "risk_level": {"enum": ["low", "medium", "high", "critical"],
                           "x-ui": {"label": "Risk level", "enum_labels": {"low": "Low"}}},
            "household_size": {"type": "integer", "minimum": 1, "maximum": 30},
            "income": {"type": "number", "minimum": 0},
            "needs_interpreter": {"type": "boolean"},
            "interpreter_language": {"type": "string"},
            "referral_date": {"type": "string", "format": "date"},
            "appointment_time": {"type": "string", "format": "time"},
            "notes": {"type": "string", "maxLength": 2000},
            "consent_given_at": {"type": "string", "format": "date-time"},
            "services": {"type": "array", "items": {"enum": ["housing", "food", "legal"]},
                         "uniqueItems": true}
        },
        "if": {"properties": {"needs_interpreter": {"const": true}}, "required": ["needs_interpreter"]},
        "then": {"required": ["interpreter_language"]}
    })
}

pub(crate) fn intake_instance() -> Value {
    json!({
        "given_name": "Aroha", "family_name": "Ngata", "date_of_birth": "1990-02-14",
        "email": "aroha@example.org", "phone": "+64 21 555 0101", "risk_level": "medium",
        "household_size": 4, "income": 820.5, "needs_interpreter": true,
        "interpreter_language": "Te reo Māori", "referral_date": "2025-03-31",
        "appointment_time": "14:30", "notes": "Referred by GP.",
        "consent_given_at": "2025-03-31T09:15:00+13:00", "services": ["housing", "food"]
    })
}

#[test]
fn typical_fifteen_field_form_validates() {
    let form = form(intake_schema());
    let instance = intake_instance();
    assert_eq!(instance.as_object().expect("test fixture").len(), 15);
    assert!(form.is_valid(&instance));
    assert_eq!(form.validate(&instance), vec![]);
}

#[test]
fn each_kind_of_problem_gets_a_plain_message_at_its_field() {
    let form = form(intake_schema());
    let instance = json!({
        "given_name": "", "date_of_birth": "31/03/1990", "email": "not-an-email",
        "phone": "call me", "risk_level": "extreme", "household_size": 2.5, "income": -1,
        "needs_interpreter": "yes", "referral_date": "2025-02-30", "appointment_time": "2pm",
        "consent_given_at": "2025-03-31", "services": ["food", "food"], "favourite_colour": "red"
    });
    assert!(!form.is_valid(&instance));
    assert_eq!(
        form.validate(&instance),
        vec![
            err("/appointment_time", "must be a time like 14:30"),
            err(
                "/consent_given_at",
                "must be a date and time like 2025-03-31T14:30:00Z"
            ),
            err("/date_of_birth", "must be a date like 2025-03-31"),
            err("/email", "must be an e-mail address"),
            err("/family_name", "is required"),
            err("/favourite_colour", "is not a field of this form"),
            err("/given_name", "must not be empty"),
            err("/household_size", "must be a whole number"),
            err("/income", "must be at least 0"),
            err("/needs_interpreter", "must be true or false"),
            err("/phone", "must be a phone number"),
            err("/referral_date", "must be a date like 2025-03-31"),
            err("/risk_level", "must be one of: Low, medium, high, critical"),
            err("/services", "must not contain the same item twice"),
        ]
    );
}

#[test]
fn if_then_surfaces_the_conditionally_required_field() {
    let form = form(intake_schema());
    let mut instance = intake_instance();
    instance
        .as_object_mut()
        .expect("test fixture")
        .remove("interpreter_language");
    assert_eq!(
        form.validate(&instance),
        vec![err("/interpreter_language", "is required")]
    );
    instance["needs_interpreter"] = json!(false);
    assert!(form.validate(&instance).is_empty());
}

#[test]
fn nested_and_array_paths_and_lengths() {
    let form = form(json!({"type": "object", "properties": {
        "client": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 5}}},
        "contacts": {"type": "array", "minItems": 1, "items": {"type": "object",
            "properties": {"phone": {"type": ["string", "null"]}}}},
        "tags": {"type": "array", "maxItems": 1}
    }}));
    let bad = json!({"client": {}, "contacts": [{"phone": 5}], "tags": [1, 2]});
    assert_eq!(
        form.validate(&bad),
        vec![
            err("/client/name", "is required"),
            err("/contacts/0/phone", "must be text or empty"),
            err("/tags", "must have at most 1 item"),
        ]
    );
    let bad = json!({"client": {"name": "A"}, "contacts": []});
    assert_eq!(
        form.validate(&bad),
        vec![
            err("/client/name", "must be at least 2 characters"),
            err("/contacts", "must have at least one item")
        ]
    );
    assert_eq!(
        form.validate(&json!([])),
        vec![err("", "must be a group of fields")]
    );
}

#[test]
fn messages_never_echo_what_was_typed() {
    let form = form(json!({"type": "object", "properties": {
        "a": {"not": {"const": "s3cret-a"}},
        "b": {"type": "string", "contentEncoding": "base64", "maxLength": 3}}}));
    let errors = form.validate(&json!({"a": "s3cret-a", "b": "s3cret-b"}));
    assert_eq!(errors.len(), 2);
    for e in &errors {
        assert!(
            !e.message.contains("s3cret") && !e.message.contains('{'),
            "{e:?}"
        );
    }
}

#[test]
fn labels_and_describe() {
    let form = form(intake_schema());
    assert_eq!(
        form.describe(&err("/risk_level", "is required")),
        "Risk level is required"
    );
    assert_eq!(
        form.describe(&err("/date_of_birth", "is required")),
        "Date of birth is required"
    );
    assert_eq!(form.ui().label(""), Some("F"));
    assert_eq!(
        form.describe(&err("/nick~1name", "is not a field of this form")),
        "\"nick/name\" is not a field of this form"
    );
}

#[test]
fn one_of_with_discriminator_reports_the_matching_branch() {
    let form = form(
        json!({"type": "object", "properties": {"subject": {"oneOf": [
        {"properties": {"kind": {"const": "person"}, "name": {"type": "string"}}, "required": ["kind", "name"]},
        {"properties": {"kind": {"const": "family"}, "size": {"type": "integer"}}, "required": ["kind", "size"]}
    ]}, "when": {"anyOf": [{"const": ""}, {"format": "date"}]}}}),
    );
    assert_eq!(
        form.validate(&json!({"subject": {"kind": "family"}, "when": "soon"})),
        vec![
            err("/subject/size", "is required"),
            err("/when", "must be empty or a date like 2025-03-31")
        ]
    );
    assert_eq!(
        form.validate(&json!({"subject": {"kind": "pet"}})),
        vec![err("/subject", "does not match any of the allowed options")]
    );
}

#[test]
fn cross_schema_refs_resolve_by_file_name() {
    let registry = registry(&[
        (
            "client",
            json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "x-personal": true, "x-ui": {"label": "Full name"}}},
            "$defs": {"contact": {"type": "object", "properties": {
                "phone": {"type": "string", "x-personal": true}}}}}),
        ),
        (
            "assessment",
            json!({"type": "object", "properties": {
            "client": {"$ref": "client.json"},
            "contacts": {"type": "array", "items": {"$ref": "client.json#/$defs/contact"}},
            "score": {"type": "integer"}}}),
        ),
        ("referral", json!({"$ref": "client.json"})),
    ]);
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        ["assessment", "client", "referral"]
    );
    let assessment = registry.get("assessment").expect("test fixture");
    let bad = json!({"client": {}, "contacts": [{"phone": 1}]});
    assert_eq!(
        assessment.validate(&bad),
        vec![
            err("/client/name", "is required"),
            err("/contacts/0/phone", "must be text")
        ]
    );
    assert_eq!(
        assessment.personal_fields(),
        ["/client/name", "/contacts/*/phone"]
    );
    assert_eq!(assessment.ui().label("/client/name"), Some("Full name"));
    let referral = registry.get("referral").expect("test fixture");
    assert_eq!(referral.properties(), ["name"]);
    assert_eq!(
        referral.validate(&json!({})),
        vec![err("/name", "is required")]
    );
}

#[test]
fn own_id_wins_and_refs_by_id_resolve() {
    let registry = registry(&[
        (
            "person",
            json!({"$id": "https://example.org/person", "type": "object",
            "properties": {"age": {"type": "integer"}}}),
        ),
        (
            "visit",
            json!({"type": "object", "properties": {"who": {"$ref": "https://example.org/person"}}}),
        ),
    ]);
    let visit = registry.get("visit").expect("test fixture");
    assert_eq!(
        visit.validate(&json!({"who": {"age": "x"}})),
        vec![err("/who/age", "must be a whole number")]
    );
}

#[test]
fn properties_follow_top_level_all_of() {
    let form = form(
        json!({"type": "object", "allOf": [{"properties": {"b": {}}}],
        "properties": {"a": {}, "c~/d": {}}, "then": {"properties": {"e": {}}}}),
    );
    assert_eq!(form.properties(), ["b", "a", "c~/d", "e"]);
}

#[test]
fn personal_fields_at_depth() {
    let form = form(
        json!({"type": "object", "$defs": {"addr": {"type": "object", "properties": {
        "street": {"type": "string", "x-personal": true}, "city": {"type": "string"}}}},
        "properties": {
            "nhi": {"type": "string", "x-personal": true},
            "household": {"type": "object", "properties": {
                "members": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string", "x-personal": true},
                    "address": {"$ref": "#/$defs/addr"}}}}}},
            "notes": {"type": "string", "x-personal": false}}}),
    );
    assert_eq!(
        form.personal_fields(),
        [
            "/nhi",
            "/household/members/*/name",
            "/household/members/*/address/street"
        ]
    );
}

#[test]
fn recursive_and_mutually_referencing_schemas_compile() {
    let registry = registry(&[
        (
            "referral",
            json!({"type": "object", "properties": {
            "by": {"$ref": "agency.json"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "note": {"type": "string", "x-personal": true}}}),
        ),
        (
            "agency",
            json!({"type": "object", "properties": {
            "name": {"type": "string"}, "last_referral": {"$ref": "referral.json"}}}),
        ),
    ]);
    let referral = registry.get("referral").expect("test fixture");
    let bad =
        json!({"children": [{"children": [{"note": 1}]}], "by": {"last_referral": {"note": 2}}});
    assert_eq!(
        referral.validate(&bad),
        vec![
            err("/by/last_referral/note", "must be text"),
            err("/children/0/children/0/note", "must be text")
        ]
    );
    assert_eq!(
        referral.personal_fields(),
        ["/by/last_referral/note", "/children/*/note", "/note"]
    );
}

#[test]
fn forms_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Form>();
    assert_send_sync::<FormRegistry>();
}
