//! Turning schema texts into [`Form`]s: parse, check, compile against each other, describe.

use super::errors::{at_start, build_error, json_error, located, meta_error};
use super::options::{self, OptionLists};
use super::ui::UiHints;
use super::walk::{self, Library};
use super::{Form, SchemaError};
use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

type Compiled = (BTreeMap<String, Arc<Form>>, Vec<(String, SchemaError)>);

pub(crate) fn compile_all(sources: &[(String, String)], lists: &OptionLists) -> Compiled {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let mut seen = HashSet::new();
    for (name, text) in sources {
        if !seen.insert(name.as_str()) {
            errors.push((name.clone(), at_start("another schema has the same name")));
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(mut value) => match options::resolve(text, &mut value, lists) {
                Ok(()) => parsed.push((name.as_str(), text.as_str(), Arc::new(value))),
                Err(e) => errors.push((name.clone(), e)),
            },
            Err(e) => errors.push((name.clone(), json_error(&e))),
        }
    }
    let mut everything = Library::default();
    for (name, _, value) in &parsed {
        everything.insert(name, Arc::clone(value));
    }
    // Broken schemas are withheld from references so that a schema using one fails with a
    // message pointing at the broken file, instead of compiling against a half-valid target.
    let mut usable = Library::default();
    let mut broken = HashMap::new();
    let mut checked = Vec::new();
    for (name, text, value) in parsed {
        match precheck(name, text, &value, &everything) {
            Ok(()) => {
                usable.insert(name, Arc::clone(&value));
                checked.push((name, text, value));
            }
            Err(e) => {
                broken.insert(walk::file_uri(name), name.to_owned());
                broken.insert(walk::base_uri(name, &value), name.to_owned());
                errors.push((name.to_owned(), e));
            }
        }
    }
    let retriever = LocalOnly {
        library: Arc::new(usable),
        broken: Arc::new(broken),
    };
    let mut forms = BTreeMap::new();
    for (name, text, value) in checked {
        match build(name, text, value, &retriever) {
            Ok(form) => {
                forms.insert(name.to_owned(), Arc::new(form));
            }
            Err(e) => errors.push((name.to_owned(), e)),
        }
    }
    // Report in the order the files were given, whichever check caught each one.
    errors.sort_by_key(|(name, _)| sources.iter().position(|(n, _)| n == name));
    (forms, errors)
}

/// Checks that need no compilation, run before any schema is offered to another's `$ref`.
fn precheck(name: &str, text: &str, schema: &Value, library: &Library) -> Result<(), SchemaError> {
    if !schema.is_object() {
        return Err(at_start("a form schema must be a JSON object"));
    }
    let dialect = schema
        .get("$schema")
        .map(|d| d.as_str().map(|d| d.trim_end_matches('#')));
    if dialect.is_some_and(|d| d != Some(DRAFT_2020_12)) {
        let message =
            format!("\"$schema\" must be \"{DRAFT_2020_12}\" (only draft 2020-12 is supported)");
        return Err(located(text, "/$schema", message));
    }
    if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
        return Err(meta_error(text, &e));
    }
    if !declares_object(schema, &walk::base_uri(name, schema), library, 0) {
        let message = "a form must be an object: the top level needs \"type\": \"object\"";
        let pointer = if schema.get("type").is_some() {
            "/type"
        } else {
            ""
        };
        return Err(located(text, pointer, message.to_owned()));
    }
    Ok(())
}

/// `"type": "object"` at the top, or reached through a top-level `$ref` or `allOf`.
fn declares_object(schema: &Value, base: &str, library: &Library, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    if let Some(kind) = schema.get("type") {
        return kind == "object";
    }
    let by_ref = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| library.resolve(base, r))
        .is_some_and(|(b, target)| declares_object(target, b, library, depth + 1));
    let by_all_of = schema
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|all| {
            all.iter()
                .any(|s| declares_object(s, base, library, depth + 1))
        });
    by_ref || by_all_of
}

