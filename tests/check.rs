//! `caseflow check`: every rule of the validator, each with its exact location.

mod common;

use common::{Home, INTAKE_YAML};

const FILE: &str = "workflows/intake.yaml";

/// `FILE:LINE:COL` of `token` on the first line containing `line_text`.
fn at(yaml: &str, line_text: &str, token: &str) -> String {
    let (index, line) = yaml
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains(line_text))
        .unwrap_or_else(|| panic!("no line containing {line_text:?}"));
    let column = line
        .find(token)
        .unwrap_or_else(|| panic!("no {token:?} in {line:?}"))
        + 1;
    format!("{FILE}:{}:{column}", index + 1)
}

fn with_workflow(yaml: &str) -> (Home, common::Run) {
    let home = Home::intake();
    home.write(FILE, yaml);
    let run = home.check();
    (home, run)
}

fn assert_error(run: &common::Run, location: &str, message: &str) {
    let line = format!("{location}: error: {message}");
    assert!(run.has(&line), "expected\n  {line}\ngot\n{}", run.out);
    assert_eq!(run.code, 1, "errors must exit 1");
}

#[test]
fn the_small_valid_workflow_is_clean() {
    let run = Home::intake().check();
    assert_eq!(run.out, "", "no problems expected");
    assert_eq!(run.code, 0);
    assert!(
        run.err.contains("checked 1 workflow: 0 errors, 0 warnings"),
        "{}",
        run.err
    );
}

#[test]
fn the_shipped_workflows_are_clean() {
    let run = Home::shipped().check();
    assert!(run.errors().is_empty(), "{}", run.out);
    assert_eq!(run.code, 0);
}

#[test]
fn malformed_yaml_is_located() {
    let yaml = INTAKE_YAML.replace("  done: { terminal: true }", "  done: { terminal: true");
    let (_, run) = with_workflow(&yaml);
    assert_eq!(run.code, 1);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.out);
    assert!(errors[0].starts_with(&format!("{FILE}:")), "{}", errors[0]);
    assert!(errors[0].contains("invalid YAML"), "{}", errors[0]);
    let line: usize = errors[0]
        .split(':')
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("line");
    assert!(
        (12..=14).contains(&line),
        "the unclosed mapping starts on line 12: {}",
        errors[0]
    );
}

#[test]
fn every_unknown_key_is_reported_with_a_suggestion() {
    let yaml = INTAKE_YAML
        .replace("    guard: intake::ok(form)", "    gaurd: intake::ok(form)")
        .replace(
            "  done: { terminal: true }",
            "  done: { terminal: true, retension: 1 }",
        );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "gaurd:", "gaurd"),
        "unknown key `gaurd` (did you mean `guard`?)",
    );
    assert_error(
        &run,
        &at(&yaml, "retension", "retension"),
        "unknown key `retension` (did you mean `retention`?)",
    );
}

#[test]
fn a_wrong_type_is_located() {
    let yaml = INTAKE_YAML.replace("version: 1", "version: first");
    let (_, run) = with_workflow(&yaml);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.out);
    assert!(
        errors[0].starts_with(&format!(
            "{}: error: `version`",
            at(&yaml, "version:", "first")
        )),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("whole number"), "{}", errors[0]);
}

#[test]
fn a_key_written_twice_is_an_error() {
    let yaml = INTAKE_YAML.replace(
        "  done: { terminal: true }",
        "  done: { terminal: true }\n  done: { terminal: false }",
    );
    let (_, run) = with_workflow(&yaml);
    let again = yaml
        .match_indices("  done:")
        .nth(1)
        .map(|(i, _)| yaml[..i].lines().count() + 1)
        .expect("second done");
    assert_error(
        &run,
        &format!("{FILE}:{again}:3"),
        &format!("`done` is defined twice (first at line {})", again - 1),
    );
}

#[test]
fn unknown_states_are_reported_where_named() {
    let yaml = INTAKE_YAML
        .replace("initial: open", "initial: opened")
        .replace("    from: [open]", "    from: [open, pending]")
        .replace("    to: done", "    to: dnoe");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "initial:", "opened"),
        "unknown state `opened` in `initial` (did you mean `open`?)",
    );
    assert_error(
        &run,
        &at(&yaml, "from: [open, pending]", "pending"),
        "unknown state `pending` in `from`",
    );
    assert_error(
        &run,
        &at(&yaml, "to: dnoe", "dnoe"),
        "unknown state `dnoe` in `to` (did you mean `done`?)",
    );
}

