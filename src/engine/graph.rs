//! Checks on the shape of the state machine: every state reachable, every
//! non-terminal state with a way out.

use std::collections::{BTreeSet, VecDeque};

use indexmap::IndexMap;

use super::checker::Checker;
use super::definition::{State, Transition};
use crate::yaml_path;

pub(super) fn check(
    checker: &mut Checker<'_>,
    initial: &str,
    states: &IndexMap<String, State>,
    transitions: &IndexMap<String, Transition>,
) {
    if !states.contains_key(initial) {
        return; // already reported; reachability from nowhere would only add noise
    }
    let mut reached: BTreeSet<&str> = BTreeSet::from([initial]);
    let mut queue = VecDeque::from([initial]);
    while let Some(state) = queue.pop_front() {
        for transition in transitions.values() {
            if !transition.from.iter().any(|from| from == state) {
                continue;
            }
            for next in transition.to.states() {
                if states.contains_key(next) && reached.insert(next) {
                    queue.push_back(next);
                }
            }
        }
    }
    for (name, state) in states {
        let path = yaml_path!("states", name);
        if !checker.unknown_states && !reached.contains(name.as_str()) {
            checker.error_at_key(
                &path,
                format!(
                    "state `{name}` is unreachable: no transition leads to it from `{initial}`"
                ),
            );
        }
        let has_exit = transitions
            .values()
            .any(|transition| transition.from.iter().any(|from| from == name));
        if !state.terminal && !has_exit {
            checker.error_at_key(
                &path,
                format!("state `{name}` has no transition leaving it: mark it `terminal: true` or add one"),
            );
        }
    }
}
