//! Deadlines: what happens when one falls due, when a case's deadlines fall
//! due (for inboxes), and scheduling them as a case enters a state.

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;

use super::definition::{DeadlineAction, DeadlineWhen, Definition};
use super::fire::{CaseView, fire_with_links, notify_effect};
use super::outcome::{Effect, Outcome, Refusal};
use crate::rules::{Actor, Bindings};

/// What became of a deadline that fell due.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadlineResult {
    /// The case has left the state since; nothing to do.
    Stale,
    Notify(Effect),
    Fired(Outcome),
}

/// The deadline `index` of `state` fell due at `now`; the system acts on it.
pub fn deadline_due(
    definition: &Definition,
    case: CaseView<'_>,
    state: &str,
    index: usize,
    now: DateTime<Utc>,
) -> Result<DeadlineResult, Refusal> {
    deadline_due_with_links(definition, case, &Value::Null, state, index, now)
}

/// As [`deadline_due`], with the linked cases' data (see [`fire_with_links`]).
pub fn deadline_due_with_links(
    definition: &Definition,
    case: CaseView<'_>,
    links: &Value,
    state: &str,
    index: usize,
    now: DateTime<Utc>,
) -> Result<DeadlineResult, Refusal> {
    let deadline = definition
        .states
        .get(state)
        .and_then(|s| s.deadlines.get(index));
    let Some(deadline) = deadline.filter(|_| case.state == state) else {
        return Ok(DeadlineResult::Stale);
    };
    let system = Actor::system();
    match &deadline.action {
        DeadlineAction::Fire(transition) => fire_with_links(
            definition,
            case,
            links,
            transition,
            &Value::Null,
            &system,
            now,
        )
        .map(DeadlineResult::Fired),
        DeadlineAction::Notify(notify) => {
            let mut bindings =
                Bindings::new(case.data, &Value::Null, &system, now).with_links(links);
            notify_effect(&definition.rules, notify, &mut bindings)
                .map(|effect| effect.map_or(DeadlineResult::Stale, DeadlineResult::Notify))
        }
    }
}

/// When the deadlines of the case's state fall due, had it entered the state
/// at `entered`: what an inbox shows as due dates. Deadlines whose date is
/// missing from the case are left out.
pub fn due_dates(
    definition: &Definition,
    case: CaseView<'_>,
    entered: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let system = Actor::system();
    let mut bindings = Bindings::new(case.data, &Value::Null, &system, entered);
    let mut scratch = Outcome {
        transition: None,
        from: None,
        to: case.state.to_owned(),
        data: Value::Null,
        changes: Vec::new(),
        effects: Vec::new(),
        warnings: Vec::new(),
    };
    schedule_deadlines(definition, case.state, &mut bindings, entered, &mut scratch);
    scratch
        .effects
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::ScheduleDeadline { due, .. } => Some(due),
            _ => None,
        })
        .collect()
}

pub(super) fn schedule_deadlines(
    definition: &Definition,
    state: &str,
    bindings: &mut Bindings,
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) {
    let Some(state_def) = definition.states.get(state) else {
        return;
    };
    for (index, deadline) in state_def.deadlines.iter().enumerate() {
        let due = match &deadline.when {
            DeadlineWhen::After(duration) => duration.add_to(now),
            DeadlineWhen::At { date, before } => {
                match definition
                    .rules
                    .eval(date, bindings)
                    .map(|value| value.to_string())
                {
                    Ok(text) => match crate::rules::parse_date(&text) {
                        Some(day) => {
                            let at = day.and_time(NaiveTime::MIN).and_utc();
                            before.map_or(Some(at), |before| before.subtract_from(at))
                        }
                        None => {
                            outcome.warnings.push(format!(
                                "deadline {index} of `{state}` not scheduled: `{}` gave `{text}`, not a date",
                                date.source()
                            ));
                            continue;
                        }
                    },
                    Err(error) => {
                        outcome.warnings.push(format!(
                            "deadline {index} of `{state}` not scheduled: {}",
                            error.message
                        ));
                        continue;
                    }
                }
            }
        };
        if let Some(due) = due {
            outcome.effects.push(Effect::ScheduleDeadline {
                state: state.to_owned(),
                index,
                due,
            });
        }
    }
}
