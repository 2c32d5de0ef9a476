//! `x-ui` presentation hints: labels, help text, widgets and translations for each field.
//!
//! Hints live next to the validation rules in the schema so one file describes a form, and they
//! are read once at compile time. Every field gets a label, derived from its property name when
//! the author gave none, so error messages and rendered forms never show a raw key.

use super::walk::{self, Library};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Presentation hints for one field (or, under the pointer "", for the whole form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldUi {
    /// Label shown to staff: `x-ui.label`, else the schema's `title`, else derived from the
    /// property name; always present after compilation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Longer explanation shown under the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Rendering hint: `textarea`, `select`, `radio`, `date`, `time`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widget: Option<String>,
    /// Position among sibling fields; fields without one keep schema order after those with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// Translated labels by language tag (`"mi"` → `"Taumata mōrearea"`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Example text shown in an empty input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Display text per `enum` value (`"low"` → `"Low"`); non-string values use their JSON text.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub enum_labels: BTreeMap<String, String>,
    /// Replaces the generic message when the field's `pattern` does not match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_message: Option<String>,
    /// The reference table (`rules/data/NAME`) the field's options and their labels come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

impl FieldUi {
    /// Reads an `x-ui` object; members of the wrong type are ignored rather than failing the form,
    /// because a hint is cosmetic and must never make a valid schema unusable.
    fn from_hints(hints: &Map<String, Value>) -> FieldUi {
        let text = |key: &str| hints.get(key).and_then(Value::as_str).map(str::to_owned);
        let map = |key: &str| -> BTreeMap<String, String> {
            hints
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        FieldUi {
            label: text("label"),
            help: text("help"),
            widget: text("widget"),
            order: hints.get("order").and_then(Value::as_i64),
            labels: map("labels"),
            placeholder: text("placeholder"),
            enum_labels: map("enum_labels"),
            pattern_message: text("pattern_message"),
            options: text("options"),
        }
    }

    /// A field declared in several places (e.g. in `properties` and again in `then`) keeps the
    /// first hint given for each attribute.
    fn merge(&mut self, other: FieldUi) {
        self.label = self.label.take().or(other.label);
        self.help = self.help.take().or(other.help);
        self.widget = self.widget.take().or(other.widget);
        self.order = self.order.or(other.order);
        self.placeholder = self.placeholder.take().or(other.placeholder);
        self.pattern_message = self.pattern_message.take().or(other.pattern_message);
        self.options = self.options.take().or(other.options);
        for (k, v) in other.labels {
            self.labels.entry(k).or_insert(v);
        }
        for (k, v) in other.enum_labels {
            self.enum_labels.entry(k).or_insert(v);
        }
    }
}

/// The hints of one form, by JSON pointer: `""` for the form, `"/client/name"` for a nested
/// field, `"/contacts/*/phone"` for a field of every item of an array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UiHints {
    fields: BTreeMap<String, FieldUi>,
}

impl UiHints {
    /// Hints for a field; concrete array indices ("/contacts/0/phone") match the `*` entry.
    pub fn get(&self, pointer: &str) -> Option<&FieldUi> {
        self.fields
            .get(pointer)
            .or_else(|| self.fields.get(&generalise(pointer)))
    }

    /// The field's label: the author's, or one derived from the property name.
    pub fn label(&self, pointer: &str) -> Option<&str> {
        self.get(pointer)?.label.as_deref()
    }

    /// The label in language `lang`, falling back to the default label when not translated.
    pub fn label_in(&self, pointer: &str, lang: &str) -> Option<&str> {
        let field = self.get(pointer)?;
        field
            .labels
            .get(lang)
            .map(String::as_str)
            .or(field.label.as_deref())
    }

    /// Every field with hints, by pointer order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldUi)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn extract(name: &str, library: &Library, base: &str, root: &Value) -> UiHints {
        let mut fields = BTreeMap::new();
        let mut form = hints_of(root);
        form.label.get_or_insert_with(|| humanise(name));
        fields.insert(String::new(), form);
        for field in walk::fields(library, base, root) {
            let hints = hints_of(field.schema);
            match fields.get_mut(&field.pointer) {
                Some(existing) => existing.merge(hints),
                None => {
                    fields.insert(field.pointer, hints);
                }
            }
        }
        for (pointer, field) in &mut fields {
            if field.label.is_none() {
                let last = pointer.rsplit('/').next().unwrap_or_default();
                field.label = Some(humanise(&last.replace("~1", "/").replace("~0", "~")));
            }
        }
        UiHints { fields }
    }
}

/// The schema's own `title` stands in for a missing `x-ui` label: authors often set only that.
fn hints_of(schema: &Value) -> FieldUi {
    let mut hints = schema
        .get("x-ui")
        .and_then(Value::as_object)
        .map(FieldUi::from_hints)
        .unwrap_or_default();
    if hints.label.is_none() {
        hints.label = schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    hints
}

/// Replaces array indices with `*` so an instance path finds the hints of its schema field.
fn generalise(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `date_of_birth` / `dateOfBirth` → "Date of birth"; all-capital words ("NHI") are kept.
pub fn humanise(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | ' ' | '.') {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    words.extend((!current.is_empty()).then_some(current));
    let words: Vec<String> = words
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let acronym = w.chars().count() > 1 && w.chars().all(|c| !c.is_lowercase());
            let w = if acronym { w } else { w.to_lowercase() };
            if i == 0 {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            } else {
                w
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn humanise_property_names() {
        assert_eq!(humanise("date_of_birth"), "Date of birth");
        assert_eq!(humanise("dateOfBirth"), "Date of birth");
        assert_eq!(humanise("NHI_number"), "NHI number");
        assert_eq!(humanise("risk-level"), "Risk level");
        assert_eq!(humanise("x"), "X");
    }

    #[test]
    fn labels_are_given_derived_and_translated() {
        let schema = json!({
            "type": "object",
            "x-ui": {"help": "Initial assessment"},
            "properties": {
                "risk_level": {"type": "string", "enum": ["low", "high"], "x-ui": {
                    "label": "Risk level", "widget": "radio", "order": 3,
                    "labels": {"mi": "Taumata mōrearea"}, "enum_labels": {"low": "Low"}}},
                "client": {"type": "object", "title": "Client details",
                    "properties": {"date_of_birth": {"type": "string"}}},
                "contacts": {"type": "array", "items": {"type": "object",
                    "properties": {"phone": {"type": "string", "x-ui": {"placeholder": "021 ..."}}}}}
            }
        });
        let ui = UiHints::extract("initial_assessment", &Library::default(), "", &schema);
        assert_eq!(ui.label(""), Some("Initial assessment"));
        assert_eq!(ui.label("/risk_level"), Some("Risk level"));
        assert_eq!(ui.label_in("/risk_level", "mi"), Some("Taumata mōrearea"));
        assert_eq!(ui.label_in("/risk_level", "fr"), Some("Risk level"));
        assert_eq!(ui.label("/client"), Some("Client details"));
        assert_eq!(ui.label("/client/date_of_birth"), Some("Date of birth"));
        assert_eq!(ui.label("/contacts/*/phone"), Some("Phone"));
        assert_eq!(ui.label("/contacts/2/phone"), Some("Phone"));
        assert_eq!(ui.label("/nope"), None);
        let risk = ui.get("/risk_level").cloned().unwrap_or_default();
        assert_eq!(risk.widget.as_deref(), Some("radio"));
        assert_eq!(risk.order, Some(3));
        assert_eq!(risk.enum_labels.get("low").map(String::as_str), Some("Low"));
        let json = serde_json::to_value(&ui).unwrap_or_default();
        assert_eq!(
            json["/contacts/*/phone"],
            json!({"label": "Phone", "placeholder": "021 ..."})
        );
    }
}
