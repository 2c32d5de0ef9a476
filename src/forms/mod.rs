//! JSON Schema forms: the data staff enter for a case, described by schema files.
//!
//! Each file in `schemas/` is a draft 2020-12 JSON Schema whose top level is an object. A
//! [`FormRegistry`] compiles all of them once at start-up; a [`Form`] then validates submissions
//! and answers the questions the engine asks about a form (its fields, which of them hold
//! personal information, how to label them). Schemas may `$ref` each other by file name
//! (`"client.json#/$defs/contact"`); nothing is ever fetched from the network or disk.
//!
//! Validation errors are [`FieldError`]s in plain language with a JSON pointer to the field, so
//! they can be shown next to the input that needs fixing. Schema problems are [`SchemaError`]s
//! with a line and column in the file, for the person editing it.

mod compile;
mod errors;
mod locate;
mod messages;
mod options;
mod parts;
mod ui;
mod walk;

#[cfg(test)]
mod parts_tests;
#[cfg(test)]
mod tests;

pub use options::OptionLists;
pub use parts::Changed;
pub use ui::{FieldUi, UiHints, humanise};

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One failing field, for staff: `path` is a JSON pointer to the field
/// (`"/client/date_of_birth"`, `""` for the whole form).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// JSON pointer into the submitted instance; array items use their index (`"/contacts/0/phone"`).
    pub path: String,
    /// What is wrong, without the field's name (`"is required"`, `"must be a number"`).
    pub message: String,
}

/// A schema file that could not be used; `line`/`column` are 1-based positions in the JSON text
/// when known (else 1, 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SchemaError {
    /// 1-based line of the problem in the schema file.
    pub line: usize,
    /// 1-based column (in characters) of the problem in the schema file.
    pub column: usize,
    /// What is wrong, naming the keyword or reference at fault.
    pub message: String,
}

/// One compiled schema. Cheap to share: the engine holds it in an [`Arc`] across threads.
pub struct Form {
    name: String,
    schema: Arc<Value>,
    validator: jsonschema::Validator,
    /// Field by field, made on first use: only case schemas are checked that way.
    parts: std::sync::OnceLock<Option<parts::ObjectParts>>,
    ui: UiHints,
    properties: Vec<String>,
    personal: Vec<String>,
    financial: Vec<String>,
    users: Vec<(String, Vec<String>)>,
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("name", &self.name)
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}

impl Form {
    /// The schema's file stem (`"assessment"` for `schemas/assessment.json`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema document as written.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Every problem with `instance`, sorted by path, without duplicates; empty when valid.
    pub fn validate(&self, instance: &Value) -> Vec<FieldError> {
        // Most submissions are valid, and the boolean check skips building error values.
        if self.validator.is_valid(instance) {
            return Vec::new();
        }
        messages::field_errors(self.validator.iter_errors(instance), &self.ui)
    }

    /// As [`Form::validate`], for an instance that was valid before the fields in `changed`
    /// changed: when the schema is a plain object schema, only those fields are checked.
    pub fn validate_changed(&self, instance: &Value, changed: &[Changed<'_>]) -> Vec<FieldError> {
        let parts = self
            .parts
            .get_or_init(|| parts::ObjectParts::of(&self.schema));
        let valid = match (parts, instance) {
            (Some(parts), Value::Object(_)) => parts.is_valid_after(instance, changed),
            _ => self.validator.is_valid(instance),
        };
        if valid {
            return Vec::new();
        }
        self.validate(instance)
    }

    /// Whether `instance` is valid, without describing why not.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Presentation hints from `x-ui`, with a label for every field.
    pub fn ui(&self) -> &UiHints {
        &self.ui
    }

    /// Top-level property names, in schema order, including those a top-level `$ref`, `allOf`,
    /// `anyOf`, `oneOf` or `if`/`then`/`else` brings in. Rules use this to warn about reading a
    /// field the form does not define, so it errs towards listing too many.
    pub fn properties(&self) -> Vec<String> {
        self.properties.clone()
    }

    /// JSON pointers of fields marked `"x-personal": true`, at any depth; array items appear as
    /// `*` (`"/contacts/*/phone"`). Used to redact exports and logs. A recursive schema is
    /// unrolled one level, so fields nested deeper than that in a recursion are not listed.
    pub fn personal_fields(&self) -> Vec<String> {
        self.personal.clone()
    }

    /// Pointers of the fields marked `"x-financial": true`, which the law has
    /// kept for their own period (7 years for UK financial records).
    pub fn financial_fields(&self) -> &[String] {
        &self.financial
    }

    /// Fields marked `"x-user": true` (or `{"roles": [...]}`): each holds the e-mail of a user of
    /// the organisation (holding one of those roles). The engine cannot know the users, so the
    /// service checks them before a move is written; scenarios do not. Array items are `*`.
    pub fn user_fields(&self) -> &[(String, Vec<String>)] {
        &self.users
    }

    /// `error` as a sentence naming its field: "Risk level is required". A field the form
    /// does not define is named as submitted: "\"nickname\" is not a field of this form".
    pub fn describe(&self, error: &FieldError) -> String {
        match (self.ui.label(&error.path), error.path.rsplit_once('/')) {
            (Some(label), _) => format!("{label} {}", error.message),
            (None, Some((_, key))) => {
                let key = key.replace("~1", "/").replace("~0", "~");
                format!("\"{key}\" {}", error.message)
            }
            (None, None) => format!("This form {}", error.message),
        }
    }
}

/// All compiled forms of a deployment, by name.
#[derive(Debug, Default)]
pub struct FormRegistry {
    forms: BTreeMap<String, Arc<Form>>,
}

impl FormRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses and compiles every schema; `sources` are (name, JSON text) where name is the file
    /// stem (`"assessment"` for `schemas/assessment.json`).
    ///
    /// Returns the registry of the usable schemas and one error for each unusable one, so an
    /// author sees every broken file at once. A schema that references a broken one is reported
    /// too, since it cannot be used either.
    pub fn compile(sources: &[(String, String)]) -> (FormRegistry, Vec<(String, SchemaError)>) {
        Self::compile_with_options(sources, &OptionLists::new())
    }

    /// As [`compile`](Self::compile), with the option lists that `"x-ui": {"options": NAME}`
    /// fields take their values and labels from; naming a list not given is an error.
    pub fn compile_with_options(
        sources: &[(String, String)],
        lists: &OptionLists,
    ) -> (FormRegistry, Vec<(String, SchemaError)>) {
        let (forms, errors) = compile::compile_all(sources, lists);
        (FormRegistry { forms }, errors)
    }

    /// The form named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Form>> {
        self.forms.get(name)
    }

    /// Names of all forms, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.forms.keys().map(String::as_str)
    }
}
