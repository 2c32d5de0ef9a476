//! A transition's form as HTML, generated from its JSON Schema and `x-ui`
//! hints, for every form of every workflow: labelled inputs in hint order,
//! nested objects as fieldsets, arrays as repeatable rows, `if`/`then`
//! fields shown only while their condition holds, the values typed so far
//! and each server-side error next to its field. The schema's constraints
//! become HTML attributes for assistive technology; the server validates
//! every submission against the schema all the same.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Value, json};

use super::schema::{self, Field, Kind, child_name, child_pointer, item_name};
use crate::forms::{FieldError, UiHints};

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The row number a row template carries until the page's script numbers it.
const ROW_PLACEHOLDER: &str = "__i__";

/// What to render: the form, the values to show and the errors to place.
pub struct FormView<'a> {
    pub schema: &'a Value,
    pub ui: &'a UiHints,
    /// The values typed so far (an object), or `null` for an empty form.
    pub values: &'a Value,
    pub errors: &'a [FieldError],
    /// `en`, `mi`: labels in this language where the schema gives them.
    pub lang: &'a str,
}

/// The fields of the form, without the `<form>` element around them.
pub fn render_fields(view: &FormView<'_>) -> String {
    let mut errors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for error in view.errors {
        errors
            .entry(error.path.as_str())
            .or_default()
            .push(error.message.as_str());
    }
    let mut renderer = Renderer {
        root: view.schema,
        ui: view.ui,
        lang: view.lang,
        errors,
        html: String::new(),
    };
    renderer.object(view.schema, "", "", view.values, false);
    renderer.html
}

/// A complete page holding the form, posting to `action` (the API's `Accept: text/html` answer).
pub fn render_form(title: &str, action: &str, schema: &Value, ui: &UiHints) -> String {
    let fields = render_fields(&FormView {
        schema,
        ui,
        values: &Value::Null,
        errors: &[],
        lang: "en",
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body>\n\
         <form class=\"caseflow-form\" method=\"post\" action=\"{a}\" novalidate>\n<h1>{t}</h1>\n{fields}\
         <button type=\"submit\">{t}</button>\n</form>\n<script src=\"/static/app.js\"></script>\n</body></html>\n",
        t = escape(title),
        a = escape(action)
    )
}

/// The input name of a field at a JSON pointer: `/contacts/0/name` → `contacts[0].name`.
pub fn pointer_to_name(pointer: &str) -> String {
    let mut name = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !name.is_empty() && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(name, "[{segment}]");
        } else {
            name = child_name(&name, &segment);
        }
    }
    name
}

/// The `id` of the control for an input name: `contacts[0].name` → `field-contacts-0-name`.
pub fn field_id(name: &str) -> String {
    let mut id = String::from("field-");
    for c in name.chars() {
        id.push(match c {
            '.' | '[' => '-',
            ']' => continue,
            c if c.is_alphanumeric() || c == '_' || c == '-' => c,
            _ => '_',
        });
    }
    id
}

struct Renderer<'a> {
    root: &'a Value,
    ui: &'a UiHints,
    lang: &'a str,
    errors: BTreeMap<&'a str, Vec<&'a str>>,
    html: String,
}

/// Where a field is and how it is shown.
struct Place<'p> {
    name: String,
    pointer: String,
    id: String,
    label: String,
    required: bool,
    /// Inside a hidden conditional: rendered disabled so it is not sent.
    disabled: bool,
    value: &'p Value,
}

