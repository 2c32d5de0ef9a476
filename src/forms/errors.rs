//! Schema problems as [`SchemaError`]s an author can act on: what is wrong, and where.
//!
//! The crate reports meta-schema violations and unresolvable references in its own terms and
//! without positions; these functions name the keyword or `$ref` at fault and find it in the text.

use super::SchemaError;
use super::locate::locate;
use super::walk;
use jsonschema::ReferencingError;
use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

/// Schema values quoted in a message are cut here so a bad keyword never dumps a whole subtree.
const MAX_MESSAGE: usize = 300;

pub(crate) fn build_error(text: &str, schema: &Value, error: &ValidationError<'_>) -> SchemaError {
    let pointer = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::Referencing(ReferencingError::Unretrievable { uri, source }) => {
            let target = uri.split('#').next().unwrap_or_default();
            let found = find_ref(schema, "", &|r| {
                let file = r.split('#').next().unwrap_or_default();
                !file.is_empty() && (target == file || target.ends_with(&format!("/{file}")))
            });
            let shown = found
                .as_ref()
                .and_then(|p| schema.pointer(p)?.as_str())
                .unwrap_or(uri);
            let message = format!("$ref \"{shown}\" cannot be resolved: {source}");
            located(text, found.as_deref().unwrap_or(""), message)
        }
        ValidationErrorKind::Referencing(ReferencingError::PointerToNowhere { pointer }) => {
            let found = find_ref(schema, "", &|r| r.ends_with(&format!("#{pointer}")));
            let message = format!("$ref points to \"{pointer}\", which does not exist");
            located(text, found.as_deref().unwrap_or(""), message)
        }
        ValidationErrorKind::Referencing(ReferencingError::NoSuchAnchor { anchor }) => {
            let found = find_ref(schema, "", &|r| r.ends_with(&format!("#{anchor}")));
            let message = format!("$ref points to anchor \"{anchor}\", which does not exist");
            located(text, found.as_deref().unwrap_or(""), message)
        }
        ValidationErrorKind::Referencing(other) => {
            at_start(&format!("$ref cannot be resolved: {other}"))
        }
        _ if pointer.ends_with("/format") => {
            let format = schema
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            located(text, pointer, format!("unknown format \"{format}\""))
        }
        _ if pointer.ends_with("/pattern") || pointer.contains("/patternProperties/") => {
            let pattern = schema
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            located(
                text,
                pointer,
                clip(&format!("\"{pattern}\" is not a valid regular expression")),
            )
        }
        _ => located(
            text,
            pointer,
            clip(&format!("{}: {error}", describe(pointer))),
        ),
    }
}

/// The first `$ref` (as a pointer to its `"$ref"` member) whose value satisfies `matches`.
fn find_ref(schema: &Value, pointer: &str, matches: &dyn Fn(&str) -> bool) -> Option<String> {
    match schema {
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            let here = format!("{pointer}/{}", walk::escape(key));
            match (key.as_str(), value) {
                ("$ref", Value::String(r)) if matches(r) => Some(here),
                _ => find_ref(value, &here, matches),
            }
        }),
        Value::Array(items) => (items.iter().enumerate())
            .find_map(|(i, item)| find_ref(item, &format!("{pointer}/{i}"), matches)),
        _ => None,
    }
}

pub(crate) fn meta_error(text: &str, error: &ValidationError<'_>) -> SchemaError {
    let pointer = error.instance_path().as_str();
    let choices = match error.kind() {
        ValidationErrorKind::AnyOf { context } => {
            context.iter().flatten().find_map(|e| match e.kind() {
                ValidationErrorKind::Enum { options } => Some((e.instance(), options)),
                _ => None,
            })
        }
        _ => None,
    };
    let detail = match choices {
        Some((value, options)) => {
            let listed: Vec<String> = (options.as_array().into_iter().flatten())
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect();
            format!("{value} is not one of: {}", listed.join(", "))
        }
        None => error.to_string(),
    };
    located(
        text,
        pointer,
        clip(&format!("{}: {detail}", describe(pointer))),
    )
}

fn describe(pointer: &str) -> String {
    if pointer.is_empty() {
        "invalid schema".to_owned()
    } else {
        format!("invalid schema at {pointer}")
    }
}

fn clip(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

pub(crate) fn json_error(error: &serde_json::Error) -> SchemaError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let reason = full.strip_suffix(&suffix).unwrap_or(&full);
    SchemaError {
        line: error.line().max(1),
        column: error.column().max(1),
        message: format!("not valid JSON: {reason}"),
    }
}

