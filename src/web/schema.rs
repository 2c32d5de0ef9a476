//! What the form renderer and the form reader both need to know about a
//! schema: the fields of an object in display order, which of them are
//! required, how a field is named in HTML, and the `if`/`then` conditions
//! that show or hide fields. Keeping it in one place means a field is read
//! back under exactly the name it was rendered with.

use serde_json::Value;

use crate::forms::UiHints;

/// `$ref`s followed at most this deep; more is a loop.
const MAX_REFS: usize = 8;

/// Follows local `$ref`s (`#/$defs/contact`) from `root`. References to other
/// files are not followed: such a field renders as what is left of it.
pub fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..MAX_REFS {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|reference| reference.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        schema = target;
    }
    schema
}

/// A field shown only while another field of the same object has one of `values`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The property the `if` looks at.
    pub field: String,
    /// The values (`const` or `enum`) that make the `if` hold.
    pub values: Vec<Value>,
}

impl Condition {
    /// Whether `object` (the submitted object holding `field`) meets the condition.
    pub fn holds(&self, object: &Value) -> bool {
        object
            .get(&self.field)
            .is_some_and(|value| self.values.contains(value))
    }

    /// The values as the browser's controls submit them, for the script that shows and hides.
    pub fn submitted_values(&self) -> Vec<String> {
        self.values.iter().map(submitted_text).collect()
    }
}

/// A value as a form control holds it: strings bare, anything else as JSON.
pub fn submitted_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One property of an object schema, ready to render or read.
pub struct Field<'a> {
    pub name: &'a str,
    pub schema: &'a Value,
    pub required: bool,
    /// Present when an `if`/`then` decides whether the field applies.
    pub condition: Option<Condition>,
}

/// The conditions of an object schema: its own `if`/`then` and those in `allOf`.
fn conditions(object: &Value) -> Vec<(Condition, &Value)> {
    let mut found = Vec::new();
    let branches = std::iter::once(object).chain(
        object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for branch in branches {
        let (Some(test), Some(then)) = (branch.get("if"), branch.get("then")) else {
            continue;
        };
        // Only the common shape is understood: one property equal to a constant
        // or one of a list. Anything else leaves its fields always shown.
        let Some((field, rule)) = test
            .get("properties")
            .and_then(Value::as_object)
            .filter(|properties| properties.len() == 1)
            .and_then(|properties| properties.iter().next())
        else {
            continue;
        };
        let values = match (rule.get("const"), rule.get("enum")) {
            (Some(value), _) => vec![value.clone()],
            (None, Some(Value::Array(values))) => values.clone(),
            _ => continue,
        };
        found.push((
            Condition {
                field: field.clone(),
                values,
            },
            then,
        ));
    }
    found
}

fn names_in(schema: &Value, key: &str) -> Vec<String> {
    match schema.get(key) {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::Object(properties)) => properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The properties of `object` in `x-ui.order`, then schema order; fields only
/// a `then` names come last. `pointer` is the object's JSON pointer, for hints.
pub fn fields<'a>(
    root: &'a Value,
    object: &'a Value,
    pointer: &str,
    ui: &UiHints,
) -> Vec<Field<'a>> {
    let object = resolve(root, object);
    let required = names_in(object, "required");
    let conditions = conditions(object);
    let mut declared: Vec<(&'a str, &'a Value)> = object
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    for (_, then) in &conditions {
        if let Some(properties) = then.get("properties").and_then(Value::as_object) {
            for (name, schema) in properties {
                if !declared.iter().any(|(known, _)| *known == name.as_str()) {
                    declared.push((name.as_str(), schema));
                }
            }
        }
    }
    declared.sort_by_key(|(name, _)| {
        ui.get(&child_pointer(pointer, name))
            .and_then(|hints| hints.order)
            .unwrap_or(i64::MAX)
    });
    declared
        .into_iter()
        .map(|(name, schema)| {
            let governing = conditions.iter().find(|(_, then)| {
                names_in(then, "required").iter().any(|n| n == name)
                    || names_in(then, "properties").iter().any(|n| n == name)
            });
            // A field the `then` requires is required whenever it is shown.
            let required_when_shown = governing
                .is_some_and(|(_, then)| names_in(then, "required").iter().any(|n| n == name));
            Field {
                name,
                schema: resolve(root, schema),
                required: required.iter().any(|n| n == name) || required_when_shown,
                condition: governing.map(|(condition, _)| condition.clone()),
            }
        })
        .collect()
}

/// `/client` + `name` → `/client/name`, escaped as JSON pointers require.
pub fn child_pointer(pointer: &str, name: &str) -> String {
    format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// The HTML name of a property: `client.name`, `contacts[0].phone`.
pub fn child_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The HTML name of an array item: `contacts[0]` (or a placeholder index for the row template).
pub fn item_name(prefix: &str, index: &str) -> String {
    format!("{prefix}[{index}]")
}

/// What a field is, decided once for rendering and reading alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Choice,
    Choices,
    Group,
    Rows,
    Boolean,
    Integer,
    Number,
    Text,
}

pub fn kind(root: &Value, schema: &Value) -> Kind {
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `["string", "null"]` and the like: the first non-null type decides.
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or(""),
        _ => "",
    };
    if schema.get("enum").is_some() {
        return Kind::Choice;
    }
    match kind {
        "array" => {
            let items = schema
                .get("items")
                .map_or(&Value::Null, |items| resolve(root, items));
            if items.get("enum").is_some() {
                Kind::Choices
            } else {
                Kind::Rows
            }
        }
        "object" => Kind::Group,
        "boolean" => Kind::Boolean,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        _ => Kind::Text,
    }
}
