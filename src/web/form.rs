//! A transition's form as HTML, generated from its JSON Schema and `x-ui`
//! hints: one labelled input per top-level field, in hint order, with the
//! schema's constraints as HTML attributes so browsers check them early.
//! The server still validates every submission against the schema.

use std::fmt::Write;

use serde_json::Value;

use crate::forms::UiHints;

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

/// A complete HTML page holding the form; it posts to `action`.
pub fn render_form(title: &str, action: &str, schema: &Value, ui: &UiHints) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<(&String, &Value)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.iter().collect())
        .unwrap_or_default();
    // Fields with an `x-ui.order` first, by it; the rest keep schema order.
    fields.sort_by_key(|(name, _)| {
        ui.get(&format!("/{name}"))
            .and_then(|hints| hints.order)
            .unwrap_or(i64::MAX)
    });
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\n\
         <form class=\"caseflow-form\" method=\"post\" action=\"{a}\">\n<h1>{t}</h1>\n",
        t = escape(title),
        a = escape(action)
    );
    for (name, field) in fields {
        field_html(
            &mut html,
            name,
            field,
            required.contains(&name.as_str()),
            ui,
        );
    }
    let _ = write!(
        html,
        "<button type=\"submit\">{}</button>\n</form>\n</body></html>\n",
        escape(title)
    );
    html
}

fn field_html(html: &mut String, name: &str, schema: &Value, required: bool, ui: &UiHints) {
    let pointer = format!("/{name}");
    let hints = ui.get(&pointer);
    let label = hints
        .and_then(|h| h.label.clone())
        .unwrap_or_else(|| name.to_owned());
    let id = escape(&format!("field-{name}"));
    let need = if required { " required" } else { "" };
    let star = if required { " *" } else { "" };
    let widget = hints.and_then(|h| h.widget.as_deref()).unwrap_or("");
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
    html.push_str("<div class=\"field\">\n");
    if kind == "boolean" {
        let _ = writeln!(
            html,
            "<label><input type=\"checkbox\" id=\"{id}\" name=\"{n}\" value=\"true\"> {l}{star}</label>",
            n = escape(name),
            l = escape(&label)
        );
    } else {
        let _ = writeln!(html, "<label for=\"{id}\">{}{star}</label>", escape(&label));
        // A list field whose items are options (`"x-ui": {"options": ...}`) is a multiple select.
        let multiple = kind == "array";
        let choices = if multiple {
            schema.get("items").and_then(|items| items.get("enum"))
        } else {
            schema.get("enum")
        };
        if let Some(choices) = choices.and_then(Value::as_array) {
            let choices: Vec<(String, String)> = choices
                .iter()
                .map(|choice| {
                    let value = choice
                        .as_str()
                        .map_or_else(|| choice.to_string(), str::to_owned);
                    let shown = hints
                        .and_then(|h| h.enum_labels.get(&value).cloned())
                        .unwrap_or_else(|| value.clone());
                    (value, shown)
                })
                .collect();
            if widget == "radio" && !multiple {
                for (index, (value, shown)) in choices.iter().enumerate() {
                    let _ = writeln!(
                        html,
                        "<label><input type=\"radio\" id=\"{id}-{index}\" name=\"{}\" value=\"{}\"{need}> {}</label>",
                        escape(name),
                        escape(value),
                        escape(shown)
                    );
                }
            } else {
                let _ = writeln!(
                    html,
                    "<select id=\"{id}\" name=\"{}\"{}{need}>",
                    escape(name),
                    if multiple { " multiple" } else { "" }
                );
                if !multiple {
                    html.push_str("<option value=\"\">Choose…</option>\n");
                }
                for (value, shown) in &choices {
                    let _ = writeln!(
                        html,
                        "<option value=\"{}\">{}</option>",
                        escape(value),
                        escape(shown)
                    );
                }
                html.push_str("</select>\n");
            }
        } else if kind == "array" || kind == "object" || widget == "textarea" {
            let json = if kind == "array" || kind == "object" {
                " data-json=\"true\""
            } else {
                ""
            };
            let _ = writeln!(
                html,
                "<textarea id=\"{id}\" name=\"{}\"{json}{need}{}></textarea>",
                escape(name),
                placeholder(hints)
            );
        } else {
            let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
            let input = match (kind, format, widget) {
                ("integer" | "number", _, _) => "number",
                (_, "date", _) | (_, _, "date") => "date",
                (_, "time", _) | (_, _, "time") => "time",
                (_, "email", _) => "email",
                (_, "uri", _) => "url",
                _ => "text",
            };
            let mut attributes = String::new();
            for (key, attribute) in [
                ("minimum", "min"),
                ("maximum", "max"),
                ("minLength", "minlength"),
                ("maxLength", "maxlength"),
            ] {
                if let Some(bound) = schema.get(key) {
                    let _ = write!(
                        attributes,
                        " {attribute}=\"{}\"",
                        escape(&bound.to_string())
                    );
                }
            }
            if kind == "number" {
                attributes.push_str(" step=\"any\"");
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                let _ = write!(attributes, " pattern=\"{}\"", escape(pattern));
            }
            let _ = writeln!(
                html,
                "<input type=\"{input}\" id=\"{id}\" name=\"{}\"{attributes}{need}{}>",
                escape(name),
                placeholder(hints)
            );
        }
    }
    if let Some(help) = hints.and_then(|h| h.help.as_deref()) {
        let _ = writeln!(html, "<p class=\"help\">{}</p>", escape(help));
    }
    html.push_str("</div>\n");
}

fn placeholder(hints: Option<&crate::forms::FieldUi>) -> String {
    hints
        .and_then(|h| h.placeholder.as_deref())
        .map(|p| format!(" placeholder=\"{}\"", escape(p)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_schemas_and_hints_is_escaped() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"note\"><script>": {"type": "string", "title": "<b>Note</b> & more"}}
        });
        let html = render_form(
            "Say \"hi\"",
            "/cases/1/transitions/x",
            &schema,
            &UiHints::default(),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("<title>Say &quot;hi&quot;</title>"), "{html}");
        assert!(
            html.contains("name=\"note&quot;&gt;&lt;script&gt;\""),
            "{html}"
        );
    }
}
