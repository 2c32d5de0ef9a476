//! Everything loaded from a caseflow home: rules, forms, templates and the
//! workflows compiled against them, with every problem found on the way.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;

use super::compile::{Context, compile_definition};
use super::definition::Definition;
use super::diagnostics::{Diagnostic, Pos, sort_diagnostics};
use super::parse::{ParsedWorkflow, parse_workflow};
use crate::forms::FormRegistry;
use crate::rules::Rules;

/// One file's text and the name it goes by (the file stem).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// As shown in messages, e.g. `workflows/referral.yaml`.
    pub path: String,
    pub name: String,
    pub text: String,
}

/// Definition sources gathered by a loader. The engine reads nothing itself.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub workflows: Vec<SourceFile>,
    pub rules: Vec<SourceFile>,
    /// Reference tables, `rules/data/*.{yaml,yml,json}`.
    pub data: Vec<SourceFile>,
    pub schemas: Vec<SourceFile>,
    /// Template names (file names up to the first dot) found in `templates/`.
    pub templates: BTreeSet<String>,
    /// Problems met while gathering (unreadable files).
    pub problems: Vec<Diagnostic>,
    /// Ids of the home's other workflows, not loaded here, that the loaded ones may start,
    /// link to or expect to start (checking one file of a home still knows its neighbours).
    pub other_workflows: BTreeSet<String>,
}

pub struct Catalog {
    pub definitions: IndexMap<String, Arc<Definition>>,
    /// Workflow files left out because they, or something they use, have errors.
    pub rejected: Vec<String>,
    pub rules: Arc<Rules>,
    pub forms: Arc<FormRegistry>,
    pub templates: BTreeSet<String>,
}

impl Catalog {
    /// Compiles everything; a workflow with errors is left out and its errors returned.
    pub fn load(sources: &Sources) -> (Self, Vec<Diagnostic>) {
        let mut diagnostics = sources.problems.clone();
        let data = super::reference::load(&sources.data, &mut diagnostics);
        let option_lists = data.option_lists();

        let modules: Vec<(String, String)> = sources
            .rules
            .iter()
            .map(|file| (file.name.clone(), file.text.clone()))
            .collect();
        let (rules, failures) = Rules::new(&modules, data);
        for file in &sources.rules {
            for (table, line, column) in crate::rules::tables_named(&file.text) {
                if !rules.knows_table(&table) {
                    diagnostics.push(Diagnostic::error(
                        &file.path,
                        Pos::new(line, column),
                        format!("no reference table `{table}` (expected rules/data/{table}.yaml)"),
                    ));
                }
            }
        }
        for (name, error) in failures {
            let path = file_path(&sources.rules, &name);
            diagnostics.push(Diagnostic::error(
                &path,
                Pos::new(error.line, error.column),
                format!("rules module `{name}`: {}", error.message),
            ));
        }

        let schemas: Vec<(String, String)> = sources
            .schemas
            .iter()
            .map(|file| (file.name.clone(), file.text.clone()))
            .collect();
        let (forms, failures) = FormRegistry::compile_with_options(&schemas, &option_lists);
        for (name, error) in failures {
            let path = file_path(&sources.schemas, &name);
            diagnostics.push(Diagnostic::error(
                &path,
                Pos::new(error.line, error.column),
                format!("schema `{name}`: {}", error.message),
            ));
        }

        let mut parsed: Vec<(&SourceFile, ParsedWorkflow)> = Vec::new();
        for file in &sources.workflows {
            let (workflow, problems) = parse_workflow(&file.path, &file.text);
            diagnostics.extend(problems);
            if let Some(workflow) = workflow {
                parsed.push((file, workflow));
            }
        }
        let mut ids: IndexMap<String, &str> = IndexMap::new();
        for (file, workflow) in &parsed {
            let id = &workflow.doc.workflow;
            if let Some(first) = ids.get(id) {
                diagnostics.push(Diagnostic::error(
                    &file.path,
                    workflow.map.value(&crate::yaml_path!("workflow")),
                    format!("workflow `{id}` is already defined in {first}"),
                ));
            } else {
                ids.insert(id.clone(), &file.path);
            }
        }

        let rules = Arc::new(rules);
        let workflow_ids: BTreeSet<String> = ids
            .keys()
            .cloned()
            .chain(sources.other_workflows.iter().cloned())
            .collect();
        let context = Context {
            rules: &rules,
            forms: &forms,
            templates: &sources.templates,
            workflows: &workflow_ids,
        };
        let mut definitions = IndexMap::new();
        let mut rejected: Vec<String> = sources
            .workflows
            .iter()
            .filter(|file| {
                !parsed
                    .iter()
                    .any(|(parsed_file, _)| parsed_file.path == file.path)
            })
            .map(|file| file.path.clone())
            .collect();
        for (file, workflow) in parsed {
            let (definition, problems) = compile_definition(&context, file, workflow);
            let clean = !problems.iter().any(Diagnostic::is_error);
            diagnostics.extend(problems);
            match (clean, definition) {
                (true, Some(definition)) if !definitions.contains_key(&definition.id) => {
                    definitions.insert(definition.id.clone(), Arc::new(definition));
                }
                _ => rejected.push(file.path.clone()),
            }
        }
        sort_diagnostics(&mut diagnostics);
        let catalog = Self {
            definitions,
            rejected,
            rules,
            forms: Arc::new(forms),
            templates: sources.templates.clone(),
        };
        (catalog, diagnostics)
    }

    pub fn definition(&self, id: &str) -> Option<&Arc<Definition>> {
        self.definitions.get(id)
    }

    /// Compiles one more workflow against this catalog's rules and forms (for publishing).
    pub fn compile(&self, file: &str, text: &str) -> (Option<Definition>, Vec<Diagnostic>) {
        let (parsed, mut diagnostics) = parse_workflow(file, text);
        let Some(parsed) = parsed else {
            return (None, diagnostics);
        };
        let workflow_ids: BTreeSet<String> = self
            .definitions
            .keys()
            .cloned()
            .chain(std::iter::once(parsed.doc.workflow.clone()))
            .collect();
        let context = Context {
            rules: &self.rules,
            forms: &self.forms,
            templates: &self.templates,
            workflows: &workflow_ids,
        };
        let source = SourceFile {
            path: file.to_owned(),
            name: parsed.doc.workflow.clone(),
            text: text.to_owned(),
        };
        let (definition, problems) = compile_definition(&context, &source, parsed);
        diagnostics.extend(problems);
        sort_diagnostics(&mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return (None, diagnostics);
        }
        (definition, diagnostics)
    }
}

fn file_path(files: &[SourceFile], name: &str) -> String {
    files
        .iter()
        .find(|file| file.name == name)
        .map_or_else(|| name.to_owned(), |file| file.path.clone())
}