pub(crate) fn located(text: &str, pointer: &str, message: String) -> SchemaError {
    let (line, column) = locate(text, pointer).unwrap_or((1, 1));
    SchemaError {
        line,
        column,
        message,
    }
}

pub(crate) fn at_start(message: &str) -> SchemaError {
    SchemaError {
        line: 1,
        column: 1,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FormRegistry, SchemaError};
    use std::collections::BTreeMap;

    fn errors_of(sources: &[(&str, &str)]) -> Vec<(String, SchemaError)> {
        let sources: Vec<(String, String)> = sources
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        FormRegistry::compile(&sources).1
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let errors = errors_of(&[(
            "broken",
            "{\n  \"type\": \"object\",\n  \"properties\": {\n}",
        )]);
        assert_eq!(errors.len(), 1);
        let (name, e) = &errors[0];
        assert_eq!(name, "broken");
        assert_eq!((e.line, e.column), (4, 1));
        assert!(e.message.starts_with("not valid JSON: EOF"), "{e}");
        assert!(!e.message.contains("line 4"), "{e}");
    }

    #[test]
    fn every_bad_schema_is_reported_with_its_position() {
        let errors = errors_of(&[
            ("good", r#"{"type": "object"}"#),
            (
                "typo",
                "{\"type\": \"object\",\n \"properties\": {\"a\": {\"type\": \"strnig\"}}}",
            ),
            ("req", "{\"type\": \"object\", \"required\": \"x\"}"),
            ("array", r#"{"type": "array"}"#),
            (
                "format",
                "{\"type\": \"object\", \"properties\": {\"d\": {\"format\": \"data\"}}}",
            ),
            (
                "dialect",
                r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}"#,
            ),
            ("not_json", "nope"),
        ]);
        let by_name: BTreeMap<&str, &SchemaError> =
            errors.iter().map(|(n, e)| (n.as_str(), e)).collect();
        assert_eq!(
            by_name.keys().copied().collect::<Vec<_>>(),
            ["array", "dialect", "format", "not_json", "req", "typo"]
        );
        let typo = by_name["typo"];
        assert_eq!((typo.line, typo.column), (2, 23));
        assert!(
            typo.message.contains("/properties/a/type")
                && typo.message.contains("\"strnig\" is not one of"),
            "{typo}"
        );
        let req = by_name["req"];
        assert_eq!((req.line, req.column), (1, 20));
        assert!(req.message.contains("/required"), "{req}");
        assert_eq!((by_name["array"].line, by_name["array"].column), (1, 2));
        assert!(by_name["array"].message.contains("\"type\": \"object\""));
        assert_eq!(by_name["format"].message, "unknown format \"data\"");
        assert_eq!(by_name["format"].column, 41);
        assert!(by_name["dialect"].message.contains("2020-12"));
    }

    #[test]
    fn unresolvable_refs_are_schema_errors() {
        let errors = errors_of(&[
            (
                "client",
                r#"{"type": "object", "properties": {"x": {"type": "strnig"}}}"#,
            ),
            (
                "a",
                "{\"type\": \"object\",\n \"properties\": {\"c\": {\"$ref\": \"nope.json\"}}}",
            ),
            (
                "b",
                r#"{"type": "object", "properties": {"c": {"$ref": "https://example.com/c.json"}}}"#,
            ),
            (
                "c",
                r#"{"type": "object", "properties": {"c": {"$ref": "client.json"}}}"#,
            ),
            (
                "d",
                r##"{"type": "object", "properties": {"c": {"$ref": "#/$defs/missing"}}}"##,
            ),
        ]);
        let by_name: BTreeMap<&str, &SchemaError> =
            errors.iter().map(|(n, e)| (n.as_str(), e)).collect();
        assert_eq!(by_name.len(), 5, "{errors:?}");
        let a = by_name["a"];
        assert_eq!((a.line, a.column), (2, 23));
        assert!(
            a.message.contains("\"nope.json\"") && a.message.contains("no schema named nope.json"),
            "{a}"
        );
        assert!(
            by_name["b"].message.contains("never fetched"),
            "{}",
            by_name["b"]
        );
        assert!(
            by_name["c"]
                .message
                .contains("schema \"client\" has errors of its own"),
            "{}",
            by_name["c"]
        );
        assert!(
            by_name["d"].message.contains("/$defs/missing"),
            "{}",
            by_name["d"]
        );
    }

    #[test]
    fn duplicate_names_are_reported() {
        let errors = errors_of(&[
            ("a", r#"{"type": "object"}"#),
            ("a", r#"{"type": "object"}"#),
        ]);
        assert_eq!(errors.len(), 1);
    }
}
