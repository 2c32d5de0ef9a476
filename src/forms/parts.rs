//! Checking only what a move changed. A case was valid before its move, so when its schema is a
//! plain object schema (`properties`, `required`, `additionalProperties` and annotations, nothing
//! that relates one field to another), the case is still valid after the move exactly when every
//! changed field is valid against its own subschema, and no required field was removed. That
//! spares re-checking the whole case, usually the biggest instance a move validates.

use serde_json::Value;

use crate::engine::data_path;

/// Keywords that constrain an object field by field, or say nothing about validity.
const PLAIN_KEYWORDS: [&str; 14] = [
    "$schema",
    "$comment",
    "$defs",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "type",
    "properties",
    "required",
    "additionalProperties",
];

/// A field changed by a move: its dotted path, how many of the values on the way to it were
/// objects just before this change (a field inside an object the move made is checked as that
/// whole object), and its new value (`null`: removed). Counted after the move's earlier
/// changes: an object one of those made is checked whole for that earlier change.
#[derive(Debug, Clone, Copy)]
pub struct Changed<'a> {
    pub path: &'a str,
    pub existing: usize,
    pub new: &'a Value,
}

/// A plain object schema, taken apart into one validator per field.
pub(super) struct ObjectParts {
    required: Vec<String>,
    /// Few enough to find by comparing names, cheaper than hashing one.
    properties: Vec<(String, Part)>,
    others: Others,
}

/// What the schema says of a field it does not list.
enum Others {
    Allowed,
    Refused,
    Checked(Box<Part>),
}

struct Part {
    validator: jsonschema::Validator,
    /// Set when the field's own schema is plain, so a change inside it is checked there.
    object: Option<ObjectParts>,
}

impl ObjectParts {
    /// `None` when `schema` is not a plain object schema, or a field's subschema refers
    /// elsewhere (`$ref`, `$id`, …), which a validator of its own could not resolve.
    pub(super) fn of(schema: &Value) -> Option<Self> {
        let schema = schema.as_object()?;
        let plain = schema
            .keys()
            .all(|key| key.starts_with("x-") || PLAIN_KEYWORDS.contains(&key.as_str()))
            && schema.get("type").is_none_or(|kind| kind == "object");
        if !plain {
            return None;
        }
        let required = match schema.get("required") {
            Some(Value::Array(names)) => names
                .iter()
                .map(|name| name.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
            Some(_) => return None,
            None => Vec::new(),
        };
        let properties = match schema.get("properties") {
            Some(Value::Object(fields)) => fields
                .iter()
                .map(|(name, field)| Some((name.clone(), Part::of(field)?)))
                .collect::<Option<Vec<_>>>()?,
            Some(_) => return None,
            None => Vec::new(),
        };
        let others = match schema.get("additionalProperties") {
            None | Some(Value::Bool(true)) => Others::Allowed,
            Some(Value::Bool(false)) => Others::Refused,
            Some(field) => Others::Checked(Box::new(Part::of(field)?)),
        };
        Some(Self {
            required,
            properties,
            others,
        })
    }

    /// Whether `data`, this schema's instance and valid before the move, is valid after the
    /// move's `changes`.
    pub(super) fn is_valid_after(&self, data: &Value, changes: &[Changed<'_>]) -> bool {
        changes.iter().all(|change| {
            // Its own value is still in the data unless another change set a field around it.
            let alone = !changes.iter().any(|other| nested(change.path, other.path));
            self.is_valid_at(data, change, alone)
        })
    }

    fn is_valid_at(&self, data: &Value, change: &Changed<'_>, alone: bool) -> bool {
        let mut object = self;
        let mut rest = change.path;
        let mut depth = 0;
        loop {
            let (key, inner) = data_path::first_key(rest);
            let field = object.field(key);
            // Checked further in, when the change is inside an object that existed and is plain.
            if let (
                Some(inner),
                Ok(Part {
                    object: Some(parts),
                    ..
                }),
            ) = (inner, field)
                && alone
                && change.existing > depth
            {
                object = parts;
                rest = inner;
                depth += 1;
                continue;
            }
            let value = if inner.is_none() && alone {
                Some(change.new).filter(|new| !new.is_null())
            } else {
                let end = change.path.len() - inner.map_or(0, |inner| inner.len() + 1);
                change
                    .path
                    .get(..end)
                    .and_then(|prefix| data_path::get(data, prefix))
            };
            return match (value, field) {
                (None, _) => !object.required.iter().any(|name| name == key),
                (Some(value), Ok(part)) => part.validator.is_valid(value),
                (Some(_), Err(allowed)) => allowed,
            };
        }
    }

    /// The part checking field `key`; `Err(allowed)` when no schema applies to it.
    fn field(&self, key: &str) -> Result<&Part, bool> {
        match self.properties.iter().find(|(name, _)| name == key) {
            Some((_, part)) => Ok(part),
            None => match &self.others {
                Others::Allowed => Err(true),
                Others::Refused => Err(false),
                Others::Checked(part) => Ok(part),
            },
        }
    }
}

/// Whether one path lies inside the other (`a.b` and `a`), the two being different.
fn nested(path: &str, other: &str) -> bool {
    let inside = |short: &str, long: &str| {
        long.as_bytes().get(short.len()) == Some(&b'.') && long.starts_with(short)
    };
    inside(path, other) || inside(other, path)
}

impl Part {
    fn of(schema: &Value) -> Option<Self> {
        if refers_elsewhere(schema) {
            return None;
        }
        let validator = super::compile::options().build(schema).ok()?;
        Some(Self {
            validator,
            object: ObjectParts::of(schema),
        })
    }
}

/// Whether resolving `schema` could need something outside it.
fn refers_elsewhere(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object.iter().any(|(key, value)| {
            matches!(
                key.as_str(),
                "$ref" | "$dynamicRef" | "$id" | "$anchor" | "$dynamicAnchor"
            ) || refers_elsewhere(value)
        }),
        Value::Array(items) => items.iter().any(refers_elsewhere),
        _ => false,
    }
}
