//! Reading the reference tables of `rules/data/` (YAML or JSON) with every
//! problem located, so a typo in a price list is reported like one in a
//! workflow rather than as a rule failing months later.
//!
//! A table is a mapping from each key (an option's value, an item code) to
//! its row. A row is either text (an option's label) or a mapping of fields;
//! in a table of mappings every row has the fields of the first row, each
//! with the same kind of value, so `lookup(...).price` never meets a row
//! without a price or with a price written as text.

use serde_json::Value;
use serde_saphyr::DuplicateKeyPolicy;

use super::catalog::SourceFile;
use super::diagnostics::{Diagnostic, Pos};
use super::source_map::{Seg, SourceMap};
use crate::rules::ReferenceData;

/// Reads and validates every data file into `data`; a file with errors is left out.
pub(super) fn load(files: &[SourceFile], diagnostics: &mut Vec<Diagnostic>) -> ReferenceData {
    let mut data = ReferenceData::default();
    let mut seen: Vec<&SourceFile> = Vec::new();
    for file in files {
        if let Some(first) = seen.iter().find(|other| other.name == file.name) {
            diagnostics.push(Diagnostic::error(
                &file.path,
                Pos::START,
                format!("table `{}` is already defined in {}", file.name, first.path),
            ));
            continue;
        }
        seen.push(file);
        data.declare(&file.name);
        let before = diagnostics.len();
        let Some(table) = read_table(file, diagnostics) else {
            continue;
        };
        if diagnostics[before..].iter().any(Diagnostic::is_error) {
            continue;
        }
        if let Err(message) = data.add_table(&file.name, &table) {
            diagnostics.push(Diagnostic::error(&file.path, Pos::START, message));
        }
    }
    data
}

fn read_table(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<Value> {
    let path = file.path.as_str();
    // JSON is YAML, so one parser serves both and keeps positions for both.
    let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::FirstWins };
    let value: Value = match serde_saphyr::from_str_with_options(&file.text, options) {
        Ok(value) => value,
        Err(error) => {
            let pos = error.location().map_or(Pos::START, |at| {
                Pos::new(at.line() as usize, at.column() as usize)
            });
            let text = error.to_string();
            let message = text.lines().next().unwrap_or("cannot be read");
            diagnostics.push(Diagnostic::error(
                path,
                pos,
                format!("invalid YAML/JSON: {message}"),
            ));
            return None;
        }
    };
    let map = SourceMap::build(&file.text);
    for duplicate in &map.duplicates {
        diagnostics.push(Diagnostic::error(
            path,
            duplicate.again,
            format!(
                "`{}` is defined twice (first at line {})",
                duplicate.key, duplicate.first.line
            ),
        ));
    }
    let Value::Object(rows) = &value else {
        diagnostics.push(Diagnostic::error(
            path,
            Pos::START,
            "a reference table is a mapping from each key to its row (text, or a mapping of fields)",
        ));
        return None;
    };
    if rows.is_empty() {
        diagnostics.push(Diagnostic::error(path, Pos::START, "the table has no rows"));
    }
    // The first row sets the table's shape: text rows, or mappings with its fields.
    let Some((first_key, first_row)) = rows.iter().next() else {
        return Some(value);
    };
    for (key, row) in rows {
        let at = [Seg::Key(key.clone())];
        if key.trim().is_empty() {
            diagnostics.push(Diagnostic::error(
                path,
                map.key(&at),
                "a key may not be empty",
            ));
        }
        match (first_row, row) {
            (Value::String(_), Value::String(_)) => {}
            (Value::Object(first_fields), Value::Object(fields)) => {
                check_row_fields(
                    path,
                    &map,
                    key,
                    fields,
                    first_key,
                    first_fields,
                    diagnostics,
                );
            }
            (Value::String(_) | Value::Object(_), Value::String(_) | Value::Object(_)) => {
                diagnostics.push(Diagnostic::error(
                    path,
                    map.value(&at),
                    format!(
                        "row `{key}` is {}, but row `{first_key}` is {}: write every row the same way",
                        kind(row),
                        kind(first_row)
                    ),
                ));
            }
            // A bad first row is reported once, at itself.
            (_, Value::String(_) | Value::Object(_)) => {}
            _ => diagnostics.push(Diagnostic::error(
                path,
                map.value(&at),
                format!(
                    "row `{key}` is {}: a row is text (its label) or a mapping of fields",
                    kind(row)
                ),
            )),
        }
    }
    Some(value)
}

fn check_row_fields(
    path: &str,
    map: &SourceMap,
    key: &str,
    fields: &serde_json::Map<String, Value>,
    first_key: &str,
    first_fields: &serde_json::Map<String, Value>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let at = [Seg::Key(key.to_owned())];
    for (field, expected) in first_fields {
        match fields.get(field) {
            None => diagnostics.push(Diagnostic::error(
                path,
                map.key(&at),
                format!("row `{key}` has no `{field}` (row `{first_key}` has one; every row has the same fields)"),
            )),
            Some(value) if !expected.is_null() && !value.is_null() && kind(value) != kind(expected) => {
                diagnostics.push(Diagnostic::error(
                    path,
                    map.value(&[Seg::Key(key.to_owned()), Seg::Key(field.clone())]),
                    format!(
                        "`{field}` of row `{key}` is {}, but in row `{first_key}` it is {}",
                        kind(value),
                        kind(expected)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    for field in fields
        .keys()
        .filter(|field| !first_fields.contains_key(*field))
    {
        diagnostics.push(Diagnostic::error(
            path,
            map.key(&[Seg::Key(key.to_owned()), Seg::Key(field.clone())]),
            format!("row `{key}` has `{field}`, which row `{first_key}` has not (every row has the same fields)"),
        ));
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
