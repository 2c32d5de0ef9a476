//! The engine proper: opening a case, firing a transition, a deadline falling
//! due and listing what a user may do. Pure functions of (definition, case,
//! form, actor, clock); effects are returned, never performed.

use chrono::{DateTime, Utc};
use rhai::Dynamic;
use serde_json::Value;

use super::data_path;
use super::definition::{Definition, Notify, Target, Transition};
use super::outcome::{Availability, Change, Effect, Outcome, Refusal};
use crate::forms::{Changed, FieldError};
use crate::rules::{Actor, Bindings, RuleError, Rules, Script};

/// The case as the engine needs it.
#[derive(Debug, Clone, Copy)]
pub struct CaseView<'a> {
    pub state: &'a str,
    pub data: &'a Value,
}

/// Opens a case in the initial state: validates its data and schedules that state's deadlines.
pub fn start(
    definition: &Definition,
    data: Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    let data = if data.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        data
    };
    if !data.is_object() {
        return Err(Refusal::InvalidCase(vec![FieldError {
            path: String::new(),
            message: "case data must be an object of fields".to_owned(),
        }]));
    }
    check_case(definition, &data, None)?;
    let mut outcome = Outcome {
        transition: None,
        from: None,
        to: definition.initial.clone(),
        data: Value::Null,
        changes: Vec::new(),
        effects: Vec::new(),
        warnings: Vec::new(),
    };
    let mut bindings = Bindings::new(&data, &Value::Null, actor, now);
    super::deadlines::schedule_deadlines(
        definition,
        &definition.initial,
        &mut bindings,
        now,
        &mut outcome,
    );
    outcome.data = data;
    Ok(outcome)
}

/// Fires `transition` on `case` for `actor` at `now`.
pub fn fire(
    definition: &Definition,
    case: CaseView<'_>,
    transition: &str,
    form: &Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    fire_with_links(definition, case, &Value::Null, transition, form, actor, now)
}

/// As [`fire`], with the data of the case's linked cases (link name → data) for rules to read
/// as `links`. The caller loads them; the engine only reads them.
pub fn fire_with_links(
    definition: &Definition,
    case: CaseView<'_>,
    links: &Value,
    transition: &str,
    form: &Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    let bindings = Bindings::new(case.data, form, actor, now).with_links(links);
    fire_with_bindings(definition, case.state, bindings, transition)
}

/// As [`fire_with_links`], with the case's data, the form, the actor, the clock and the
/// links already in `bindings`. Made with [`Bindings::taking`], the case's data is handed
/// over, and the move's `set`s change it in place instead of copying the whole case first.
pub fn fire_with_bindings(
    definition: &Definition,
    state: &str,
    mut bindings: Bindings<'_>,
    transition: &str,
) -> Result<Outcome, Refusal> {
    let transition = definition
        .transitions
        .get(transition)
        .ok_or_else(|| Refusal::UnknownTransition(transition.to_owned()))?;
    let case = CaseView {
        state,
        data: bindings.case(),
    };
    check_may_fire(definition, case, transition, bindings.actor())?;
    check_form(transition, bindings.form())?;
    let now = bindings.now();
    let rules = &definition.rules;
    if let Some(guard) = &transition.guard {
        let verdict = rules
            .eval(&guard.script, &mut bindings)
            .map_err(rule_refusal)?;
        let reasons = guard_reasons(transition, &verdict).map_err(Refusal::Rule)?;
        if !reasons.is_empty() {
            return Err(Refusal::Guard(reasons));
        }
    }

    let mut changes = Vec::with_capacity(transition.set.len());
    let mut existing = Vec::with_capacity(transition.set.len());
    for (path, script) in &transition.set {
        let new = rules
            .eval_json(script, &mut bindings)
            .map_err(|error| set_failed(path, &error))?;
        let (old, objects) = bindings.put_case_field(path, new.clone());
        if old != new {
            existing.push(objects);
            changes.push(Change {
                path: path.clone(),
                old,
                new,
            });
        }
    }
    if !changes.is_empty() {
        let changed: Vec<Changed<'_>> = changes
            .iter()
            .zip(existing)
            .map(|(change, existing)| Changed {
                path: &change.path,
                existing,
                new: &change.new,
            })
            .collect();
        check_case(definition, bindings.case(), Some(&changed))?;
    }
    let to = target(rules, &transition.to, &mut bindings)?;

    let mut outcome = Outcome {
        transition: Some(transition.name.clone()),
        from: Some(state.to_owned()),
        to: to.clone(),
        data: Value::Null,
        changes,
        effects: Vec::new(),
        warnings: Vec::new(),
    };
    if to != state {
        outcome.effects.push(Effect::CancelDeadlines {
            state: state.to_owned(),
        });
        super::deadlines::schedule_deadlines(definition, &to, &mut bindings, now, &mut outcome);
    }
    for notify in &transition.notify {
        if let Some(effect) = notify_effect(rules, notify, &mut bindings)? {
            outcome.effects.push(effect);
        }
    }
    for start in &transition.start {
        let mut case_data = Value::Object(serde_json::Map::new());
        for (field, script) in &start.data {
            let value = rules.eval_json(script, &mut bindings).map_err(|error| {
                Refusal::Rule(format!(
                    "`start {}: {field}`: {}",
                    start.workflow, error.message
                ))
            })?;
            // As with `set`, `()` leaves the field out of the new case.
            if !value.is_null() {
                data_path::set(&mut case_data, field, value);
            }
        }
        outcome.effects.push(Effect::StartCase {
            workflow: start.workflow.clone(),
            data: case_data,
        });
    }
    for fire_linked in &transition.fire_linked {
        super::links::linked_effect(definition, fire_linked, &mut bindings, &mut outcome)?;
    }
    outcome.data = bindings.into_case();
    Ok(outcome)
}

