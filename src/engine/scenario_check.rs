//! Checks on the `tests:` scenarios, so a typo in a test is reported like one
//! in the workflow rather than as a puzzling test failure.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::checker::Checker;
use super::definition::{State, Transition};
use super::model::WorkflowDoc;
use super::source_map::Seg;
use crate::yaml_path;

const REFUSALS: [&str; 6] = ["state", "role", "form", "guard", "terminal", "case"];

pub(super) fn check(
    checker: &mut Checker<'_>,
    doc: &WorkflowDoc,
    states: &IndexMap<String, State>,
    transitions: &IndexMap<String, Transition>,
) {
    let mut names = BTreeSet::new();
    for (index, scenario) in doc.tests.iter().enumerate() {
        let path = yaml_path!("tests", index);
        if !names.insert(scenario.name.as_str()) {
            checker.error(
                &yaml_path!("tests", index, "name"),
                format!("a test named `{}` already exists", scenario.name),
            );
        }
        if let Some(now) = &scenario.now
            && chrono::DateTime::parse_from_rfc3339(now).is_err()
        {
            checker.error(
                &yaml_path!("tests", index, "now"),
                format!("`{now}` is not a date-time (write it like 2025-01-01T09:00:00Z)"),
            );
        }
        if !scenario.data.is_null() && !scenario.data.is_object() {
            checker.error(
                &yaml_path!("tests", index, "data"),
                "`data` must be a mapping of case fields",
            );
        }
        for (step_index, step) in scenario.steps.iter().enumerate() {
            let step_path = yaml_path!("tests", index, "steps", step_index);
            let sub = |key: &str| {
                let mut sub = step_path.to_vec();
                sub.push(Seg::Key(key.to_owned()));
                sub
            };
            match (&step.fire, &step.advance) {
                (Some(fire), None) => {
                    if !transitions.contains_key(fire) {
                        checker.error(&sub("fire"), format!("unknown transition `{fire}`"));
                    }
                }
                (None, Some(advance)) => {
                    checker.duration(&sub("advance"), advance);
                    if step.as_roles.is_some() || step.form.is_some() || step.refused.is_some() {
                        checker.error(&step_path, "an `advance` step only moves the clock: `as`, `form` and `refused` belong to `fire` steps");
                    }
                }
                (Some(_), Some(_)) => {
                    checker.error(&step_path, "a step either `fire`s or `advance`s, not both")
                }
                (None, None) if step.expect.is_none() && step.expect_data.is_empty() => {
                    checker.error(&step_path, "a step needs `fire: TRANSITION`, `advance: DURATION`, or something to `expect`");
                }
                (None, None) => {}
            }
            for (role_index, role) in step.as_roles.iter().flatten().enumerate() {
                checker.role(
                    &yaml_path!("tests", index, "steps", step_index, "as", role_index),
                    role,
                );
            }
            if let Some(expect) = &step.expect
                && !states.contains_key(expect)
            {
                checker.error(&sub("expect"), format!("unknown state `{expect}`"));
            }
            if let Some(refused) = &step.refused
                && !REFUSALS.contains(&refused.as_str())
            {
                checker.error(
                    &sub("refused"),
                    format!(
                        "`refused` is one of {}, not `{refused}`",
                        REFUSALS.join(", ")
                    ),
                );
            }
            if step.reason.is_some() && step.refused.as_deref() != Some("guard") {
                checker.error(&sub("reason"), "`reason` goes with `refused: guard`");
            }
            for linked in &step.expect_linked {
                let declared = linked.split_once('.').is_some_and(|(link, transition)| {
                    checker.links.contains(link) && !transition.is_empty()
                });
                if !declared {
                    checker.error(
                        &sub("expect_linked"),
                        format!("`{linked}` is not LINK.TRANSITION with a link under `links`"),
                    );
                }
            }
            for workflow in &step.expect_start {
                if !checker.context.workflows.contains(workflow) {
                    checker.error(&sub("expect_start"), format!("no workflow `{workflow}`"));
                }
            }
        }
        if !scenario.links.is_null() {
            match scenario.links.as_object() {
                None => checker.error(
                    &yaml_path!("tests", index, "links"),
                    "`links` maps each link name to the linked case's data",
                ),
                Some(links) => {
                    let unknown: Vec<&String> = links
                        .keys()
                        .filter(|name| !checker.links.contains(*name))
                        .collect();
                    for name in unknown {
                        checker.error_at_key(
                            &yaml_path!("tests", index, "links", name),
                            format!("no link `{name}` under this workflow's `links`"),
                        );
                    }
                }
            }
        }
        if scenario.steps.is_empty() {
            checker.error(&path, "a test needs at least one step");
        }
    }
}
