//! Reference data in `rules/data/`: tables validated with their positions,
//! read by rules (`lookup`, `options`, `label`) and offered by forms
//! (`"x-ui": {"options": NAME}`).

mod common;

use common::sources::{clean_catalog, fixed_now as now, source};

use std::collections::BTreeSet;

use caseflow::engine::{CaseView, Catalog, Refusal, Sources, fire};
use caseflow::rules::Actor;
use common::{Home, INTAKE_YAML};
use serde_json::{Value, json};

const ITEMS: &str = r#"# support items
"01_011_0107_1_1": { name: Self-care weekday, unit: H, price: 70.23, gst: false }
"01_799_0107_1_1": { name: Provider travel, unit: KM, price: 0.99, gst: true }
"#;

const IWI: &str = "ngapuhi: Ngāpuhi\nngati_porou: Ngāti Porou\ntuhoe: Ngāi Tūhoe\n";

/// `FILE:LINE:COL` of `token` on the first line of `text` containing `line_text`.
fn at(file: &str, text: &str, line_text: &str, token: &str) -> String {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains(line_text))
        .unwrap_or_else(|| panic!("no line containing {line_text:?}"));
    let column = line.find(token).unwrap_or_else(|| panic!("no {token:?}")) + 1;
    format!("{file}:{}:{column}", index + 1)
}

fn assert_error(run: &common::Run, location: &str, message: &str) {
    let line = format!("{location}: error: {message}");
    assert!(run.has(&line), "expected\n  {line}\ngot\n{}", run.out);
    assert_eq!(run.code, 1);
}

#[test]
fn the_shipped_tables_are_clean() {
    let run = Home::shipped().check();
    assert!(run.errors().is_empty(), "{}", run.out);
}

#[test]
fn a_row_missing_a_field_or_with_the_wrong_kind_of_value_is_located() {
    let home = Home::intake();
    let text = format!(
        "{ITEMS}\"04_104_0125_6_1\": {{ name: Community access, unit: H, gst: false }}\n\"07_002_0106_8_3\": {{ name: Coordination, unit: H, price: \"100\", gst: false, note: x }}\n"
    );
    home.write("rules/data/ndis_items.yaml", &text);
    let run = home.check();
    let file = "rules/data/ndis_items.yaml";
    assert_error(
        &run,
        &at(file, &text, "04_104", "\"04_104"),
        "row `04_104_0125_6_1` has no `price` (row `01_011_0107_1_1` has one; every row has the same fields)",
    );
    assert_error(
        &run,
        &at(file, &text, "07_002", "\"100\""),
        "`price` of row `07_002_0106_8_3` is text, but in row `01_011_0107_1_1` it is a number",
    );
    assert_error(
        &run,
        &at(file, &text, "07_002", "note"),
        "row `07_002_0106_8_3` has `note`, which row `01_011_0107_1_1` has not (every row has the same fields)",
    );
}

#[test]
fn malformed_tables_are_located() {
    let home = Home::intake();
    home.write(
        "rules/data/iwi.yaml",
        "ngapuhi: Ngāpuhi\ntuhoe: [unclosed\n",
    );
    home.write("rules/data/languages.json", "[\"en\", \"mi\"]\n");
    home.write(
        "rules/data/exit_reasons.yaml",
        "goals_met: Goals met\nmoved: { label: Moved }\ngoals_met: Again\n",
    );
    let run = home.check();
    let errors = run.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("rules/data/iwi.yaml:") && e.contains("invalid YAML/JSON")),
        "{}",
        run.out
    );
    assert_error(
        &run,
        "rules/data/languages.json:1:1",
        "a reference table is a mapping from each key to its row (text, or a mapping of fields)",
    );
    assert_error(
        &run,
        "rules/data/exit_reasons.yaml:2:8",
        "row `moved` is a mapping, but row `goals_met` is text: write every row the same way",
    );
    assert_error(
        &run,
        "rules/data/exit_reasons.yaml:3:1",
        "`goals_met` is defined twice (first at line 1)",
    );
}

#[test]
fn a_form_naming_an_unknown_option_list_is_located() {
    let home = Home::intake();
    home.write("rules/data/iwi.yaml", IWI);
    let schema = "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"outcome\": { \"enum\": [\"good\", \"bad\"] },\n    \"iwi\": { \"type\": \"array\", \"x-ui\": { \"options\": \"iwis\" } }\n  }\n}\n";
    home.write("schemas/finish.json", schema);
    let run = home.check();
    assert_error(
        &run,
        &at("schemas/finish.json", schema, "iwis", "\"options\""),
        "schema `finish`: no option list `iwis` in rules/data/ (tables: iwi)",
    );
}

#[test]
fn tables_named_in_rules_must_exist() {
    let home = Home::intake();
    home.write("rules/data/iwi.yaml", IWI);
    let yaml = INTAKE_YAML.replace(
        "    guard: intake::ok(form)",
        "    guard: 'intake::ok(form) && options(\"iwi\").len() > 0 && lookup(\"prices\", \"x\") == ()'",
    );
    home.write("workflows/intake.yaml", &yaml);
    let rules = format!(
        "{}\nfn price(code) {{\n    lookup(\"ndis_item\", code)\n}}\n",
        common::INTAKE_RULES
    );
    home.write("rules/intake.rhai", &rules);
    let run = home.check();
    assert_error(
        &run,
        &at("workflows/intake.yaml", &yaml, "guard:", "\"prices\""),
        "no reference table `prices` (expected rules/data/prices.yaml)",
    );
    assert_error(
        &run,
        &at("rules/intake.rhai", &rules, "lookup(", "\"ndis_item\""),
        "no reference table `ndis_item` (expected rules/data/ndis_item.yaml)",
    );
    assert_eq!(run.errors().len(), 2, "{}", run.out);
}

