//! The pure engine: opening, firing, refusing, deadlines and availability,
//! with sources held in memory (no files, no database, a fixed clock).

mod common;

use common::sources::{clean_catalog, fixed_now as now, source};

use std::collections::BTreeSet;

use caseflow::engine::{
    CaseView, Catalog, DeadlineResult, Definition, Effect, Outcome, Refusal, Sources, available,
    deadline_due, fire, fire_with_bindings, start,
};
use caseflow::rules::{Actor, Bindings};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

fn catalog(yaml: &str) -> Catalog {
    let sources = Sources {
        workflows: vec![source("workflows/intake.yaml", "intake", yaml)],
        rules: vec![source("rules/intake.rhai", "intake", common::INTAKE_RULES)],
        schemas: vec![source(
            "schemas/finish.json",
            "finish",
            common::FINISH_SCHEMA,
        )],
        templates: BTreeSet::from(["nudge".to_owned()]),
        ..Sources::default()
    };
    clean_catalog(&sources)
}

fn worker() -> Actor {
    Actor::user("u-1", vec!["worker".to_owned()])
}

#[test]
fn opening_a_case_schedules_the_initial_deadlines() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let outcome = start(definition, json!({"client": "Aroha"}), &worker(), now()).expect("opens");
    assert_eq!(outcome.to, "open");
    assert_eq!(
        outcome.effects,
        vec![Effect::ScheduleDeadline {
            state: "open".to_owned(),
            index: 0,
            due: now() + TimeDelta::days(3)
        }]
    );
}

/// The worker finishes an open intake case with a good outcome.
fn finish_good(definition: &Definition, data: &Value) -> Outcome {
    let case = CaseView {
        state: "open",
        data,
    };
    fire(
        definition,
        case,
        "finish",
        &json!({"outcome": "good"}),
        &worker(),
        now(),
    )
    .expect("moves")
}

#[test]
fn firing_returns_the_move_its_changes_and_effects() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({"client": "Aroha"});
    let outcome = finish_good(definition, &data);
    assert_eq!(outcome.from.as_deref(), Some("open"));
    assert_eq!(outcome.to, "done");
    assert_eq!(outcome.data, json!({"client": "Aroha", "outcome": "good"}));
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].path, "outcome");
    assert_eq!(outcome.changes[0].old, Value::Null);
    assert_eq!(outcome.changes[0].new, json!("good"));
    assert_eq!(
        outcome.effects,
        vec![Effect::CancelDeadlines {
            state: "open".to_owned()
        }]
    );
    assert_eq!(
        data,
        json!({"client": "Aroha"}),
        "the input case is never modified"
    );
}

#[test]
fn a_case_handed_over_moves_as_a_borrowed_one_does() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let lead = Actor::user("u-2", vec!["lead".to_owned()]);
    let data = json!({"client": "Aroha", "outcome": "good", "notes": ["a"]});
    for state in ["open", "done"] {
        for form in [
            json!({"outcome": "good"}),
            json!({"outcome": "bad"}),
            json!({"outcome": "great"}),
        ] {
            for actor in [worker(), lead.clone()] {
                let borrowed = fire(
                    definition,
                    CaseView { state, data: &data },
                    "finish",
                    &form,
                    &actor,
                    now(),
                );
                let bindings = Bindings::taking(data.clone(), &form, &actor, now());
                let taken = fire_with_bindings(definition, state, bindings, "finish");
                assert_eq!(taken, borrowed, "{state} {form} {actor:?}");
            }
        }
    }
}

#[test]
fn every_kind_of_refusal() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({});
    let open = CaseView {
        state: "open",
        data: &data,
    };
    let done = CaseView {
        state: "done",
        data: &data,
    };
    let good = json!({"outcome": "good"});

    let refusal = fire(definition, open, "finsh", &good, &worker(), now()).expect_err("unknown");
    assert_eq!(refusal.code(), "unknown_transition");

    let refusal = fire(definition, done, "finish", &good, &worker(), now()).expect_err("terminal");
    assert_eq!(
        refusal,
        Refusal::Terminal {
            state: "done".to_owned()
        }
    );

    let lead = Actor::user("u-2", vec!["lead".to_owned()]);
    let refusal = fire(definition, open, "finish", &good, &lead, now()).expect_err("role");
    assert_eq!(refusal.code(), "forbidden");

    let refusal = fire(
        definition,
        open,
        "finish",
        &json!({"outcome": "great", "extra": 1}),
        &worker(),
        now(),
    )
    .expect_err("form");
    let Refusal::InvalidForm(errors) = refusal else {
        panic!("expected a form refusal, got {refusal:?}")
    };
    let paths: Vec<&str> = errors.iter().map(|error| error.path.as_str()).collect();
    assert_eq!(paths, vec!["/extra", "/outcome"], "{errors:?}");

    let refusal = fire(
        definition,
        open,
        "finish",
        &json!({"outcome": "bad"}),
        &worker(),
        now(),
    )
    .expect_err("guard");
    assert_eq!(
        refusal,
        Refusal::Guard(vec!["the outcome is bad".to_owned()])
    );
}

