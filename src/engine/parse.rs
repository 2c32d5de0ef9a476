//! YAML text → [`WorkflowDoc`], with every problem located.
//!
//! Three passes: serde-saphyr reads the YAML into a JSON value (syntax errors,
//! with their position); a [`SourceMap`] indexes every node's position; the
//! value is deserialised into the model collecting *every* unknown key
//! (`serde_ignored`) and locating the first type error (`serde_path_to_error`).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_saphyr::{DuplicateKeyPolicy, SnippetMode, render_options};

use super::diagnostics::{Diagnostic, Pos};
use super::model::WorkflowDoc;
use super::source_map::{Path, Seg, SourceMap};

pub struct ParsedWorkflow {
    pub doc: WorkflowDoc,
    pub map: SourceMap,
}

/// Parses one workflow file; `None` when it could not be read into the model at all.
pub fn parse_workflow(file: &str, text: &str) -> (Option<ParsedWorkflow>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    // Duplicates are reported by the source map, with both positions.
    let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::FirstWins };
    let value: serde_json::Value = match serde_saphyr::from_str_with_options(text, options) {
        Ok(value) => value,
        Err(error) => {
            diagnostics.push(yaml_error(file, &error));
            return (None, diagnostics);
        }
    };
    let map = SourceMap::build(text);
    for duplicate in &map.duplicates {
        diagnostics.push(Diagnostic::error(
            file,
            duplicate.again,
            format!(
                "`{}` is defined twice (first at line {})",
                duplicate.key, duplicate.first.line
            ),
        ));
    }
    if !value.is_object() {
        diagnostics.push(Diagnostic::error(
            file,
            Pos::START,
            "a workflow file must be a mapping with `workflow`, `version`, `title`, `initial`, `states` and `transitions`",
        ));
        return (None, diagnostics);
    }

    let mut unknown: Vec<Path> = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
    let ignored = serde_ignored::Deserializer::new(&value, &mut record);
    let result: Result<WorkflowDoc, _> = serde_path_to_error::deserialize(ignored);
    for path in unknown {
        let name = match path.last() {
            Some(Seg::Key(name)) => name.clone(),
            _ => continue,
        };
        let mut message = format!("unknown key `{name}`");
        if let Some(suggestion) = suggest(&name) {
            message.push_str(&format!(" (did you mean `{suggestion}`?)"));
        }
        diagnostics.push(Diagnostic::error(file, map.key(&path), message));
    }
    match result {
        Ok(doc) => (Some(ParsedWorkflow { doc, map }), diagnostics),
        Err(error) => {
            let path: Path = error
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    _ => None,
                })
                .collect();
            let message = shape_message(&path, &error.into_inner().to_string());
            diagnostics.push(Diagnostic::error(file, map.value(&path), message));
            (None, diagnostics)
        }
    }
}

fn yaml_error(file: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let pos = error.location().map_or(Pos::START, |at| {
        Pos::new(at.line() as usize, at.column() as usize)
    });
    let rendered = error.render_with_options(render_options! { snippets: SnippetMode::Off });
    let message = rendered
        .rsplit_once(" at line ")
        .map_or(rendered.as_str(), |(head, _)| head)
        .trim();
    Diagnostic::error(file, pos, format!("invalid YAML: {message}"))
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> Path {
    let mut segments = Vec::new();
    let mut current = path;
    loop {
        current = match current {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                segments.push(Seg::Index(*index));
                parent
            }
            serde_ignored::Path::Map { parent, key } => {
                segments.push(Seg::Key(key.clone()));
                parent
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => parent,
        };
    }
    segments.reverse();
    segments
}

/// serde's messages for our untagged shapes name Rust types; say what to write instead.
fn shape_message(path: &[Seg], serde_message: &str) -> String {
    let field = path.iter().rev().find_map(|seg| match seg {
        Seg::Key(key) => Some(key.as_str()),
        Seg::Index(_) => None,
    });
    if serde_message.contains("untagged enum TargetDoc") {
        return "`to` must be a state name or a list of `{ when: EXPR, to: STATE }` branches"
            .to_owned();
    }
    if serde_message.contains("untagged enum OneOrMany") {
        return format!(
            "`{}` must be a state name or a list of state names",
            field.unwrap_or("from")
        );
    }
    let message = serde_message
        .replace("u32", "a whole number")
        .replace("a string", "text")
        .replace("struct WorkflowDoc", "a workflow mapping")
        .replace("struct StateDoc", "a state mapping")
        .replace("struct TransitionDoc", "a transition mapping")
        .replace("struct DeadlineDoc", "a deadline mapping")
        .replace("struct NotifyDoc", "a notify mapping")
        .replace("struct ScenarioDoc", "a test scenario mapping")
        .replace("struct StepDoc", "a test step mapping")
        .replace("struct RetentionDoc", "a retention mapping");
    match field {
        Some(field) if message.starts_with("missing field") => {
            format!("{message} in `{field}`")
        }
        Some(field) => format!("`{field}`: {message}"),
        None => message,
    }
}

/// Every key the format knows, taken from its JSON Schema so the two never drift.
fn known_keys() -> &'static BTreeSet<String> {
    static KEYS: OnceLock<BTreeSet<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(WorkflowDoc)).unwrap_or_default();
        let mut keys = BTreeSet::new();
        collect_properties(&schema, &mut keys);
        keys
    })
}

fn collect_properties(value: &serde_json::Value, keys: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::Object(properties)) = object.get("properties") {
                keys.extend(properties.keys().cloned());
            }
            object
                .values()
                .for_each(|child| collect_properties(child, keys));
        }
        serde_json::Value::Array(items) => {
            items
                .iter()
                .for_each(|child| collect_properties(child, keys));
        }
        _ => {}
    }
}

fn suggest(unknown: &str) -> Option<&'static str> {
    closest(unknown, known_keys().iter().map(String::as_str))
}

/// The candidate within two edits of `unknown`, for "did you mean" hints.
pub(super) fn closest<'a>(
    unknown: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|known| (edit_distance(unknown, known), known))
        .filter(|(distance, known)| *distance <= 2 && *distance < known.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Optimal string alignment distance, so a swapped pair (`gaurd`) counts as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}
