//! The `caseflow` binary as a person runs it: exit codes, output streams,
//! diagrams, and the published JSON Schema of the workflow format.

mod common;

use std::process::{Command, Output};

use common::Home;

fn caseflow(home: &Home, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caseflow"))
        .args(args)
        .current_dir(home.path())
        .env_remove("CASEFLOW_HOME")
        .output()
        .expect("run caseflow")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_exits_0_when_clean_and_1_with_errors() {
    let home = Home::intake();
    let output = caseflow(&home, &["check", "workflows"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    home.edit("workflows/intake.yaml", "    to: done", "    to: nowhere");
    let output = caseflow(&home, &["check", "workflows/intake.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output)
            .starts_with("workflows/intake.yaml:20:9: error: unknown state `nowhere` in `to`"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_path_that_does_not_exist_is_bad_usage() {
    let output = caseflow(&Home::intake(), &["check", "no/such/file.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no/such/file.yaml: no such file or directory"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unknown_command_or_flag_is_bad_usage() {
    assert_eq!(
        caseflow(&Home::intake(), &["frobnicate"]).status.code(),
        Some(2)
    );
    assert_eq!(
        caseflow(&Home::intake(), &["check", "--frobnicate"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn test_prints_the_tally_last() {
    let output = caseflow(&Home::shipped(), &["test", "workflows"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.lines()
            .last()
            .is_some_and(|line| line.ends_with(" passed, 0 failed")),
        "{out}"
    );
}

#[test]
fn diagrams_come_in_three_formats() {
    let home = Home::shipped();
    let svg = caseflow(
        &home,
        &["diagram", "workflows/referral.yaml", "--format", "svg"],
    );
    assert_eq!(svg.status.code(), Some(0), "{}", stderr(&svg));
    let svg = stdout(&svg);
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    for name in [
        "submitted",
        "consent_requested",
        "enrolled",
        "assess",
        "record_consent",
    ] {
        assert!(svg.contains(name), "the SVG names {name}");
    }
    let mermaid = stdout(&caseflow(
        &home,
        &["diagram", "workflows/referral.yaml", "--format", "mermaid"],
    ));
    assert!(
        mermaid.lines().any(|line| line.trim() == "stateDiagram-v2"),
        "{mermaid}"
    );
    assert!(mermaid.contains("submitted --> assessed"), "{mermaid}");
    let dot = stdout(&caseflow(
        &home,
        &["diagram", "workflows/referral.yaml", "--format", "dot"],
    ));
    assert!(dot.starts_with("digraph"), "{dot}");

    let bad = caseflow(
        &home,
        &["diagram", "workflows/referral.yaml", "--format", "png"],
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_published_workflow_schema_is_up_to_date() {
    let home = Home::intake();
    let output = caseflow(&home, &["schema"]);
    assert_eq!(output.status.code(), Some(0));
    let generated: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("schema is JSON");
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/workflow.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path).expect("committed schema"))
            .expect("committed schema is JSON");
    assert_eq!(
        generated, committed,
        "run `cargo run -- schema > schemas/workflow.schema.json`"
    );
    let transition = &generated["$defs"]["TransitionDoc"];
    assert_eq!(
        transition["additionalProperties"],
        serde_json::Value::Bool(false),
        "typos like `gaurd` are flagged by editors too"
    );
}
