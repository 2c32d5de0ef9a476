//! A parsed workflow → a [`Definition`], checking every name, expression,
//! form and duration against the catalog and reporting each problem where
//! it was written.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;

use super::Duration;
use super::catalog::SourceFile;
use super::definition::{
    Deadline, DeadlineAction, DeadlineWhen, Definition, Guard, Notify, Retention, Start, State,
    Target, Transition,
};
use super::diagnostics::Diagnostic;
use super::model::{NotifyDoc, OneOrMany, StateDoc, TargetDoc, TransitionDoc};
use super::parse::{ParsedWorkflow, closest};
use super::source_map::{Path, Seg, SourceMap};
use super::{graph, scenario_check};
use crate::forms::{Form, FormRegistry};
use crate::rules::{Rules, Script, form_fields_read, mentions_variable, module_calls};
use crate::yaml_path;

pub struct Context<'a> {
    pub rules: &'a Arc<Rules>,
    pub forms: &'a FormRegistry,
    pub templates: &'a BTreeSet<String>,
    pub workflows: &'a BTreeSet<String>,
}

pub(super) struct Checker<'a> {
    pub file: &'a str,
    pub map: &'a SourceMap,
    pub context: &'a Context<'a>,
    pub imports: BTreeSet<String>,
    pub roles: BTreeSet<String>,
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

    fn form(&mut self, path: &[Seg], name: &str) -> Option<Arc<Form>> {
        let form = self.context.forms.get(name).cloned();
        if form.is_none() {
            self.error(
                path,
                format!("no form schema `{name}` (expected schemas/{name}.json)"),
            );
        }
        form
    }

    fn notify(&mut self, path: &[Seg], doc: &NotifyDoc) -> Notify {
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
            self.script(&to_path, to, None)
        });
        Notify {
            roles: doc.roles.clone(),
            to,
            template: doc.template.clone(),
        }
    }
}

fn list_path(base: Path, list: &OneOrMany, index: usize) -> Path {
    match list {
        OneOrMany::One(_) => base,
        OneOrMany::Many(_) => {
            let mut path = base;
            path.push(Seg::Index(index));
            path
        }
    }
}

pub fn compile_definition(
    context: &Context<'_>,
    file: &SourceFile,
    parsed: ParsedWorkflow,
) -> (Option<Definition>, Vec<Diagnostic>) {
    let ParsedWorkflow { doc, map } = parsed;
    let mut checker = Checker {
        file: &file.path,
        map: &map,
        context,
        imports: doc.imports.iter().cloned().collect(),
        roles: doc.roles.iter().cloned().collect(),
        diagnostics: Vec::new(),
        unknown_states: false,
        form_unknown: false,
        blocked: false,
    };
    check_header(&mut checker, &doc);
    let case_schema = doc
        .case_schema
        .as_ref()
        .and_then(|name| checker.form(&yaml_path!("case_schema"), name));
    if !doc.states.contains_key(&doc.initial) {
        checker.unknown_state(&yaml_path!("initial"), &doc.initial, "initial", &doc.states);
    }
    let transitions: IndexMap<String, Transition> = doc
        .transitions
        .iter()
        .map(|(name, transition)| {
            (
                name.clone(),
                compile_transition(&mut checker, &doc.states, name, transition),
            )
        })
        .collect();
    let states: IndexMap<String, State> = doc
        .states
        .iter()
        .map(|(name, state)| {
            (
                name.clone(),
                compile_state(&mut checker, &transitions, name, state),
            )
        })
        .collect();
    graph::check(&mut checker, &doc.initial, &states, &transitions);
    scenario_check::check(&mut checker, &doc, &states, &transitions);

    let diagnostics = checker.diagnostics;
    if checker.blocked || diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let definition = Definition {
        id: doc.workflow.clone(),
        version: doc.version,
        title: doc.title.clone(),
        initial: doc.initial.clone(),
        source: file.text.clone(),
        case_schema,
        states,
        transitions,
        rules: context.rules.clone(),
        doc,
    };
    (Some(definition), diagnostics)
}