impl Renderer<'_> {
    fn label(&self, pointer: &str, fallback: &str) -> String {
        self.ui
            .label_in(pointer, self.lang)
            .map_or_else(|| fallback.to_owned(), str::to_owned)
    }

    fn object(
        &mut self,
        object: &Value,
        prefix: &str,
        pointer: &str,
        values: &Value,
        disabled: bool,
    ) {
        let fields = schema::fields(self.root, object, pointer, self.ui);
        for field in &fields {
            self.field(field, prefix, pointer, values, disabled);
        }
    }

    fn field(
        &mut self,
        field: &Field<'_>,
        prefix: &str,
        pointer: &str,
        values: &Value,
        disabled: bool,
    ) {
        let name = child_name(prefix, field.name);
        let field_pointer = child_pointer(pointer, field.name);
        let shown = field
            .condition
            .as_ref()
            .is_none_or(|condition| condition.holds(values));
        let place = Place {
            id: field_id(&name),
            label: self.label(&field_pointer, field.name),
            name,
            pointer: field_pointer,
            required: field.required,
            disabled: disabled || !shown,
            value: values.get(field.name).unwrap_or(&Value::Null),
        };
        if let Some(condition) = &field.condition {
            let _ = writeln!(
                self.html,
                "<div class=\"conditional\" data-when=\"{}\" data-when-values=\"{}\"{}>",
                escape(&child_name(prefix, &condition.field)),
                escape(&json!(condition.submitted_values()).to_string()),
                if shown { "" } else { " hidden" }
            );
        }
        self.control(field.schema, &place);
        if field.condition.is_some() {
            self.html.push_str("</div>\n");
        }
    }

    fn control(&mut self, field: &Value, place: &Place<'_>) {
        match schema::kind(self.root, field) {
            Kind::Group => self.group(field, place),
            Kind::Rows => self.rows(field, place),
            Kind::Choice if self.widget(place) == "radio" => self.choices(field, place, false),
            Kind::Choices => {
                let items = field
                    .get("items")
                    .map_or(&Value::Null, |items| schema::resolve(self.root, items));
                self.choices(items, place, true);
            }
            Kind::Choice => self.select(field, place),
            Kind::Boolean => self.checkbox(field, place),
            kind => self.input(field, place, kind),
        }
    }

    fn widget(&self, place: &Place<'_>) -> String {
        self.ui
            .get(&place.pointer)
            .and_then(|hints| hints.widget.clone())
            .unwrap_or_default()
    }

    fn star(required: bool) -> &'static str {
        if required {
            "<span class=\"req\" aria-hidden=\"true\"> *</span>"
        } else {
            ""
        }
    }

    /// Help and error paragraphs; returns the ids they give, for `aria-describedby`.
    fn notes(&mut self, field: &Value, place: &Place<'_>) -> String {
        let mut described = Vec::new();
        let help = self
            .ui
            .get(&place.pointer)
            .and_then(|hints| hints.help.clone())
            .or_else(|| {
                field
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let Some(help) = help {
            let _ = writeln!(
                self.html,
                "<p class=\"help\" id=\"{}-help\">{}</p>",
                place.id,
                escape(&help)
            );
            described.push(format!("{}-help", place.id));
        }
        let messages = self
            .errors
            .remove(place.pointer.as_str())
            .unwrap_or_default();
        let invalid = !messages.is_empty();
        if invalid {
            let text: Vec<String> = messages
                .iter()
                .map(|message| format!("{} {message}", place.label))
                .collect();
            let _ = writeln!(
                self.html,
                "<p class=\"error\" id=\"{}-error\"><span class=\"visually-hidden\">Error: </span>{}</p>",
                place.id,
                escape(&text.join("; "))
            );
            described.push(format!("{}-error", place.id));
        }
        let mut attributes = String::new();
        if !described.is_empty() {
            let _ = write!(attributes, " aria-describedby=\"{}\"", described.join(" "));
        }
        if invalid {
            attributes.push_str(" aria-invalid=\"true\"");
        }
        attributes
    }

    fn common(place: &Place<'_>) -> String {
        let mut attributes = String::new();
        if place.required {
            attributes.push_str(" required");
        }
        if place.disabled {
            attributes.push_str(" disabled");
        }
        attributes
    }

    fn group(&mut self, field: &Value, place: &Place<'_>) {
        let _ = writeln!(
            self.html,
            "<fieldset class=\"group\" id=\"{}\">\n<legend>{}{}</legend>",
            place.id,
            escape(&place.label),
            Self::star(place.required)
        );
        let _ = self.notes(field, place);
        self.object(
            field,
            &place.name,
            &place.pointer,
            place.value,
            place.disabled,
        );
        self.html.push_str("</fieldset>\n");
    }

    fn rows(&mut self, field: &Value, place: &Place<'_>) {
        let items = field
            .get("items")
            .map_or(&Value::Null, |items| schema::resolve(self.root, items));
        let row_label = items
            .get("x-ui")
            .and_then(|hints| hints.get("label"))
            .or_else(|| items.get("title"))
            .and_then(Value::as_str)
            .map_or_else(|| place.label.clone(), str::to_owned);
        let _ = writeln!(
            self.html,
            "<fieldset class=\"repeat\" id=\"{}\" data-repeat=\"{}\">\n<legend>{}{}</legend>",
            place.id,
            escape(&place.name),
            escape(&place.label),
            Self::star(place.required)
        );
        let _ = self.notes(field, place);
        let typed = place
            .value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let at_least = field.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let count = typed.len().max(usize::try_from(at_least).unwrap_or(0));
        self.html.push_str("<ol class=\"rows\">\n");
        for index in 0..count {
            let value = typed.get(index).unwrap_or(&Value::Null);
            self.row(items, place, &row_label, &index.to_string(), value);
        }
        self.html.push_str("</ol>\n<template>\n");
        // The template's errors are none: take them out of the way while it renders.
        let errors = std::mem::take(&mut self.errors);
        self.row(items, place, &row_label, ROW_PLACEHOLDER, &Value::Null);
        self.errors = errors;
        let _ = writeln!(
            self.html,
            "</template>\n<button type=\"button\" class=\"secondary\" data-action=\"add\">Add {}</button>\n</fieldset>",
            escape(&row_label.to_lowercase())
        );
    }

    fn row(
        &mut self,
        items: &Value,
        place: &Place<'_>,
        row_label: &str,
        index: &str,
        value: &Value,
    ) {
        let name = item_name(&place.name, index);
        // The template's hints are those of every row: `*` in a pointer.
        let number = index.parse::<usize>().ok();
        let pointer = format!(
            "{}/{}",
            place.pointer,
            if number.is_some() { index } else { "*" }
        );
        let number = number.map_or_else(|| "__n__".to_owned(), |i| (i + 1).to_string());
        let _ = writeln!(
            self.html,
            "<li class=\"row\"><fieldset class=\"group\">\n<legend>{} <span class=\"row-number\">{number}</span></legend>",
            escape(row_label)
        );
        let item_place = Place {
            id: field_id(&name),
            label: format!("{row_label} {number}"),
            name,
            pointer,
            required: true,
            disabled: place.disabled,
            value,
        };
        match schema::kind(self.root, items) {
            Kind::Group => self.object(
                items,
                &item_place.name,
                &item_place.pointer,
                value,
                place.disabled,
            ),
            _ => self.control(items, &item_place),
        }
        self.html.push_str(
            "<div class=\"row-actions\">\
             <button type=\"button\" class=\"secondary\" data-action=\"up\">Move up</button>\
             <button type=\"button\" class=\"secondary\" data-action=\"down\">Move down</button>\
             <button type=\"button\" class=\"secondary danger\" data-action=\"remove\">Remove</button>\
             </div>\n</fieldset></li>\n",
        );
    }
}

// The leaf controls (choices, selects, check boxes, inputs), kept apart for length.
#[path = "form_controls.rs"]
mod controls;

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
