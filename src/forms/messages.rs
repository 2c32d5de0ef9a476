//! Validation errors rewritten for the staff member filling in the form.
//!
//! The crate's own messages quote values and keywords ("\"x\" is not of type \"integer\""); staff
//! need the field and what to do about it. Messages name no field themselves: the error's path
//! does, so the UI can show the message beside the field or prefix the field's label.

use super::FieldError;
use super::ui::{FieldUi, UiHints};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

/// More options than this are not listed in a message; the form shows them anyway.
const MAX_LISTED: usize = 12;

/// Turns the crate's errors into sorted, de-duplicated field errors.
pub(crate) fn field_errors<'i>(
    errors: impl Iterator<Item = ValidationError<'i>>,
    ui: &UiHints,
) -> Vec<FieldError> {
    let mut out = Vec::new();
    for error in errors {
        push(&mut out, &error, ui);
    }
    out.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    out.dedup();
    out
}

fn push(out: &mut Vec<FieldError>, error: &ValidationError<'_>, ui: &UiHints) {
    let path = error.instance_path().as_str();
    let field = |path: String, message: &str| FieldError {
        path,
        message: message.to_owned(),
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            out.push(field(child(path, &name), "is required"));
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                out.push(field(child(path, name), "is not a field of this form"));
            }
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if let Some(branch) = surviving_branch(context, path) {
                for inner in branch {
                    push(out, inner, ui);
                }
            } else {
                let message = alternatives(context, path, ui.get(path));
                out.push(field(
                    path.to_owned(),
                    message
                        .as_deref()
                        .unwrap_or("does not match any of the allowed options"),
                ));
            }
        }
        kind => out.push(field(path.to_owned(), &message(kind, error, ui.get(path)))),
    }
}

