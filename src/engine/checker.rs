//! The checker compiling one workflow: where problems are recorded with
//! their positions, and the checks shared by states, transitions and tests.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;

use super::Duration;
use super::compile::Context;
use super::definition::Notify;
use super::diagnostics::Diagnostic;
use super::model::{NotifyDoc, StateDoc};
use super::parse::closest;
use super::source_map::{Seg, SourceMap};
use crate::forms::Form;
use crate::rules::{Script, fields_read, form_fields_read, module_calls, tables_named};
use crate::yaml_path;

pub(super) struct Checker<'a> {
    pub file: &'a str,
    pub map: &'a SourceMap,
    pub context: &'a Context<'a>,
    pub imports: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    /// Names declared under `links`.
    pub links: BTreeSet<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// A `from` or `to` names no state: reachability would only echo that mistake.
    pub unknown_states: bool,
    /// The transition's form could not be found: what it reads cannot be checked.
    pub form_unknown: bool,
    /// A rules module it uses is broken (reported at the module): the workflow cannot run.
    pub blocked: bool,
}

impl Checker<'_> {
    pub fn error(&mut self, path: &[Seg], message: impl Into<String>) {
        let pos = self.map.value(path);
        self.diagnostics
            .push(Diagnostic::error(self.file, pos, message));
    }

    pub fn error_at_key(&mut self, path: &[Seg], message: impl Into<String>) {
        let pos = self.map.key(path);
        self.diagnostics
            .push(Diagnostic::error(self.file, pos, message));
    }

    pub fn warning(&mut self, path: &[Seg], message: impl Into<String>) {
        let pos = self.map.value(path);
        self.diagnostics
            .push(Diagnostic::warning(self.file, pos, message));
    }

    pub fn duration(&mut self, path: &[Seg], text: &str) -> Option<Duration> {
        text.parse()
            .map_err(|error: super::duration::DurationError| self.error(path, error.to_string()))
            .ok()
    }

    /// Compiles a snippet, checking the rules modules it calls and the form fields it reads.
    pub fn script(&mut self, path: &[Seg], source: &str, form: Option<&Form>) -> Option<Script> {
        let script = match self.context.rules.compile(source) {
            Ok(script) => script,
            Err(error) => {
                // "Script is incomplete" points past the end; show the end of the last line instead.
                let lines: Vec<&str> = source.trim_end().lines().collect();
                let (line, column) = match lines.last() {
                    Some(last) if error.line > lines.len() => {
                        (lines.len(), last.chars().count() + 1)
                    }
                    _ => (error.line, error.column),
                };
                let pos = self.map.script(path, line, column);
                self.diagnostics.push(Diagnostic::error(
                    self.file,
                    pos,
                    format!("Rhai syntax error: {}", error.message),
                ));
                return None;
            }
        };
        for (module, function) in module_calls(source) {
            if self.context.rules.is_broken(&module) {
                self.blocked = true;
            } else if !self.context.rules.has_module(&module) {
                self.error(
                    path,
                    format!("no rules module `{module}` (expected rules/{module}.rhai)"),
                );
            } else if !self.imports.contains(&module) {
                self.error(
                    path,
                    format!("`{module}::{function}` needs `{module}` in `imports`"),
                );
            } else if !self.context.rules.module_has_function(&module, &function) {
                self.error(
                    path,
                    format!("rules/{module}.rhai has no function `{function}`"),
                );
            }
        }
        for link in fields_read(source, "links") {
            if !self.links.contains(&link) {
                let declared: Vec<&str> = self.links.iter().map(String::as_str).collect();
                self.error(
                    path,
                    format!(
                        "reads `links.{link}` but `links` declares {}",
                        if declared.is_empty() {
                            "no link".to_owned()
                        } else {
                            declared.join(", ")
                        }
                    ),
                );
            }
        }
        for (table, line, column) in tables_named(source) {
            if !self.context.rules.knows_table(&table) {
                let pos = self.map.script(path, line, column);
                self.diagnostics.push(Diagnostic::error(
                    self.file,
                    pos,
                    format!("no reference table `{table}` (expected rules/data/{table}.yaml)"),
                ));
            }
        }
        let fields = if self.form_unknown {
            Vec::new()
        } else {
            form_fields_read(source)
        };
        for field in fields {
            match form {
                None => self.warning(
                    path,
                    format!("reads `form.{field}` but this transition has no form"),
                ),
                Some(form) if !form.properties().contains(&field) => self.warning(
                    path,
                    format!(
                        "reads `form.{field}` but form `{}` defines no field `{field}`",
                        form.name()
                    ),
                ),
                Some(_) => {}
            }
        }
        Some(script)
    }

    pub fn unknown_state(
        &mut self,
        path: &[Seg],
        state: &str,
        key: &str,
        states: &IndexMap<String, StateDoc>,
    ) {
        self.unknown_states = true;
        let hint = closest(state, states.keys().map(String::as_str))
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        self.error(path, format!("unknown state `{state}` in `{key}`{hint}"));
    }

    pub fn role(&mut self, path: &[Seg], role: &str) {
        if !self.roles.is_empty() && !self.roles.contains(role) {
            let declared: Vec<&str> = self.roles.iter().map(String::as_str).collect();
            self.error(
                path,
                format!(
                    "unknown role `{role}` (declared roles: {})",
                    declared.join(", ")
                ),
            );
        }
    }

    pub fn form(&mut self, path: &[Seg], name: &str) -> Option<Arc<Form>> {
        let form = self.context.forms.get(name).cloned();
        if form.is_none() {
            self.error(
                path,
                format!("no form schema `{name}` (expected schemas/{name}.json)"),
            );
        }
        form
    }

    pub fn notify(&mut self, path: &[Seg], doc: &NotifyDoc, form: Option<&Form>) -> Notify {
        for (index, role) in doc.roles.iter().enumerate() {
            let mut role_path = path.to_vec();
            role_path.extend(yaml_path!("roles", index));
            self.role(&role_path, role);
        }
        if doc.roles.is_empty() && doc.to.is_none() {
            self.error(
                path,
                "`notify` needs `roles`, `to`, or both: nobody would be told",
            );
        }
        let mut template_path = path.to_vec();
        template_path.push(Seg::Key("template".to_owned()));
        if !self.context.templates.contains(&doc.template) {
            self.error(
                &template_path,
                format!("no template `{}` in templates/", doc.template),
            );
        }
        let to = doc.to.as_ref().and_then(|to| {
            let mut to_path = path.to_vec();
            to_path.push(Seg::Key("to".to_owned()));
            self.script(&to_path, to, form)
        });
        let when = doc.when.as_ref().and_then(|when| {
            let mut when_path = path.to_vec();
            when_path.push(Seg::Key("when".to_owned()));
            self.script(&when_path, when, form)
        });
        Notify {
            roles: doc.roles.clone(),
            to,
            template: doc.template.clone(),
            when,
        }
    }
}
