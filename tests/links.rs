//! Linked cases: rules read a linked case's data as `links.NAME`, a move may
//! ask for a transition on a linked case (`fire_linked`), and scenarios stand
//! in for the linked data. Also `notify … when:` and `set` of `()`.

mod common;

use common::sources::{clean_catalog, fixed_now as now, source};

use std::collections::BTreeSet;

use caseflow::engine::{
    CaseView, Catalog, Effect, Outcome, Refusal, Sources, fire, fire_with_links,
};
use caseflow::rules::Actor;
use common::Home;
use serde_json::{Value, json};

const SESSION: &str = r#"workflow: session
version: 1
title: Session
initial: pending
roles: [coordinator, manager]
links:
  plan: { workflow: plan, field: plan_id }
states:
  pending: {}
  approved: { terminal: true }
transitions:
  approve:
    from: [pending]
    roles: [coordinator]
    guard: 'if links.plan == () { "no plan" } else if links.plan.total - links.plan.used < case.cost { "over budget" } else { true }'
    set:
      note: case.note_to_keep
    to: approved
    notify:
      - { roles: [manager], template: nudge, when: case.cost > 100 }
    fire_linked:
      - link: plan
        transition: record_usage
        form: { amount: case.cost, by: actor.id, note: case.no_note }
    start:
      - { workflow: plan, data: { budget: case.cost, note: case.no_note } }
tests:
  - name: approved within the budget
    data: { plan_id: p-1, cost: 50 }
    links: { plan: { total: 100, used: 20 } }
    steps:
      - { fire: approve, as: [coordinator], expect: approved, expect_linked: [plan.record_usage] }
  - name: refused over the budget
    data: { plan_id: p-1, cost: 90 }
    links: { plan: { total: 100, used: 20 } }
    steps:
      - { fire: approve, as: [coordinator], refused: guard, reason: over budget }
"#;

const PLAN: &str = r#"workflow: plan
version: 1
title: Plan
initial: active
states:
  active: {}
transitions:
  record_usage:
    from: [active]
    to: active
"#;

fn catalog() -> Catalog {
    let sources = Sources {
        workflows: vec![
            source("workflows/session.yaml", "session", SESSION),
            source("workflows/plan.yaml", "plan", PLAN),
        ],
        templates: BTreeSet::from(["nudge".to_owned()]),
        ..Sources::default()
    };
    clean_catalog(&sources)
}

fn approve(data: &Value, links: &Value, form: &Value) -> Result<Outcome, Refusal> {
    let catalog = catalog();
    let definition = catalog.definition("session").expect("session");
    let case = CaseView {
        state: "pending",
        data,
    };
    let coordinator = Actor::user("sam@example.org", vec!["coordinator".to_owned()]);
    fire_with_links(
        definition,
        case,
        links,
        "approve",
        form,
        &coordinator,
        now(),
    )
}

#[test]
fn guards_read_the_linked_cases_data() {
    let data = json!({"plan_id": "p-1", "cost": 90});
    let refused = approve(
        &data,
        &json!({"plan": {"total": 100, "used": 20}}),
        &Value::Null,
    );
    assert_eq!(refused, Err(Refusal::Guard(vec!["over budget".to_owned()])));
    let unlinked = approve(&data, &json!({"plan": null}), &Value::Null);
    assert_eq!(unlinked, Err(Refusal::Guard(vec!["no plan".to_owned()])));
    let catalog = catalog();
    let definition = catalog.definition("session").expect("session");
    let without = fire(
        definition,
        CaseView {
            state: "pending",
            data: &data,
        },
        "approve",
        &Value::Null,
        &Actor::system(),
        now(),
    );
    assert_eq!(
        without,
        Err(Refusal::Guard(vec!["no plan".to_owned()])),
        "without links given, `links.plan` reads as ()"
    );
}

#[test]
fn a_move_asks_for_a_transition_on_the_linked_case() {
    let data = json!({"plan_id": "p-1", "cost": 150});
    let moved = approve(
        &data,
        &json!({"plan": {"total": 1000, "used": 20}}),
        &json!({}),
    )
    .expect("approved");
    assert!(moved.effects.contains(&Effect::FireLinked {
        link: "plan".to_owned(),
        workflow: "plan".to_owned(),
        case: "p-1".to_owned(),
        transition: "record_usage".to_owned(),
        form: json!({"amount": 150, "by": "sam@example.org"}),
    }));
    assert!(
        moved.effects.contains(&Effect::StartCase {
            workflow: "plan".to_owned(),
            data: json!({"budget": 150}),
        }),
        "a field giving () is left out of a started case: {:?}",
        moved.effects
    );
    assert!(
        moved
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::Notify { template, .. } if template == "nudge")),
        "a cost over 100 tells the manager: {:?}",
        moved.effects
    );
    assert_eq!(
        moved.data.get("note"),
        None,
        "a `set` giving () stores nothing"
    );
}