#[test]
fn the_system_actor_may_fire_any_transition() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({});
    let case = CaseView {
        state: "open",
        data: &data,
    };
    let outcome = fire(
        definition,
        case,
        "finish",
        &json!({"outcome": "good"}),
        &Actor::system(),
        now(),
    )
    .expect("moves");
    assert_eq!(outcome.to, "done");
}

#[test]
fn available_says_who_may_fire_what_and_why_not() {
    let yaml = common::INTAKE_YAML.replace(
        "    to: done\n",
        "    to: done\n  hold:\n    from: [open]\n    roles: [lead]\n    guard: 'if case.urgent { \"urgent cases cannot be held\" } else { true }'\n    to: open\n",
    );
    let catalog = catalog(&yaml);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({"urgent": true});
    let case = CaseView {
        state: "open",
        data: &data,
    };
    let lead = Actor::user("u-2", vec!["lead".to_owned()]);
    let listed = available(definition, case, &lead, now());
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].name, "finish");
    assert!(!listed[0].allowed);
    assert_eq!(
        listed[0].reasons,
        vec!["`finish` needs one of the roles [\"worker\"]"]
    );
    assert_eq!(listed[0].form.as_deref(), Some("finish"));
    assert_eq!(listed[1].name, "hold");
    assert!(!listed[1].allowed);
    assert_eq!(listed[1].reasons, vec!["urgent cases cannot be held"]);

    let calm = json!({"urgent": false});
    let listed = available(
        definition,
        CaseView {
            state: "open",
            data: &calm,
        },
        &lead,
        now(),
    );
    assert!(listed[1].allowed, "{listed:?}");
}

#[test]
fn a_deadline_for_a_state_the_case_has_left_does_nothing() {
    let catalog = catalog(common::INTAKE_YAML);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({});
    let moved_on = CaseView {
        state: "done",
        data: &data,
    };
    assert_eq!(
        deadline_due(definition, moved_on, "open", 0, now()),
        Ok(DeadlineResult::Stale)
    );
    let waiting = CaseView {
        state: "open",
        data: &data,
    };
    let DeadlineResult::Notify(effect) =
        deadline_due(definition, waiting, "open", 0, now()).expect("due")
    else {
        panic!("a notify deadline notifies");
    };
    assert_eq!(
        effect,
        Effect::Notify {
            template: "nudge".to_owned(),
            roles: vec!["lead".to_owned()],
            to: vec![]
        }
    );
}

#[test]
fn a_dated_deadline_falls_due_before_the_date_in_the_case() {
    let yaml = common::INTAKE_YAML.replace(
        "      - after: 3d\n",
        "      - at: case.consent.expiry_date\n        before: 14d\n",
    );
    let catalog = catalog(&yaml);
    let definition = catalog.definition("intake").expect("intake");
    let outcome = start(
        definition,
        json!({"consent": {"expiry_date": "2025-06-30"}}),
        &worker(),
        now(),
    )
    .expect("opens");
    let due = DateTime::parse_from_rfc3339("2025-06-16T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    assert_eq!(
        outcome.effects,
        vec![Effect::ScheduleDeadline {
            state: "open".to_owned(),
            index: 0,
            due
        }]
    );

    let outcome = start(definition, json!({}), &worker(), now()).expect("opens");
    assert!(outcome.effects.is_empty());
    assert_eq!(
        outcome.warnings.len(),
        1,
        "a missing date is reported, not silently dropped"
    );
}

#[test]
fn notify_addresses_come_from_the_case() {
    let yaml = common::INTAKE_YAML.replace(
        "    to: done\n",
        "    to: done\n    notify: [ { to: case.referrer.email, template: nudge } ]\n",
    );
    let catalog = catalog(&yaml);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({"referrer": {"email": "gp@example.org"}});
    let outcome = finish_good(definition, &data);
    assert!(outcome.effects.contains(&Effect::Notify {
        template: "nudge".to_owned(),
        roles: vec![],
        to: vec!["gp@example.org".to_owned()],
    }));
}

#[test]
fn case_data_must_match_the_case_schema() {
    let yaml = common::INTAKE_YAML.replace("initial: open", "case_schema: finish\ninitial: open");
    let catalog = catalog(&yaml);
    let definition = catalog.definition("intake").expect("intake");
    let refusal =
        start(definition, json!({"outcome": "maybe"}), &worker(), now()).expect_err("invalid");
    assert_eq!(refusal.code(), "invalid_case");
    let refusal = start(definition, json!([1, 2]), &worker(), now()).expect_err("not an object");
    assert_eq!(refusal.code(), "invalid_case");
}

#[test]
fn later_set_expressions_see_earlier_ones() {
    let yaml = common::INTAKE_YAML.replace(
        "    set: { outcome: form.outcome }",
        "    set:\n      outcome: form.outcome\n      review.first: '\"checked \" + case.outcome'\n      review.second: case.review.first + \" twice\"",
    );
    let catalog = catalog(&yaml);
    let definition = catalog.definition("intake").expect("intake");
    let data = json!({"review": "not yet an object"});
    let outcome = finish_good(definition, &data);
    assert_eq!(
        outcome.data,
        json!({"review": {"first": "checked good", "second": "checked good twice"}, "outcome": "good"})
    );
}