/// Every transition leaving the case's state, with whether `actor` may fire it now and why not.
/// A guard that reads the form is judged only when the form is sent.
pub fn available(
    definition: &Definition,
    case: CaseView<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Vec<Availability> {
    available_with_links(definition, case, &Value::Null, actor, now)
}

/// As [`available`], with the linked cases' data (see [`fire_with_links`]).
pub fn available_with_links(
    definition: &Definition,
    case: CaseView<'_>,
    links: &Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Vec<Availability> {
    let mut bindings = Bindings::new(case.data, &Value::Null, actor, now).with_links(links);
    definition
        .transitions_from(case.state)
        .map(|transition| {
            let mut reasons = Vec::new();
            if let Err(refusal) = check_may_fire(definition, case, transition, actor) {
                reasons.push(refusal.to_string());
            } else if let Some(guard) = transition.guard.as_ref().filter(|guard| !guard.reads_form)
            {
                match definition.rules.eval(&guard.script, &mut bindings) {
                    Ok(verdict) => match guard_reasons(transition, &verdict) {
                        Ok(found) => reasons.extend(found),
                        Err(message) => reasons.push(message),
                    },
                    Err(error) => reasons.push(format!("a rule failed: {}", error.message)),
                }
            }
            Availability {
                name: transition.name.clone(),
                title: transition.title.clone(),
                allowed: reasons.is_empty(),
                reasons,
                form: transition.form.as_ref().map(|form| form.name().to_owned()),
            }
        })
        .collect()
}

fn check_may_fire(
    definition: &Definition,
    case: CaseView<'_>,
    transition: &Transition,
    actor: &Actor,
) -> Result<(), Refusal> {
    if definition
        .states
        .get(case.state)
        .is_some_and(|state| state.terminal)
    {
        return Err(Refusal::Terminal {
            state: case.state.to_owned(),
        });
    }
    if !transition.from.iter().any(|from| from == case.state) {
        return Err(Refusal::WrongState {
            transition: transition.name.clone(),
            state: case.state.to_owned(),
            from: transition.from.clone(),
        });
    }
    if let Some(required) = &transition.roles
        && !actor.system
        && !required.iter().any(|role| actor.roles.contains(role))
    {
        return Err(Refusal::Forbidden {
            transition: transition.name.clone(),
            required: required.clone(),
        });
    }
    Ok(())
}

fn check_form(transition: &Transition, form: &Value) -> Result<(), Refusal> {
    match &transition.form {
        Some(schema) => {
            let errors = schema.validate(form);
            if errors.is_empty() {
                Ok(())
            } else {
                Err(Refusal::InvalidForm(errors))
            }
        }
        None if form.is_null() || form.as_object().is_some_and(serde_json::Map::is_empty) => Ok(()),
        None => Err(Refusal::InvalidForm(vec![FieldError {
            path: String::new(),
            message: format!("“{}” takes no form", transition.title),
        }])),
    }
}

/// The case against its schema; with `changed`, a case that was valid before those changes,
/// checked where they are.
fn check_case(
    definition: &Definition,
    data: &Value,
    changed: Option<&[Changed<'_>]>,
) -> Result<(), Refusal> {
    let Some(schema) = &definition.case_schema else {
        return Ok(());
    };
    let errors = match changed {
        Some(changed) => schema.validate_changed(data, changed),
        None => schema.validate(data),
    };
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refusal::InvalidCase(errors))
    }
}

fn set_failed(path: &str, error: &RuleError) -> Refusal {
    Refusal::Rule(format!("`set: {path}`: {}", error.message))
}

fn rule_refusal(error: RuleError) -> Refusal {
    Refusal::Rule(error.message)
}

/// `true` or an empty reason allows; `false` or reasons refuse; anything else is a broken guard.
fn guard_reasons(transition: &Transition, verdict: &Dynamic) -> Result<Vec<String>, String> {
    if let Ok(allowed) = verdict.as_bool() {
        return Ok(if allowed {
            Vec::new()
        } else {
            vec![format!(
                "the conditions for “{}” are not met",
                transition.title
            )]
        });
    }
    if verdict.is_string() {
        let reason = verdict.to_string();
        return Ok(if reason.trim().is_empty() {
            Vec::new()
        } else {
            vec![reason]
        });
    }
    if verdict.is_array() {
        let reasons: Vec<String> = verdict
            .clone()
            .into_array()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .filter(|reason| !reason.trim().is_empty())
            .collect();
        return Ok(reasons);
    }
    Err(format!(
        "the guard of `{}` gave {} ({verdict}); a guard gives true, false, or a reason",
        transition.name,
        verdict.type_name()
    ))
}

fn target(rules: &Rules, target: &Target, bindings: &mut Bindings) -> Result<String, Refusal> {
    match target {
        Target::State(state) => Ok(state.clone()),
        Target::Branches {
            branches,
            otherwise,
        } => {
            for (when, state) in branches {
                let taken = rules.eval(when, bindings).map_err(rule_refusal)?;
                match taken.as_bool() {
                    Ok(true) => return Ok(state.clone()),
                    Ok(false) => {}
                    Err(kind) => {
                        return Err(Refusal::Rule(format!(
                            "`when: {}` gave {kind}, not true or false",
                            when.source()
                        )));
                    }
                }
            }
            Ok(otherwise.clone())
        }
    }
}

/// The notification, or `None` when its `when` is false.
pub(super) fn notify_effect(
    rules: &Rules,
    notify: &Notify,
    bindings: &mut Bindings,
) -> Result<Option<Effect>, Refusal> {
    if let Some(when) = &notify.when {
        let taken = rules.eval(when, bindings).map_err(rule_refusal)?;
        match taken.as_bool() {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(kind) => {
                return Err(Refusal::Rule(format!(
                    "notify `when: {}` gave {kind}, not true or false",
                    when.source()
                )));
            }
        }
    }
    let to = match &notify.to {
        Some(script) => addresses(rules, script, bindings)?,
        None => Vec::new(),
    };
    Ok(Some(Effect::Notify {
        template: notify.template.clone(),
        roles: notify.roles.clone(),
        to,
    }))
}

fn addresses(
    rules: &Rules,
    script: &Script,
    bindings: &mut Bindings,
) -> Result<Vec<String>, Refusal> {
    let value = rules.eval(script, bindings).map_err(rule_refusal)?;
    if value.is_unit() {
        return Ok(Vec::new());
    }
    if value.is_array() {
        return Ok(value
            .into_array()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect());
    }
    Ok(vec![value.to_string()])
}