#[test]
fn a_notify_whose_when_is_false_is_left_out() {
    let data = json!({"plan_id": "p-1", "cost": 50});
    let moved = approve(
        &data,
        &json!({"plan": {"total": 100, "used": 0}}),
        &json!({}),
    )
    .expect("approved");
    assert!(
        !moved
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::Notify { .. })),
        "{:?}",
        moved.effects
    );
}

#[test]
fn a_case_without_the_link_field_moves_with_a_warning() {
    let data = json!({"cost": 5});
    let moved = approve(
        &data,
        &json!({"plan": {"total": 100, "used": 0}}),
        &json!({}),
    )
    .expect("approved");
    assert!(
        !moved
            .effects
            .iter()
            .any(|effect| matches!(effect, Effect::FireLinked { .. }))
    );
    assert_eq!(
        moved.warnings,
        vec!["`record_usage` not fired on link `plan`: the case has no `plan_id`".to_owned()]
    );
}

#[test]
fn a_set_of_nothing_removes_the_field() {
    let data = json!({"plan_id": "p-1", "cost": 5, "note": "old"});
    let moved = approve(
        &data,
        &json!({"plan": {"total": 100, "used": 0}}),
        &json!({}),
    )
    .expect("approved");
    assert_eq!(moved.data.get("note"), None);
    assert_eq!(moved.changes[0].path, "note");
    assert_eq!(moved.changes[0].new, Value::Null);
}

fn home_with(session: &str) -> Home {
    let home = Home::empty();
    home.write("workflows/session.yaml", session);
    home.write("workflows/plan.yaml", PLAN);
    home.write("templates/notify/nudge.txt.tera", "Subject: n\n\nn\n");
    home
}

#[test]
fn scenarios_provide_the_linked_data() {
    let run = home_with(SESSION).test();
    assert_eq!(
        run.out.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        run.out
    );
}

#[test]
fn links_and_fire_linked_are_checked_where_written() {
    let session = SESSION
        .replace("  plan: { workflow: plan, field: plan_id }", "  plan: { workflow: plans, field: plan id }")
        .replace("      - link: plan\n", "      - link: budget\n")
        .replace("expect_linked: [plan.record_usage]", "expect_linked: [plans.record_usage]")
        .replace("links:\n", "unique: [cost, bad path]\nlinks:\n")
        .replace("if links.plan == ()", "if links.plann == ()")
        .replace("    links: { plan: { total: 100, used: 20 } }\n    steps:\n      - { fire: approve, as: [coordinator], refused", "    links: { plans: { total: 100, used: 20 } }\n    steps:\n      - { fire: approve, as: [coordinator], refused");
    let run = home_with(&session).check();
    // FILE:LINE:COL of `token` on the first line containing `text`.
    let at = |text: &str, token: &str| {
        let (index, line) = session
            .lines()
            .enumerate()
            .find(|(_, line)| line.contains(text))
            .expect("line");
        let column = line.find(token).expect("token") + 1;
        format!("workflows/session.yaml:{}:{column}", index + 1)
    };
    let expected = [
        format!(
            "{}: error: no workflow `plans` to link to",
            at("workflow: plans", "plans")
        ),
        format!(
            "{}: error: `plan id` is not a case data path (write field or field.subfield)",
            at("field: plan id", "plan id")
        ),
        format!(
            "{}: error: no link `budget` (declare it under `links`; declared: plan)",
            at("link: budget", "budget")
        ),
        format!(
            "{}: error: no link `plans` under this workflow's `links`",
            at("links: { plans", "plans")
        ),
        format!(
            "{}: error: reads `links.plann` but `links` declares plan",
            at("if links.plann", "'if")
        ),
        format!(
            "{}: error: `bad path` is not a case data path (write field or field.subfield)",
            at("unique: [cost, bad path]", "bad path")
        ),
        format!(
            "{}: error: `plans.record_usage` is not LINK.TRANSITION with a link under `links`",
            at("expect_linked: [plans", "[plans")
        ),
    ];
    for line in expected {
        assert!(run.has(&line), "expected\n  {line}\ngot\n{}", run.out);
    }
    assert_eq!(run.code, 1);
}

#[test]
fn one_file_of_a_home_may_name_its_neighbours() {
    let home = home_with(SESSION);
    let file = home.path().join("workflows/session.yaml");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = caseflow::commands::test(&[file], home.path(), &mut out, &mut err);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(
        (code, out.lines().last()),
        (0, Some("2 passed, 0 failed")),
        "the linked `plan` workflow is in the same home: {out}"
    );
}
