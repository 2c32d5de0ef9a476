//! Runs the `tests:` scenarios of a definition with a fake clock: no
//! database, no waiting, deadlines fall due as the clock is advanced.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::deadlines::{DeadlineResult, deadline_due_with_links};
use super::definition::Definition;
use super::fire::{CaseView, fire_with_links, start};
use super::model::{ScenarioDoc, StepDoc};
use super::outcome::{Effect, Refusal};
use super::{Duration, data_path};
use crate::rules::Actor;

/// When a scenario gives no `now`.
pub const DEFAULT_NOW: &str = "2025-01-01T09:00:00Z";

/// Deadlines firing deadlines could go on for ever; a scenario stops here.
const MAX_DEADLINES_PER_ADVANCE: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioReport {
    pub workflow: String,
    pub name: String,
    /// `None` when it passed.
    pub failure: Option<String>,
}

struct Pending {
    due: DateTime<Utc>,
    state: String,
    index: usize,
}

struct Run<'a> {
    definition: &'a Definition,
    now: DateTime<Utc>,
    state: String,
    data: Value,
    pending: Vec<Pending>,
    notified: Vec<String>,
    started: Vec<String>,
    /// `LINK.TRANSITION` for each `fire_linked` effect of the step.
    linked: Vec<String>,
    /// The scenario's stand-ins for the linked cases' data.
    links: Value,
}

pub fn run_scenarios(definition: &Definition) -> Vec<ScenarioReport> {
    definition
        .doc
        .tests
        .iter()
        .map(|scenario| ScenarioReport {
            workflow: definition.id.clone(),
            name: scenario.name.clone(),
            failure: run_scenario(definition, scenario).err(),
        })
        .collect()
}

fn run_scenario(definition: &Definition, scenario: &ScenarioDoc) -> Result<(), String> {
    let now_text = scenario.now.as_deref().unwrap_or(DEFAULT_NOW);
    let now = DateTime::parse_from_rfc3339(now_text)
        .map_err(|error| format!("`now: {now_text}`: {error}"))?
        .with_timezone(&Utc);
    let opened = start(definition, scenario.data.clone(), &Actor::system(), now)
        .map_err(|refusal| format!("the case could not be opened: {}", explain(&refusal)))?;
    let mut run = Run {
        definition,
        now,
        state: opened.to.clone(),
        data: opened.data.clone(),
        pending: Vec::new(),
        notified: Vec::new(),
        started: Vec::new(),
        linked: Vec::new(),
        links: scenario.links.clone(),
    };
    run.apply(&opened.effects);
    for (index, step) in scenario.steps.iter().enumerate() {
        run.notified.clear();
        run.started.clear();
        run.linked.clear();
        run.step(step)
            .and_then(|()| run.check(step))
            .map_err(|message| {
                format!("step {} ({}): {message}", index + 1, describe_step(step))
            })?;
    }
    Ok(())
}

fn describe_step(step: &StepDoc) -> String {
    match (&step.fire, &step.advance) {
        (Some(fire), _) => format!("fire {fire}"),
        (None, Some(advance)) => format!("advance {advance}"),
        (None, None) => "expect".to_owned(),
    }
}