/// The message for an error that concerns the value at its own path.
fn message(
    kind: &ValidationErrorKind,
    error: &ValidationError<'_>,
    hints: Option<&FieldUi>,
) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match kind {
        ValidationErrorKind::Type { kind } => format!("must be {}", type_nouns(kind)),
        ValidationErrorKind::Enum { options } => {
            let values: Vec<&Value> = options
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            one_of(&values, hints)
        }
        ValidationErrorKind::Constant { expected_value } => match expected_value.as_ref() {
            Value::Object(_) | Value::Array(_) => "does not have the expected value".to_owned(),
            value => format!("must be {}", display(value, hints)),
        },
        ValidationErrorKind::Format { format } => format_message(format),
        ValidationErrorKind::MinLength { limit: 1 } => "must not be empty".to_owned(),
        ValidationErrorKind::MinLength { limit } => {
            format!(
                "must be at least {}",
                plural(*limit, "character", "characters")
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!(
                "must be at most {}",
                plural(*limit, "character", "characters")
            )
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be more than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::MultipleOf { multiple_of } => {
            format!("must be a multiple of {multiple_of}")
        }
        ValidationErrorKind::MinItems { limit: 1 } => "must have at least one item".to_owned(),
        ValidationErrorKind::MinItems { limit } => {
            format!("must have at least {}", plural(*limit, "item", "items"))
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!("must have at most {}", plural(*limit, "item", "items"))
        }
        ValidationErrorKind::MinProperties { limit } => {
            format!(
                "must have at least {} filled in",
                plural(*limit, "field", "fields")
            )
        }
        ValidationErrorKind::MaxProperties { limit } => {
            format!(
                "must have at most {} filled in",
                plural(*limit, "field", "fields")
            )
        }
        ValidationErrorKind::UniqueItems => "must not contain the same item twice".to_owned(),
        ValidationErrorKind::Contains => "does not contain a required item".to_owned(),
        ValidationErrorKind::UnevaluatedItems { .. }
        | ValidationErrorKind::AdditionalItems { .. } => "has more items than allowed".to_owned(),
        ValidationErrorKind::Pattern { .. } => hints
            .and_then(|h| h.pattern_message.clone())
            .unwrap_or_else(|| "is not in the expected format".to_owned()),
        ValidationErrorKind::FalseSchema | ValidationErrorKind::Not { .. } => {
            "is not allowed".to_owned()
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            "matches more than one of the allowed options".to_owned()
        }
        ValidationErrorKind::PropertyNames { .. } => {
            "has a field with a name that is not allowed".to_owned()
        }
        // Masked so the crate's wording never echoes the value a person typed.
        _ => error.masked().to_string(),
    }
}

fn format_message(format: &str) -> String {
    match format {
        "date" => "must be a date like 2025-03-31".to_owned(),
        "date-time" => "must be a date and time like 2025-03-31T14:30:00Z".to_owned(),
        "time" => "must be a time like 14:30".to_owned(),
        "email" | "idn-email" => "must be an e-mail address".to_owned(),
        "uri" | "iri" => "must be a web address like https://example.org".to_owned(),
        "uuid" => "must be an identifier like 0195d7a2-3c4b-7def-8a12-3456789abcde".to_owned(),
        "duration" => "must be a duration like P3D or PT2H".to_owned(),
        other => format!("must be a valid {other}"),
    }
}

fn type_nouns(kind: &TypeKind) -> String {
    let mut types: Vec<JsonType> = match kind {
        TypeKind::Single(t) => vec![*t],
        TypeKind::Multiple(set) => set.iter().collect(),
    };
    // "text or empty" reads better than "empty or text".
    types.sort_by_key(|t| *t == JsonType::Null);
    let has_number = types.contains(&JsonType::Number);
    let nouns: Vec<&str> = types
        .iter()
        .filter(|t| !(has_number && **t == JsonType::Integer))
        .map(|t| match t {
            JsonType::String => "text",
            JsonType::Number => "a number",
            JsonType::Integer => "a whole number",
            JsonType::Boolean => "true or false",
            JsonType::Array => "a list",
            JsonType::Object => "a group of fields",
            JsonType::Null => "empty",
        })
        .collect();
    join_or(&nouns)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn one_of(values: &[&Value], hints: Option<&FieldUi>) -> String {
    if values.is_empty() || values.len() > MAX_LISTED {
        return "must be one of the listed options".to_owned();
    }
    let shown: Vec<String> = values.iter().map(|v| display(v, hints)).collect();
    format!("must be one of: {}", shown.join(", "))
}

/// A value as staff would read it: enum labels when the form gives them, strings unquoted.
fn display(value: &Value, hints: Option<&FieldUi>) -> String {
    let raw = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    hints
        .and_then(|h| h.enum_labels.get(&raw).cloned())
        .unwrap_or(match value {
            Value::Null => "empty".to_owned(),
            Value::String(text) if text.is_empty() => "empty".to_owned(),
            _ => raw,
        })
}

/// In `oneOf`/`anyOf` branches chosen by a discriminator (`"kind": {"const": "child"}`), the
/// branches whose discriminator does not match say nothing useful; if exactly one branch matched
/// its discriminator, its errors are the ones that explain the failure.
fn surviving_branch<'a>(
    context: &'a [Vec<ValidationError<'static>>],
    path: &str,
) -> Option<&'a [ValidationError<'static>]> {
    let discriminator_mismatch = |branch: &&Vec<ValidationError<'static>>| {
        branch.iter().any(|e| {
            let at = e.instance_path().as_str();
            matches!(
                e.kind(),
                ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. }
            ) && at.len() > path.len()
                && at.starts_with(path)
                && at.rfind('/') == Some(path.len())
        })
    };
    let mut survivors = context.iter().filter(|b| !discriminator_mismatch(b));
    match (survivors.next(), survivors.next()) {
        (Some(only), None) if context.len() > 1 => Some(only),
        _ => None,
    }
}

/// Branches that each fail only on the value itself (`[{"const": ""}, {"format": "date"}]`)
/// read best as one list of what would have been accepted, in branch order.
fn alternatives(
    context: &[Vec<ValidationError<'static>>],
    path: &str,
    hints: Option<&FieldUi>,
) -> Option<String> {
    let mut parts = Vec::new();
    let mut only_values = true;
    for branch in context {
        let [error] = branch.as_slice() else {
            return None;
        };
        if error.instance_path().as_str() != path {
            return None;
        }
        match error.kind() {
            ValidationErrorKind::Constant { expected_value } => {
                parts.push(display(expected_value, hints));
            }
            ValidationErrorKind::Enum { options } => {
                parts.extend(options.as_array()?.iter().map(|v| display(v, hints)));
            }
            kind => {
                only_values = false;
                let text = message(kind, error, hints);
                parts.push(text.strip_prefix("must be ")?.to_owned());
            }
        }
    }
    if parts.len() > MAX_LISTED {
        return None;
    }
    if only_values && parts.len() > 1 {
        return Some(format!("must be one of: {}", parts.join(", ")));
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(format!("must be {}", join_or(&parts)))
}

fn child(parent: &str, name: &str) -> String {
    format!("{parent}/{}", super::walk::escape(name))
}