fn check_header(checker: &mut Checker<'_>, doc: &super::model::WorkflowDoc) {
    let id_ok = !doc.workflow.is_empty()
        && doc
            .workflow
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !id_ok {
        checker.error(
            &yaml_path!("workflow"),
            format!("workflow id `{}` may use only a-z, 0-9 and _", doc.workflow),
        );
    }
    if doc.version == 0 {
        checker.error(&yaml_path!("version"), "version starts at 1");
    }
    let mut seen = BTreeSet::new();
    for (index, module) in doc.imports.iter().enumerate() {
        let path = yaml_path!("imports", index);
        if !seen.insert(module) {
            checker.warning(&path, format!("`{module}` is imported twice"));
        } else if checker.context.rules.is_broken(module) {
            checker.blocked = true;
        } else if !checker.context.rules.has_module(module) {
            checker.error(
                &path,
                format!("no rules module `{module}` (expected rules/{module}.rhai)"),
            );
        }
    }
    if doc.states.is_empty() {
        checker.error(&yaml_path!("states"), "a workflow needs at least one state");
    }
}

fn compile_state(
    checker: &mut Checker<'_>,
    transitions: &IndexMap<String, Transition>,
    name: &String,
    doc: &StateDoc,
) -> State {
    let mut deadlines = Vec::new();
    for (index, deadline) in doc.deadlines.iter().enumerate() {
        let path = yaml_path!("states", name, "deadlines", index);
        let sub = |key: &str| {
            let mut sub = path.to_vec();
            sub.push(Seg::Key(key.to_owned()));
            sub
        };
        let when = match (&deadline.after, &deadline.at) {
            (Some(after), None) => {
                if deadline.before.is_some() {
                    checker.error(&sub("before"), "`before` goes with `at`, not with `after`");
                }
                checker
                    .duration(&sub("after"), after)
                    .map(DeadlineWhen::After)
            }
            (None, Some(at)) => {
                let date = checker.script(&sub("at"), at, None);
                let before = deadline
                    .before
                    .as_ref()
                    .and_then(|before| checker.duration(&sub("before"), before));
                date.map(|date| DeadlineWhen::At { date, before })
            }
            (Some(_), Some(_)) => {
                checker.error(&path, "a deadline has either `after` or `at`, not both");
                None
            }
            (None, None) => {
                checker.error(
                    &path,
                    "a deadline needs `after: DURATION` or `at: DATE_EXPRESSION`",
                );
                None
            }
        };
        let action = match (&deadline.notify, &deadline.fire) {
            (Some(notify), None) => Some(DeadlineAction::Notify(
                checker.notify(&sub("notify"), notify),
            )),
            (None, Some(fire)) => {
                match transitions.get(fire) {
                    None => {
                        let hint = closest(fire, transitions.keys().map(String::as_str))
                            .map(|near| format!(" (did you mean `{near}`?)"))
                            .unwrap_or_default();
                        checker.error(&sub("fire"), format!("unknown transition `{fire}`{hint}"));
                    }
                    Some(transition) if !transition.from.contains(name) => checker.error(
                        &sub("fire"),
                        format!("transition `{fire}` does not leave from `{name}`, so this deadline could never fire it"),
                    ),
                    Some(_) => {}
                }
                Some(DeadlineAction::Fire(fire.clone()))
            }
            (Some(_), Some(_)) => {
                checker.error(&path, "a deadline either `notify`s or `fire`s, not both");
                None
            }
            (None, None) => {
                checker.error(
                    &path,
                    "a deadline needs `notify: {...}` or `fire: TRANSITION`",
                );
                None
            }
        };
        if let (Some(when), Some(action)) = (when, action) {
            deadlines.push(Deadline { when, action });
        }
    }
    let retention = doc.retention.as_ref().and_then(|retention| {
        let path = yaml_path!("states", name, "retention");
        if !doc.terminal {
            checker.error(
                &path,
                format!("retention applies to closed cases: mark `{name}` `terminal: true`"),
            );
        }
        let mut after_path = path.to_vec();
        after_path.push(Seg::Key("after".to_owned()));
        checker
            .duration(&after_path, &retention.after)
            .map(|after| Retention {
                after,
                action: retention.action,
                fields: retention.fields.clone(),
            })
    });
    State {
        name: name.clone(),
        title: doc.title.clone().unwrap_or_else(|| name.replace('_', " ")),
        terminal: doc.terminal,
        deadlines,
        retention,
    }
}