/// The intake workflow with `guard` and `set` replaced, the ITEMS and IWI tables, and a form
/// whose `iwi` field takes its options from the IWI table.
fn catalog(guard: &str, set: &str) -> Catalog {
    let yaml = INTAKE_YAML
        .replace(
            "    guard: intake::ok(form)",
            &format!("    guard: '{guard}'"),
        )
        .replace(
            "    set: { outcome: form.outcome }",
            &format!("    set: {set}"),
        );
    let form = r#"{
      "type": "object", "additionalProperties": false, "required": ["outcome"],
      "properties": {
        "outcome": { "enum": ["good", "bad"] },
        "item": { "type": "string" },
        "iwi": { "type": "array", "uniqueItems": true, "x-ui": { "label": "Iwi", "options": "iwi" } },
        "home_iwi": { "type": "string", "x-ui": { "options": "iwi", "enum_labels": { "tuhoe": "Tūhoe" } } }
      }
    }"#;
    let sources = Sources {
        workflows: vec![source("workflows/intake.yaml", "intake", &yaml)],
        rules: vec![source("rules/intake.rhai", "intake", common::INTAKE_RULES)],
        data: vec![
            source("rules/data/ndis_items.yaml", "ndis_items", ITEMS),
            source("rules/data/iwi.yaml", "iwi", IWI),
        ],
        schemas: vec![source("schemas/finish.json", "finish", form)],
        templates: BTreeSet::from(["nudge".to_owned()]),
        ..Sources::default()
    };
    clean_catalog(&sources)
}

fn finish(catalog: &Catalog, form: Value) -> Result<caseflow::engine::Outcome, Refusal> {
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({});
    let case = CaseView {
        state: "open",
        data: &data,
    };
    let worker = Actor::user("u-1", vec!["worker".to_owned()]);
    fire(definition, case, "finish", &form, &worker, now())
}

#[test]
fn rules_look_rows_up_and_list_options() {
    let catalog = catalog(
        r#"if lookup("ndis_items", form.item) == () { "unknown item" } else { true }"#,
        r#"{ price: 'lookup("ndis_items", form.item).price', gst: 'lookup("ndis_items", form.item).gst', iwi_keys: 'options("iwi")', label: 'label("iwi", "tuhoe")', missing: 'label("iwi", "nowhere")' }"#,
    );
    let moved = finish(
        &catalog,
        json!({"outcome": "good", "item": "01_799_0107_1_1"}),
    )
    .expect("moves");
    assert_eq!(moved.data["price"], json!(0.99));
    assert_eq!(moved.data["gst"], json!(true));
    assert_eq!(
        moved.data["iwi_keys"],
        json!(["ngapuhi", "ngati_porou", "tuhoe"]),
        "in the order of the file"
    );
    assert_eq!(moved.data["label"], json!("Ngāi Tūhoe"));
    assert_eq!(
        moved.data.get("missing"),
        None,
        "an unknown key gives (), which sets nothing"
    );
    let refused = finish(&catalog, json!({"outcome": "good", "item": "99"}));
    assert_eq!(
        refused,
        Err(Refusal::Guard(vec!["unknown item".to_owned()]))
    );
}

#[test]
fn an_unknown_table_is_a_rule_error_naming_it() {
    // Named by an expression, the table can only be missed when the rule runs.
    let catalog = catalog(r#"lookup("pri" + "ces", form.item) != ()"#, "{}");
    match finish(&catalog, json!({"outcome": "good", "item": "x"})) {
        Err(Refusal::Rule(message)) => {
            assert!(
                message.contains("no reference table `prices` in rules/data/"),
                "{message}"
            );
        }
        other => panic!("expected a rule error, got {other:?}"),
    }
}

#[test]
fn option_fields_take_the_tables_values_and_labels() {
    let catalog = catalog("true", "{ outcome: form.outcome }");
    let form = catalog.forms.get("finish").expect("form");
    let iwi = form.ui().get("/iwi").cloned().unwrap_or_default();
    assert_eq!(iwi.options.as_deref(), Some("iwi"));
    assert_eq!(
        iwi.enum_labels.get("ngati_porou").map(String::as_str),
        Some("Ngāti Porou")
    );
    let home = form.ui().get("/home_iwi").cloned().unwrap_or_default();
    assert_eq!(
        home.enum_labels.get("tuhoe").map(String::as_str),
        Some("Tūhoe"),
        "the form's own label wins over the table's"
    );
    assert_eq!(
        form.schema()["properties"]["iwi"]["items"]["enum"],
        json!(["ngapuhi", "ngati_porou", "tuhoe"])
    );
    assert_eq!(
        form.schema()["properties"]["home_iwi"]["enum"],
        json!(["ngapuhi", "ngati_porou", "tuhoe"])
    );
    assert!(
        finish(
            &catalog,
            json!({"outcome": "good", "iwi": ["tuhoe"], "home_iwi": "ngapuhi"})
        )
        .is_ok()
    );
    match finish(&catalog, json!({"outcome": "good", "iwi": ["Tūhoe"]})) {
        Err(Refusal::InvalidForm(errors)) => assert_eq!(errors[0].path, "/iwi/0"),
        other => panic!("expected the form refused, got {other:?}"),
    }
    let html = caseflow::web::render_form("Finish", "/finish", form.schema(), form.ui());
    // A list of options is a group of check boxes, one per table entry, labelled.
    assert!(
        html.contains("<input type=\"checkbox\" id=\"field-iwi-1\" name=\"iwi\" value=\"ngati_porou\"> <label for=\"field-iwi-1\">Ngāti Porou</label>"),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"ngati_porou\">Ngāti Porou</option>"),
        "{html}"
    );
}