fn build(
    name: &str,
    text: &str,
    schema: Arc<Value>,
    retriever: &LocalOnly,
) -> Result<Form, SchemaError> {
    let validator = options()
        .with_base_uri(walk::file_uri(name))
        .with_retriever(retriever.clone())
        .build(&schema)
        .map_err(|e| build_error(text, &schema, &e))?;
    let base = walk::base_uri(name, &schema);
    let library = retriever.library.as_ref();
    let fields = walk::fields(library, &base, &schema);
    let mut properties: Vec<String> = Vec::new();
    let mut personal: Vec<String> = Vec::new();
    let mut financial: Vec<String> = Vec::new();
    let mut users: Vec<(String, Vec<String>)> = Vec::new();
    for field in &fields {
        if walk::is_top_level(&field.pointer) {
            let escaped = field.pointer.strip_prefix('/').unwrap_or_default();
            let name = escaped.replace("~1", "/").replace("~0", "~");
            if !properties.contains(&name) {
                properties.push(name);
            }
        }
        let marked = field.schema.get("x-personal") == Some(&Value::Bool(true));
        if marked && !personal.contains(&field.pointer) {
            personal.push(field.pointer.clone());
        }
        let money = field.schema.get("x-financial") == Some(&Value::Bool(true));
        if money && !financial.contains(&field.pointer) {
            financial.push(field.pointer.clone());
        }
        if let Some(roles) = user_roles(field.schema.get("x-user"))
            && !users.iter().any(|(pointer, _)| pointer == &field.pointer)
        {
            users.push((field.pointer.clone(), roles));
        }
    }
    let ui = UiHints::extract(name, library, &base, &schema);
    Ok(Form {
        name: name.to_owned(),
        schema,
        validator,
        parts: std::sync::OnceLock::new(),
        ui,
        properties,
        personal,
        financial,
        users,
    })
}

/// How every schema is compiled: draft 2020-12, formats checked.
pub(super) fn options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        // A misspelt format ("data") would otherwise silently accept anything.
        .should_ignore_unknown_formats(false)
        .with_format("time", is_time)
}

/// `"x-user": true` or `{"roles": [...]}`: the field names a user of the organisation.
fn user_roles(marker: Option<&Value>) -> Option<Vec<String>> {
    match marker? {
        Value::Bool(true) => Some(Vec::new()),
        Value::Object(object) => Some(
            object
                .get("roles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|role| role.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Serves the registry's own schemas to `$ref` and refuses everything else: a form must never
/// depend on a file or server that is not part of the deployment.
#[derive(Clone)]
struct LocalOnly {
    library: Arc<Library>,
    broken: Arc<HashMap<String, String>>,
}

impl Retrieve for LocalOnly {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        if let Some((_, value)) = self.library.get(uri) {
            return Ok(value.clone());
        }
        if let Some(name) = self.broken.get(uri) {
            return Err(format!("schema \"{name}\" has errors of its own").into());
        }
        match uri.strip_prefix(walk::BASE) {
            Some(file) => Err(format!("there is no schema named {file} in this registry").into()),
            None => Err("schemas are never fetched from outside the registry".into()),
        }
    }
}

/// `format: time` as forms send it: `14:30` or `14:30:15`, with an optional fraction and offset.
/// RFC 3339 alone would reject the `HH:MM` that browser time inputs produce.
fn is_time(text: &str) -> bool {
    let (clock, offset) = match text.find(['Z', 'z', '+', '-']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let offset_ok = offset.is_empty()
        || offset.eq_ignore_ascii_case("z")
        || (offset.len() == 6
            && two_digits(offset.get(1..3), 23)
            && offset.get(3..4) == Some(":")
            && two_digits(offset.get(4..6), 59));
    let (main, fraction) = clock
        .split_once('.')
        .map_or((clock, None), |(m, f)| (m, Some(f)));
    let fraction_ok =
        fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let parts: Vec<&str> = main.split(':').collect();
    let clock_ok = match parts.as_slice() {
        [h, m] => fraction.is_none() && two_digits(Some(h), 23) && two_digits(Some(m), 59),
        [h, m, s] => {
            fraction_ok
                && two_digits(Some(h), 23)
                && two_digits(Some(m), 59)
                && two_digits(Some(s), 60)
        }
        _ => false,
    };
    offset_ok && clock_ok
}

fn two_digits(text: Option<&str>, max: u8) -> bool {
    text.is_some_and(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
        && text
            .and_then(|t| t.parse::<u8>().ok())
            .is_some_and(|n| n <= max)
}

#[cfg(test)]
mod tests {
    use super::is_time;

    #[test]
    fn time_format_accepts_form_times() {
        for ok in [
            "14:30",
            "09:05:59",
            "23:59:60Z",
            "14:30:00.25+13:00",
            "00:00:00z",
        ] {
            assert!(is_time(ok), "{ok}");
        }
        for bad in [
            "2pm",
            "24:00",
            "14:3",
            "14:30.5",
            "14:30:00+1300",
            "14:60",
            "",
            "１4:30",
        ] {
            assert!(!is_time(bad), "{bad}");
        }
    }
}
