//! Reads a caseflow home (`workflows/ rules/ schemas/ templates/`) from disk
//! into [`Sources`] for the engine, which does no I/O of its own.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::engine::{Diagnostic, Pos, SourceFile, Sources};

/// Where notification templates live inside `templates/`.
pub const NOTIFY_TEMPLATES: &str = "templates/notify";

/// Loads everything under `root`; `workflows` picks the workflow files, `None` for all of them.
pub fn load_sources(root: &Path, workflows: Option<&[PathBuf]>) -> Sources {
    let mut sources = Sources::default();
    let all_files = files_with(&root.join("workflows"), &["yaml", "yml"]);
    let workflow_files = match workflows {
        Some(files) => {
            sources.other_workflows = all_files
                .iter()
                .filter(|file| !files.iter().any(|chosen| same_file(chosen, file)))
                .filter_map(|file| workflow_id(file))
                .collect();
            files.to_vec()
        }
        None => all_files,
    };
    sources.workflows = read_all(&workflow_files, &mut sources.problems);
    sources.rules = read_all(
        &files_with(&root.join("rules"), &["rhai"]),
        &mut sources.problems,
    );
    sources.data = read_all(
        &files_with(&root.join("rules/data"), &["yaml", "yml", "json"]),
        &mut sources.problems,
    );
    let schemas: Vec<PathBuf> = files_with(&root.join("schemas"), &["json"])
        .into_iter()
        // `workflow.schema.json` describes the file format, not a form.
        .filter(|path| !stem(path).contains('.'))
        .collect();
    sources.schemas = read_all(&schemas, &mut sources.problems);
    sources.templates = template_names(&root.join(NOTIFY_TEMPLATES));
    sources
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A workflow file's id, read from its `workflow:` line without parsing the whole file.
fn workflow_id(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let id = text
        .lines()
        .find_map(|line| line.strip_prefix("workflow:"))?
        .split('#')
        .next()?
        .trim()
        .trim_matches(['"', '\''])
        .to_owned();
    (!id.is_empty()).then_some(id)
}

/// Files in `dir` (not below it) with one of `extensions`, sorted by name.
pub fn files_with(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| {
            path.extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| extensions.contains(&ext))
        })
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.rsplit_once('.').map(|(stem, _)| stem.to_owned()))
        .unwrap_or_default()
}

/// How a path is shown in messages: as the user would type it.
pub fn display(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

fn read_all(paths: &[PathBuf], problems: &mut Vec<Diagnostic>) -> Vec<SourceFile> {
    paths
        .iter()
        .filter_map(|path| match fs::read_to_string(path) {
            Ok(text) => Some(SourceFile {
                path: display(path),
                name: stem(path),
                text,
            }),
            Err(error) => {
                problems.push(Diagnostic::error(
                    &display(path),
                    Pos::START,
                    format!("cannot read: {error}"),
                ));
                None
            }
        })
        .collect()
}

fn template_names(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            Some(name.split('.').next()?.to_owned())
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Finds the home of a path given on the command line: a home itself (it has
/// `workflows/`), a `workflows/` folder, or a file inside one.
pub fn home_of(path: &Path) -> PathBuf {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    if dir.join("workflows").is_dir() && path.is_dir() {
        return dir;
    }
    if dir.file_name().is_some_and(|name| name == "workflows") {
        return dir.parent().map_or_else(
            || PathBuf::from("."),
            |parent| {
                if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                }
            },
        );
    }
    dir
}
