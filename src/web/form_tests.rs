use super::*;
use serde_json::json;

/// The form as the registry compiles it, so its `x-ui` hints apply.
fn compiled(schema: &Value) -> std::sync::Arc<crate::forms::Form> {
    let (registry, errors) =
        crate::forms::FormRegistry::compile(&[("f".to_owned(), schema.to_string())]);
    assert!(errors.is_empty(), "{errors:?}");
    registry.get("f").expect("compiled").clone()
}

fn render(schema: &Value, values: &Value, errors: &[FieldError], lang: &str) -> String {
    let form = compiled(schema);
    render_fields(&FormView {
        schema: form.schema(),
        ui: form.ui(),
        values,
        errors,
        lang,
    })
}

#[test]
fn text_from_schemas_and_hints_is_escaped() {
    let schema = json!({
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

#[test]
fn typed_values_and_errors_are_shown_at_their_fields() {
    let schema = json!({"type": "object", "required": ["count"], "properties": {
        "count": {"type": "integer", "minimum": 1},
        "note": {"type": "string", "x-ui": {"widget": "textarea"}},
        "ok": {"type": "boolean"},
        "level": {"enum": ["low", "high"]}
    }});
    let errors = [FieldError {
        path: "/count".to_owned(),
        message: "must be an integer".to_owned(),
    }];
    let values = json!({"count": "twelve", "note": "a <b>", "ok": true, "level": "high"});
    let html = render(&schema, &values, &errors, "en");
    assert!(html.contains("<label for=\"field-count\">Count<span class=\"req\" aria-hidden=\"true\"> *</span></label>"), "{html}");
    assert!(html.contains("<p class=\"error\" id=\"field-count-error\"><span class=\"visually-hidden\">Error: </span>Count must be an integer</p>"), "{html}");
    assert!(html.contains("name=\"count\" value=\"twelve\" required min=\"1\" step=\"1\" inputmode=\"numeric\" aria-describedby=\"field-count-error\" aria-invalid=\"true\">"), "{html}");
    assert!(html.contains(">a &lt;b&gt;</textarea>"), "{html}");
    assert!(
        html.contains("name=\"ok\" value=\"true\" checked"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"high\" selected>High</option>"),
        "{html}"
    );
}

#[test]
fn a_conditional_field_is_hidden_and_disabled_until_its_condition_holds() {
    let schema = json!({"type": "object",
        "properties": {"needed": {"type": "boolean"}, "language": {"type": "string"}},
        "if": {"properties": {"needed": {"const": true}}, "required": ["needed"]},
        "then": {"required": ["language"]}});
    let hidden = render(&schema, &json!({"needed": false}), &[], "en");
    assert!(hidden.contains("<div class=\"conditional\" data-when=\"needed\" data-when-values=\"[&quot;true&quot;]\" hidden>"), "{hidden}");
    assert!(
        hidden.contains("name=\"language\" value=\"\" required disabled"),
        "{hidden}"
    );
    let shown = render(&schema, &json!({"needed": true}), &[], "en");
    assert!(
        shown.contains("data-when-values=\"[&quot;true&quot;]\">"),
        "{shown}"
    );
    assert!(
        shown.contains("name=\"language\" value=\"\" required>"),
        "{shown}"
    );
}

#[test]
fn arrays_of_objects_are_numbered_rows_with_a_template() {
    let schema = json!({"type": "object", "properties": {"contacts": {
        "type": "array", "minItems": 1, "x-ui": {"label": "Emergency contacts"},
        "items": {"type": "object", "title": "Contact", "properties": {
            "name": {"type": "string"}, "phone": {"type": "string"}}}}}});
    let values = json!({"contacts": [{"name": "Mere"}, {"name": "Hemi", "phone": "021"}]});
    let errors = [FieldError {
        path: "/contacts/1/phone".to_owned(),
        message: "is too short".to_owned(),
    }];
    let html = render(&schema, &values, &errors, "en");
    assert!(
        html.contains("name=\"contacts[0].name\" value=\"Mere\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"contacts[1].phone\" value=\"021\""),
        "{html}"
    );
    assert!(
        html.contains("id=\"field-contacts-1-phone-error\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"contacts[__i__].name\" value=\"\""),
        "{html}"
    );
    assert!(
        html.contains("<legend>Contact <span class=\"row-number\">2</span></legend>"),
        "{html}"
    );
    assert!(
        html.contains("data-action=\"add\">Add contact</button>"),
        "{html}"
    );
    assert_eq!(pointer_to_name("/contacts/1/phone"), "contacts[1].phone");
    assert_eq!(pointer_to_name("/client/name"), "client.name");
}

#[test]
fn labels_follow_the_language_where_the_schema_gives_them() {
    let form = json!({"type": "object", "properties": {
        "risk": {"type": "string", "x-ui": {"label": "Risk level", "labels": {"mi": "Taumata mōrearea"}}}}});
    assert!(render(&form, &Value::Null, &[], "mi").contains(">Taumata mōrearea</label>"));
    assert!(render(&form, &Value::Null, &[], "en").contains(">Risk level</label>"));
}
