//! `caseflow test`: embedded scenarios, their failures, and runaway rules.

mod common;

use common::{Home, INTAKE_YAML};

fn with_guard(guard: &str) -> common::Run {
    let home = Home::intake();
    home.write(
        "workflows/intake.yaml",
        &INTAKE_YAML.replace(
            "    guard: intake::ok(form)",
            &format!("    guard: '{guard}'"),
        ),
    );
    home.test()
}

#[test]
fn the_shipped_scenarios_pass() {
    let run = Home::shipped().test();
    let last = run.out.lines().last().unwrap_or_default();
    let passed: usize = last
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(last.ends_with(" passed, 0 failed"), "{}", run.out);
    assert!(
        passed >= 4,
        "the referral workflow ships at least 4 scenarios: {last}"
    );
    assert_eq!(run.code, 0);
}

#[test]
fn a_failing_step_is_named_and_fails_the_run() {
    let home = Home::intake();
    home.write(
        "workflows/intake.yaml",
        &format!("{INTAKE_YAML}  - name: expects the wrong state\n    steps:\n      - {{ fire: finish, as: [worker], form: {{ outcome: good }}, expect: open }}\n"),
    );
    let run = home.test();
    assert!(run.out.contains("intake: finishes ... ok"), "{}", run.out);
    assert!(run.out.contains("intake: expects the wrong state ... FAILED\n    step 1 (fire finish): expected state `open`, the case is in `done`"), "{}", run.out);
    assert_eq!(run.out.lines().last(), Some("1 passed, 1 failed"));
    assert_eq!(run.code, 1);
}

#[test]
fn refusals_can_be_expected_and_must_match() {
    let home = Home::intake();
    home.write(
        "workflows/intake.yaml",
        &format!(
            "{INTAKE_YAML}  - name: refusals
    steps:
      - {{ fire: finish, as: [lead], form: {{ outcome: good }}, refused: role }}
      - {{ fire: finish, as: [worker], form: {{ outcome: great }}, refused: form }}
      - {{ fire: finish, as: [worker], form: {{ outcome: bad }}, refused: guard, reason: outcome is bad }}
      - {{ fire: finish, as: [worker], form: {{ outcome: bad }}, refused: guard, reason: something else }}
"
        ),
    );
    let run = home.test();
    assert!(
        run.out.contains("step 4 (fire finish): expected a reason containing “something else”, got [\"the outcome is bad\"]"),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_guard_that_never_ends_is_stopped_with_a_clear_message() {
    let started = std::time::Instant::now();
    let run = with_guard("let x = 0; loop { x += 1; } true");
    let elapsed = started.elapsed();
    assert!(
        run.out.contains("refused: a rule failed: stopped after 200000 operations: the rule never ends or does far too much work (a loop without an exit?)"),
        "{}",
        run.out
    );
    assert_eq!(run.out.lines().last(), Some("0 passed, 1 failed"));
    assert_eq!(run.code, 1);
    eprintln!("runaway guard stopped after {elapsed:?}");
}

#[test]
fn a_guard_that_allocates_without_bound_is_stopped() {
    let run = with_guard("let s = \"x\"; loop { s += s; } true");
    assert!(
        run.out.contains("grew beyond the allowed size"),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_date_that_does_not_parse_is_named() {
    let run = with_guard("days_between(\"2025-02-30\", today) > 0");
    assert!(
        run.out
            .contains("`2025-02-30` is not a date (expected YYYY-MM-DD)"),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_guard_giving_a_number_is_reported_as_broken() {
    let run = with_guard("42");
    assert!(
        run.out.contains(
            "the guard of `finish` gave i64 (42); a guard gives true, false, or a reason"
        ),
        "{}",
        run.out
    );
}

#[test]
fn a_workflow_that_does_not_compile_counts_as_failed() {
    let home = Home::intake();
    home.write(
        "workflows/intake.yaml",
        &INTAKE_YAML.replace("    to: done", "    to: nowhere"),
    );
    let run = home.test();
    assert!(
        run.out
            .contains("workflows/intake.yaml ... FAILED (does not compile)"),
        "{}",
        run.out
    );
    assert_eq!(run.out.lines().last(), Some("0 passed, 1 failed"));
    assert_eq!(run.code, 1);
}

#[test]
fn advancing_the_clock_fires_deadlines_in_order() {
    let home = Home::intake();
    home.write(
        "workflows/intake.yaml",
        &format!(
            "{INTAKE_YAML}  - name: nudged after three days
    steps:
      - {{ advance: 2d, expect: open }}
      - {{ advance: 1d, expect: open, expect_notify: [nudge] }}
      - {{ advance: 5d, expect: open }}
"
        ),
    );
    let run = home.test();
    assert_eq!(
        run.out.lines().last(),
        Some("2 passed, 0 failed"),
        "{}",
        run.out
    );
}