#[test]
fn unreachable_and_dead_end_states_are_errors() {
    let yaml = INTAKE_YAML.replace(
        "  done: { terminal: true }",
        "  done: { terminal: true }\n  limbo: {}\n  archived: { terminal: true }",
    );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "limbo:", "limbo"),
        "state `limbo` is unreachable: no transition leads to it from `open`",
    );
    assert_error(
        &run,
        &at(&yaml, "limbo:", "limbo"),
        "state `limbo` has no transition leaving it: mark it `terminal: true` or add one",
    );
    assert_error(
        &run,
        &at(&yaml, "archived:", "archived"),
        "state `archived` is unreachable: no transition leads to it from `open`",
    );
}

#[test]
fn a_terminal_state_cannot_be_left() {
    let yaml = INTAKE_YAML.replace("    from: [open]", "    from: [open, done]");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "from: [open, done]", "done"),
        "`done` is terminal and accepts no transition, yet `finish` leaves from it",
    );
}

#[test]
fn a_transition_no_role_may_fire_and_unknown_roles_are_errors() {
    let yaml = INTAKE_YAML.replace("    roles: [worker]", "    roles: []");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "roles: []", "[]"),
        "no role may fire `finish`: name a role, or drop `roles` to let any signed-in user fire it",
    );

    let yaml = INTAKE_YAML.replace("    roles: [worker]", "    roles: [wroker]");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "roles: [wroker]", "wroker"),
        "unknown role `wroker` (declared roles: lead, worker)",
    );
}

#[test]
fn rhai_syntax_errors_point_into_the_yaml() {
    let yaml = INTAKE_YAML.replace(
        "    guard: intake::ok(form)",
        "    guard: intake::ok(form) &&",
    );
    let (_, run) = with_workflow(&yaml);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.out);
    let line = at(&yaml, "guard:", "guard");
    let line_prefix = line.rsplit_once(':').map(|(head, _)| head).expect("line");
    assert!(
        errors[0].starts_with(&format!("{line_prefix}:")),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("Rhai syntax error"), "{}", errors[0]);

    // In a block scalar the script's own line is counted inside the block.
    let yaml = INTAKE_YAML.replace(
        "    guard: intake::ok(form)",
        "    guard: |\n      let verdict = intake::ok(form);\n      verdict ==",
    );
    let (_, run) = with_workflow(&yaml);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{}", run.out);
    let line = at(&yaml, "verdict ==", "verdict");
    let line_prefix = line.rsplit_once(':').map(|(head, _)| head).expect("line");
    assert!(
        errors[0].starts_with(&format!("{line_prefix}:")),
        "{} vs {line}",
        errors[0]
    );
}

#[test]
fn rules_modules_must_exist_be_imported_and_define_the_function() {
    let yaml = INTAKE_YAML.replace("imports: [intake]", "imports: [intake, missing]");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "imports:", "missing"),
        "no rules module `missing` (expected rules/missing.rhai)",
    );

    let yaml = INTAKE_YAML.replace("imports: [intake]\n", "");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "guard:", "intake::"),
        "`intake::ok` needs `intake` in `imports`",
    );

    let yaml = INTAKE_YAML.replace("intake::ok(form)", "intake::okay(form)");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "guard:", "intake::"),
        "rules/intake.rhai has no function `okay`",
    );
}

#[test]
fn a_broken_rules_module_is_located_in_its_own_file() {
    let home = Home::intake();
    home.write(
        "rules/intake.rhai",
        "fn ok(form) {\n    if form.outcome == { true }\n}\n",
    );
    let run = home.check();
    let errors = run.errors();
    assert_eq!(
        errors.len(),
        1,
        "the workflows using the module are not blamed for it: {}",
        run.out
    );
    assert!(
        errors[0].starts_with("rules/intake.rhai:3:1: error: rules module `intake`: "),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);
    let run = home.test();
    assert!(
        run.out
            .contains("workflows/intake.yaml ... FAILED (does not compile)"),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);
}

