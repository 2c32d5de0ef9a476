//! The leaf controls of a generated form: radio buttons and check-box
//! groups for choices, selects, single check boxes and typed inputs.

use std::fmt::Write;

use serde_json::Value;

use super::{Kind, Place, Renderer, escape};
use crate::web::schema::submitted_text;

impl Renderer<'_> {
    pub(super) fn enum_options(&self, field: &Value, place: &Place<'_>) -> Vec<(String, String)> {
        let hints = self.ui.get(&place.pointer);
        field
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|choice| {
                let value = submitted_text(choice);
                let shown = hints
                    .and_then(|h| h.enum_labels.get(&value).cloned())
                    .unwrap_or_else(|| crate::forms::humanise(&value));
                (value, shown)
            })
            .collect()
    }

    /// Radio buttons (one value) or check boxes (several), in a fieldset.
    pub(super) fn choices(&mut self, field: &Value, place: &Place<'_>, several: bool) {
        let options = self.enum_options(field, place);
        let chosen: Vec<String> = match place.value {
            Value::Array(values) => values.iter().map(submitted_text).collect(),
            Value::Null => Vec::new(),
            value => vec![submitted_text(value)],
        };
        let _ = writeln!(
            self.html,
            "<fieldset class=\"field choices\" id=\"{}\">\n<legend>{}{}</legend>",
            place.id,
            escape(&place.label),
            Self::star(place.required)
        );
        let described = self.notes(field, place);
        let kind = if several { "checkbox" } else { "radio" };
        let required = if several {
            String::new()
        } else {
            Self::common(place)
        };
        let disabled = if place.disabled && several {
            " disabled"
        } else {
            ""
        };
        for (index, (value, shown)) in options.iter().enumerate() {
            let checked = if chosen.contains(value) {
                " checked"
            } else {
                ""
            };
            let _ = writeln!(
                self.html,
                "<div class=\"option\"><input type=\"{kind}\" id=\"{id}-{index}\" name=\"{n}\" value=\"{v}\"{checked}{required}{disabled}{described}> <label for=\"{id}-{index}\">{s}</label></div>",
                id = place.id,
                n = escape(&place.name),
                v = escape(value),
                s = escape(shown)
            );
        }
        self.html.push_str("</fieldset>\n");
    }

    pub(super) fn select(&mut self, field: &Value, place: &Place<'_>) {
        let options = self.enum_options(field, place);
        self.open_field(place);
        let described = self.notes(field, place);
        let chosen = (!place.value.is_null()).then(|| submitted_text(place.value));
        let _ = write!(
            self.html,
            "<select id=\"{}\" name=\"{}\"{}{described}>\n<option value=\"\">Choose…</option>\n",
            place.id,
            escape(&place.name),
            Self::common(place)
        );
        for (value, shown) in &options {
            let selected = if chosen.as_deref() == Some(value) {
                " selected"
            } else {
                ""
            };
            let _ = writeln!(
                self.html,
                "<option value=\"{}\"{selected}>{}</option>",
                escape(value),
                escape(shown)
            );
        }
        self.html.push_str("</select>\n</div>\n");
    }

    pub(super) fn open_field(&mut self, place: &Place<'_>) {
        let _ = writeln!(
            self.html,
            "<div class=\"field\">\n<label for=\"{}\">{}{}</label>",
            place.id,
            escape(&place.label),
            Self::star(place.required)
        );
    }

    pub(super) fn checkbox(&mut self, field: &Value, place: &Place<'_>) {
        let checked = if place.value == &Value::Bool(true) {
            " checked"
        } else {
            ""
        };
        self.html.push_str("<div class=\"field check\">\n");
        let described = self.notes(field, place);
        let disabled = if place.disabled { " disabled" } else { "" };
        let _ = writeln!(
            self.html,
            "<input type=\"checkbox\" id=\"{id}\" name=\"{}\" value=\"true\"{checked}{disabled}{described}> <label for=\"{id}\">{}</label>\n</div>",
            escape(&place.name),
            escape(&place.label),
            id = place.id
        );
    }

    pub(super) fn input(&mut self, field: &Value, place: &Place<'_>, kind: Kind) {
        self.open_field(place);
        let described = self.notes(field, place);
        let widget = self.widget(place);
        let hints = self.ui.get(&place.pointer);
        let placeholder = hints
            .and_then(|h| h.placeholder.as_deref())
            .map(|p| format!(" placeholder=\"{}\"", escape(p)))
            .unwrap_or_default();
        let value = match place.value {
            Value::Null => String::new(),
            other => submitted_text(other),
        };
        let mut attributes = Self::common(place);
        for (key, attribute) in [("minLength", "minlength"), ("maxLength", "maxlength")] {
            if let Some(bound) = field.get(key) {
                let _ = write!(
                    attributes,
                    " {attribute}=\"{}\"",
                    escape(&bound.to_string())
                );
            }
        }
        if widget == "textarea" {
            let _ = writeln!(
                self.html,
                "<textarea id=\"{}\" name=\"{}\" rows=\"4\"{attributes}{placeholder}{described}>{}</textarea>\n</div>",
                place.id,
                escape(&place.name),
                escape(&value)
            );
            return;
        }
        let format = field.get("format").and_then(Value::as_str).unwrap_or("");
        let input = match (kind, format, widget.as_str()) {
            // Text that is not a number stays visible to be corrected: a
            // number input would show it as empty.
            (Kind::Integer | Kind::Number, _, _)
                if !value.is_empty() && value.parse::<f64>().is_err() =>
            {
                "text"
            }
            (Kind::Integer | Kind::Number, _, _) => "number",
            (_, "date", _) | (_, _, "date") => "date",
            (_, "time", _) | (_, _, "time") => "time",
            (_, "email", _) => "email",
            (_, "uri", _) => "url",
            _ => "text",
        };
        for (key, attribute) in [("minimum", "min"), ("maximum", "max")] {
            if let Some(bound) = field.get(key) {
                let _ = write!(
                    attributes,
                    " {attribute}=\"{}\"",
                    escape(&bound.to_string())
                );
            }
        }
        match kind {
            Kind::Number => attributes.push_str(" step=\"any\""),
            Kind::Integer => attributes.push_str(" step=\"1\" inputmode=\"numeric\""),
            _ => {}
        }
        if let Some(pattern) = field.get("pattern").and_then(Value::as_str) {
            let _ = write!(attributes, " pattern=\"{}\"", escape(pattern));
        }
        let _ = writeln!(
            self.html,
            "<input type=\"{input}\" id=\"{}\" name=\"{}\" value=\"{}\"{attributes}{placeholder}{described}>\n</div>",
            place.id,
            escape(&place.name),
            escape(&value)
        );
    }
}
