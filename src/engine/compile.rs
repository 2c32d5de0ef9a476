//! A parsed workflow → a [`Definition`], checking every name, expression,
//! form and duration against the catalog and reporting each problem where
//! it was written.

use std::collections::BTreeSet;
use std::sync::Arc;

use indexmap::IndexMap;

use super::catalog::SourceFile;
use super::checker::Checker;
use super::definition::{
    Deadline, DeadlineAction, DeadlineWhen, Definition, Guard, Retention, Start, State, Target,
    Transition,
};
use super::diagnostics::Diagnostic;
use super::model::{OneOrMany, StateDoc, TargetDoc, TransitionDoc};
use super::parse::{ParsedWorkflow, closest};
use super::source_map::{Path, Seg};
use super::{graph, scenario_check};
use crate::forms::{Form, FormRegistry};
use crate::rules::{Rules, mentions_variable};
use crate::yaml_path;

pub struct Context<'a> {
    pub rules: &'a Arc<Rules>,
    pub forms: &'a FormRegistry,
    pub templates: &'a BTreeSet<String>,
    pub workflows: &'a BTreeSet<String>,
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
        links: doc.links.keys().cloned().collect(),
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
    let links = super::links::compile_links(&mut checker, &doc);
    for (index, path) in doc.unique.iter().enumerate() {
        let valid = path.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid {
            checker.error(
                &yaml_path!("unique", index),
                format!("`{path}` is not a case data path (write field or field.subfield)"),
            );
        }
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
        links,
        unique: doc.unique.clone(),
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
            (Some(notify), None) => Some(DeadlineAction::Notify(checker.notify(
                &sub("notify"),
                notify,
                None,
            ))),
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
            checker.notify(
                &yaml_path!("transitions", name, "notify", index),
                notify,
                form.as_deref(),
            )
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
    let fire_linked = super::links::compile_fire_linked(checker, name, doc, form.as_deref());
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
        fire_linked,
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