#[test]
fn missing_and_invalid_schemas_are_errors() {
    let yaml = INTAKE_YAML.replace("    form: finish", "    form: finnish");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "form: finnish", "finnish"),
        "no form schema `finnish` (expected schemas/finnish.json)",
    );

    let home = Home::intake();
    home.write(
        "schemas/finish.json",
        "{\n  \"type\": \"object\",\n  \"properties\": { \"outcome\": { \"enum\": [\"good\" }\n}\n",
    );
    let run = home.check();
    assert!(
        run.errors()
            .iter()
            .any(
                |e| e.starts_with("schemas/finish.json:3:") && e.contains("invalid JSON")
                    || e.starts_with("schemas/finish.json:3:")
            ),
        "{}",
        run.out
    );
    assert_eq!(run.code, 1);

    let home = Home::intake();
    home.write(
        "schemas/finish.json",
        "{ \"type\": \"object\", \"properties\": { \"outcome\": { \"type\": \"strnig\" } } }",
    );
    let run = home.check();
    assert!(
        run.errors()
            .iter()
            .any(|e| e.starts_with("schemas/finish.json:") && e.contains("schema `finish`")),
        "{}",
        run.out
    );
}

#[test]
fn deadlines_are_checked() {
    let yaml = INTAKE_YAML.replace(
        "      - after: 3d\n        notify: { roles: [lead], template: nudge }",
        "      - after: 3 fortnights\n        notify: { roles: [lead], template: nudge }\n      - after: 1d\n        at: case.due\n        fire: finish\n      - after: 2d\n        fire: finsh\n      - at: case.due\n      - after: 5d\n        before: 1d\n        notify: { template: nudge }",
    );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "3 fortnights", "3 fortnights"),
        "`3 fortnights` is not a duration (write a whole number and a unit: 90s, 30m, 12h, 2d, 3w, 6mo or 7y)",
    );
    assert_error(
        &run,
        &at(&yaml, "- after: 1d", "after"),
        "a deadline has either `after` or `at`, not both",
    );
    assert_error(
        &run,
        &at(&yaml, "fire: finsh", "finsh"),
        "unknown transition `finsh` (did you mean `finish`?)",
    );
    assert_error(
        &run,
        &at(&yaml, "- at: case.due", "at"),
        "a deadline needs `notify: {...}` or `fire: TRANSITION`",
    );
    assert_error(
        &run,
        &at(&yaml, "before: 1d", "1d"),
        "`before` goes with `at`, not with `after`",
    );
    assert_error(
        &run,
        &at(&yaml, "notify: { template: nudge }", "{"),
        "`notify` needs `roles`, `to`, or both: nobody would be told",
    );
}

#[test]
fn a_deadline_can_only_fire_a_transition_leaving_its_state() {
    let yaml = INTAKE_YAML
        .replace("  done: { terminal: true }", "  done: { terminal: true }\n  waiting:\n    deadlines:\n      - after: 1d\n        fire: finish")
        .replace("    to: done", "    to: [ { when: form.outcome == \"bad\", to: waiting }, { to: done } ]");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "fire: finish", "finish"),
        "transition `finish` does not leave from `waiting`, so this deadline could never fire it",
    );
}

#[test]
fn retention_needs_a_terminal_state_and_a_duration() {
    let yaml = INTAKE_YAML
        .replace(
            "  open:\n",
            "  open:\n    retention: { after: 6y, action: anonymise }\n",
        )
        .replace(
            "  done: { terminal: true }",
            "  done: { terminal: true, retention: { after: six years, action: delete } }",
        );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "retention: { after: 6y", "{"),
        "retention applies to closed cases: mark `open` `terminal: true`",
    );
    assert_error(
        &run,
        &at(&yaml, "six years", "six years"),
        "`six years` is not a duration (write a whole number and a unit: 90s, 30m, 12h, 2d, 3w, 6mo or 7y)",
    );
}

#[test]
fn notify_templates_must_exist() {
    let yaml = INTAKE_YAML.replace("template: nudge", "template: nudge_lead");
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "template: nudge_lead", "nudge_lead"),
        "no template `nudge_lead` in templates/",
    );
}

#[test]
fn branches_need_a_plain_last_branch() {
    let yaml = INTAKE_YAML.replace(
        "    to: done",
        "    to:\n      - to: done\n      - when: form.outcome == \"good\"\n        to: done",
    );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "      - to: done", "to"),
        "only the last branch may leave out `when` (later branches could never be taken)",
    );
    assert_error(
        &run,
        &at(&yaml, "- when: form.outcome", "when"),
        "the last branch must be a plain `{ to: STATE }` so every case has somewhere to go",
    );
}