fn compile_transition(
    checker: &mut Checker<'_>,
    states: &IndexMap<String, StateDoc>,
    name: &String,
    doc: &TransitionDoc,
) -> Transition {
    let base = yaml_path!("transitions", name);
    let sub = |key: &str| {
        let mut sub = base.to_vec();
        sub.push(Seg::Key(key.to_owned()));
        sub
    };
    let from = doc.from.to_vec();
    if from.is_empty() {
        checker.error(
            &sub("from"),
            format!("transition `{name}` leaves from no state"),
        );
    }
    for (index, state) in from.iter().enumerate() {
        let path = list_path(sub("from"), &doc.from, index);
        match states.get(state) {
            None => checker.unknown_state(&path, state, "from", states),
            Some(found) if found.terminal => checker.error(
                &path,
                format!(
                    "`{state}` is terminal and accepts no transition, yet `{name}` leaves from it"
                ),
            ),
            Some(_) => {}
        }
    }
    let form = doc
        .form
        .as_ref()
        .and_then(|form| checker.form(&sub("form"), form));
    checker.form_unknown = doc.form.is_some() && form.is_none();
    let to = compile_target(checker, states, &sub("to"), &doc.to, form.as_deref());
    if let Some(roles) = &doc.roles {
        if roles.is_empty() {
            checker.error(
                &sub("roles"),
                format!("no role may fire `{name}`: name a role, or drop `roles` to let any signed-in user fire it"),
            );
        }
        for (index, role) in roles.iter().enumerate() {
            checker.role(&yaml_path!("transitions", name, "roles", index), role);
        }
    }
    let guard = doc.guard.as_ref().and_then(|guard| {
        checker
            .script(&sub("guard"), guard, form.as_deref())
            .map(|script| Guard {
                reads_form: mentions_variable(guard, "form"),
                script,
            })
    });
    let mut set = Vec::new();
    for (field, expression) in &doc.set {
        let path = yaml_path!("transitions", name, "set", field);
        let valid_path = field.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid_path {
            checker.error_at_key(
                &path,
                format!("`{field}` is not a case data path (write field or field.subfield)"),
            );
        }
        if let Some(script) = checker.script(&path, expression, form.as_deref()) {
            set.push((field.clone(), script));
        }
    }
    let notify = doc
        .notify
        .iter()
        .enumerate()
        .map(|(index, notify)| {
            checker.notify(&yaml_path!("transitions", name, "notify", index), notify)
        })
        .collect();
    let start = doc
        .start
        .iter()
        .enumerate()
        .map(|(index, start)| {
            if !checker.context.workflows.contains(&start.workflow) {
                checker.error(
                    &yaml_path!("transitions", name, "start", index, "workflow"),
                    format!("no workflow `{}` to start", start.workflow),
                );
            }
            let data = start
                .data
                .iter()
                .filter_map(|(field, expression)| {
                    let path = yaml_path!("transitions", name, "start", index, "data", field);
                    checker
                        .script(&path, expression, form.as_deref())
                        .map(|script| (field.clone(), script))
                })
                .collect();
            Start {
                workflow: start.workflow.clone(),
                data,
            }
        })
        .collect();
    checker.form_unknown = false;
    Transition {
        name: name.clone(),
        title: doc.title.clone().unwrap_or_else(|| name.replace('_', " ")),
        from,
        to,
        roles: doc.roles.clone(),
        form,
        guard,
        set,
        notify,
        start,
    }
}

fn compile_target(
    checker: &mut Checker<'_>,
    states: &IndexMap<String, StateDoc>,
    path: &[Seg],
    doc: &TargetDoc,
    form: Option<&Form>,
) -> Target {
    let known = |checker: &mut Checker<'_>, path: &[Seg], state: &String| {
        if !states.contains_key(state) {
            checker.unknown_state(path, state, "to", states);
        }
    };
    match doc {
        TargetDoc::State(state) => {
            known(checker, path, state);
            Target::State(state.clone())
        }
        TargetDoc::Branches(list) => {
            let mut branches = Vec::new();
            let mut otherwise = None;
            for (index, branch) in list.iter().enumerate() {
                let mut branch_path = path.to_vec();
                branch_path.push(Seg::Index(index));
                let mut to_path = branch_path.clone();
                to_path.push(Seg::Key("to".to_owned()));
                known(checker, &to_path, &branch.to);
                let last = index + 1 == list.len();
                match (&branch.when, last) {
                    (Some(when), false) => {
                        let mut when_path = branch_path.clone();
                        when_path.push(Seg::Key("when".to_owned()));
                        if let Some(script) = checker.script(&when_path, when, form) {
                            branches.push((script, branch.to.clone()));
                        }
                    }
                    (None, true) => otherwise = Some(branch.to.clone()),
                    (None, false) => checker.error(
                        &branch_path,
                        "only the last branch may leave out `when` (later branches could never be taken)",
                    ),
                    (Some(_), true) => checker.error(
                        &branch_path,
                        "the last branch must be a plain `{ to: STATE }` so every case has somewhere to go",
                    ),
                }
            }
            Target::Branches {
                branches,
                otherwise: otherwise.unwrap_or_default(),
            }
        }
    }
}