impl Run<'_> {
    fn apply(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Notify { template, .. } => self.notified.push(template.clone()),
                Effect::ScheduleDeadline { state, index, due } => self.pending.push(Pending {
                    due: *due,
                    state: state.clone(),
                    index: *index,
                }),
                Effect::CancelDeadlines { state } => self.pending.retain(|p| &p.state != state),
                Effect::StartCase { workflow, .. } => self.started.push(workflow.clone()),
                Effect::FireLinked {
                    link, transition, ..
                } => self.linked.push(format!("{link}.{transition}")),
            }
        }
    }

    fn step(&mut self, step: &StepDoc) -> Result<(), String> {
        if let Some(transition) = &step.fire {
            return self.fire(step, transition);
        }
        if let Some(advance) = &step.advance {
            let duration: Duration = advance
                .parse()
                .map_err(|e: super::DurationError| e.to_string())?;
            let until = duration
                .add_to(self.now)
                .ok_or("the clock ran out of range")?;
            return self.advance(until);
        }
        Ok(())
    }

    fn fire(&mut self, step: &StepDoc, transition: &str) -> Result<(), String> {
        let actor = match &step.as_roles {
            Some(roles) => {
                let id = step.actor.clone().unwrap_or_else(|| {
                    format!("user-{}", roles.first().map_or("staff", String::as_str))
                });
                Actor::user(id, roles.clone())
            }
            None => Actor::system(),
        };
        let form = step.form.clone().unwrap_or(Value::Null);
        let case = CaseView {
            state: &self.state,
            data: &self.data,
        };
        match (
            fire_with_links(
                self.definition,
                case,
                &self.links,
                transition,
                &form,
                &actor,
                self.now,
            ),
            &step.refused,
        ) {
            (Ok(outcome), None) => {
                self.state = outcome.to.clone();
                self.data = outcome.data;
                self.apply(&outcome.effects);
                Ok(())
            }
            (Ok(outcome), Some(expected)) => Err(format!(
                "expected it to be refused ({expected}), but the case moved to `{}`",
                outcome.to
            )),
            (Err(refusal), None) => Err(format!("refused: {}", explain(&refusal))),
            (Err(refusal), Some(expected)) => {
                if refusal_kind(&refusal) != expected {
                    return Err(format!(
                        "expected a `{expected}` refusal, got: {}",
                        explain(&refusal)
                    ));
                }
                match (&step.reason, &refusal) {
                    (Some(wanted), Refusal::Guard(reasons))
                        if !reasons
                            .iter()
                            .any(|reason| reason.contains(wanted.as_str())) =>
                    {
                        Err(format!(
                            "expected a reason containing “{wanted}”, got {reasons:?}"
                        ))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    fn advance(&mut self, until: DateTime<Utc>) -> Result<(), String> {
        for _ in 0..MAX_DEADLINES_PER_ADVANCE {
            let next = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, pending)| pending.due <= until)
                .min_by_key(|(_, pending)| pending.due)
                .map(|(position, _)| position);
            let Some(position) = next else {
                self.now = until;
                return Ok(());
            };
            let due = self.pending.remove(position);
            self.now = self.now.max(due.due);
            let case = CaseView {
                state: &self.state,
                data: &self.data,
            };
            let result = deadline_due_with_links(
                self.definition,
                case,
                &self.links,
                &due.state,
                due.index,
                self.now,
            )
            .map_err(|refusal| {
                format!(
                    "deadline {} of `{}` failed: {}",
                    due.index,
                    due.state,
                    explain(&refusal)
                )
            })?;
            match result {
                DeadlineResult::Stale => {}
                DeadlineResult::Notify(effect) => self.apply(&[effect]),
                DeadlineResult::Fired(outcome) => {
                    self.state = outcome.to.clone();
                    self.data = outcome.data;
                    self.apply(&outcome.effects);
                }
            }
        }
        Err(format!(
            "more than {MAX_DEADLINES_PER_ADVANCE} deadlines fell due: do deadlines keep re-arming each other?"
        ))
    }

    fn check(&self, step: &StepDoc) -> Result<(), String> {
        if let Some(expected) = &step.expect
            && expected != &self.state
        {
            return Err(format!(
                "expected state `{expected}`, the case is in `{}`",
                self.state
            ));
        }
        for (path, expected) in &step.expect_data {
            let actual = data_path::get(&self.data, path).unwrap_or(&Value::Null);
            if actual != expected {
                return Err(format!("expected `{path}` = {expected}, it is {actual}"));
            }
        }
        for template in &step.expect_notify {
            if !self.notified.contains(template) {
                return Err(format!(
                    "expected a `{template}` notification, got {:?}",
                    self.notified
                ));
            }
        }
        for linked in &step.expect_linked {
            if !self.linked.contains(linked) {
                return Err(format!(
                    "expected `{linked}` to be fired on a linked case, got {:?}",
                    self.linked
                ));
            }
        }
        for workflow in &step.expect_start {
            if !self.started.contains(workflow) {
                return Err(format!(
                    "expected a `{workflow}` case to start, got {:?}",
                    self.started
                ));
            }
        }
        Ok(())
    }
}

fn refusal_kind(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::WrongState { .. } | Refusal::UnknownTransition(_) => "state",
        Refusal::Forbidden { .. } => "role",
        Refusal::InvalidForm(_) => "form",
        Refusal::Guard(_) => "guard",
        Refusal::Terminal { .. } => "terminal",
        Refusal::InvalidCase(_) => "case",
        // A broken rule is never an expected outcome.
        Refusal::Rule(_) => "rule",
    }
}

/// A refusal with its field errors spelt out.
fn explain(refusal: &Refusal) -> String {
    match refusal {
        Refusal::InvalidForm(errors) | Refusal::InvalidCase(errors) => {
            let fields: Vec<String> = errors
                .iter()
                .map(|error| {
                    format!(
                        "{} {}",
                        if error.path.is_empty() {
                            "/"
                        } else {
                            &error.path
                        },
                        error.message
                    )
                })
                .collect();
            format!("{refusal}: {}", fields.join("; "))
        }
        other => other.to_string(),
    }
}