#[test]
fn reading_a_field_the_form_does_not_define_is_a_warning() {
    let yaml = INTAKE_YAML.replace(
        "set: { outcome: form.outcome }",
        "set: { outcome: form.result }",
    );
    let (_, run) = with_workflow(&yaml);
    let warning = format!(
        "{}: warning: reads `form.result` but form `finish` defines no field `result`",
        at(&yaml, "set:", "form.result")
    );
    assert!(run.has(&warning), "expected {warning}\n got {}", run.out);
    assert_eq!(run.code, 0, "a warning alone does not fail the check");
}

#[test]
fn scenario_steps_are_checked_like_the_workflow() {
    let yaml = INTAKE_YAML.replace(
        "      - { fire: finish, as: [worker], form: { outcome: good }, expect: done }",
        "      - { fire: finsih, as: [worker], expect: dnoe, refused: grumpy }\n      - { fire: finish, advance: 1d }",
    );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "fire: finsih", "finsih"),
        "unknown transition `finsih`",
    );
    assert_error(
        &run,
        &at(&yaml, "fire: finsih", "dnoe"),
        "unknown state `dnoe`",
    );
    assert_error(
        &run,
        &at(&yaml, "fire: finsih", "grumpy"),
        "`refused` is one of state, role, form, guard, terminal, case, not `grumpy`",
    );
    assert_error(
        &run,
        &at(&yaml, "advance: 1d", "{"),
        "a step either `fire`s or `advance`s, not both",
    );
}

#[test]
fn duplicate_names_across_files_and_tests_are_errors() {
    let home = Home::intake();
    home.write("workflows/intake_copy.yaml", INTAKE_YAML);
    let run = home.check();
    assert!(run.has("workflows/intake_copy.yaml:1:11: error: workflow `intake` is already defined in workflows/intake.yaml"), "{}", run.out);

    let yaml = format!("{INTAKE_YAML}  - name: finishes\n    steps:\n      - {{ expect: open }}\n");
    let (_, run) = with_workflow(&yaml);
    let second = yaml.lines().count() - 2;
    assert_error(
        &run,
        &format!("{FILE}:{second}:11"),
        "a test named `finishes` already exists",
    );
}

#[test]
fn a_workflow_can_only_start_workflows_that_exist() {
    let yaml = INTAKE_YAML.replace(
        "    to: done",
        "    to: done\n    start: [ { workflow: enrolment } ]",
    );
    let (_, run) = with_workflow(&yaml);
    assert_error(
        &run,
        &at(&yaml, "workflow: enrolment", "enrolment"),
        "no workflow `enrolment` to start",
    );
}

#[test]
fn the_issue_broken_referral_yields_three_located_errors() {
    let home = Home::shipped();
    let file = "workflows/referral.yaml";
    home.edit(file, "    to: assessed\n", "    to: assesed\n");
    home.edit(
        file,
        "guard: referral::meets_criteria(case, form, today)",
        "guard: referral::meets_criteria(case, form, today) &&",
    );
    home.edit(file, "form: program_assignment", "form: program_asignment");
    let run = home.check();
    let errors = run.errors();
    assert!(errors.len() >= 3, "{}", run.out);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(file) && e.contains("unknown state `assesed`")),
        "{}",
        run.out
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(file) && e.contains("Rhai syntax error")),
        "{}",
        run.out
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(file) && e.contains("no form schema `program_asignment`")),
        "{}",
        run.out
    );
    for error in errors {
        let mut parts = error.splitn(4, ':');
        let (_, line, column) = (parts.next(), parts.next(), parts.next());
        assert!(
            line.and_then(|l| l.parse::<usize>().ok())
                .is_some_and(|l| l > 1),
            "{error}"
        );
        assert!(
            column.and_then(|c| c.parse::<usize>().ok()).is_some(),
            "{error}"
        );
    }
    assert_eq!(run.code, 1);
}

#[test]
fn a_template_that_does_not_compile_is_an_error() {
    let home = Home::intake();
    home.write(
        "templates/notify/nudge.txt.tera",
        "Subject: nudge\n\n{% if case.data %}unclosed\n",
    );
    let run = home.check();
    assert_eq!(run.code, 1, "{}", run.out);
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("templates/notify/nudge.txt.tera:4:1: error: cannot parse the template"),
        "{}",
        errors[0]
    );
}
