//! A throwaway caseflow home for tests: a small valid workflow to start from,
//! files written on demand, and the CLI verbs run against it in-process.
#![allow(dead_code)]

pub mod api;
pub mod db;
pub mod smtp;
pub mod sources;

use std::path::{Path, PathBuf};

use caseflow::commands;

pub const INTAKE_YAML: &str = r#"workflow: intake
version: 1
title: Intake
initial: open
roles: [worker, lead]
imports: [intake]
states:
  open:
    deadlines:
      - after: 3d
        notify: { roles: [lead], template: nudge }
  done: { terminal: true }
transitions:
  finish:
    from: [open]
    form: finish
    roles: [worker]
    guard: intake::ok(form)
    set: { outcome: form.outcome }
    to: done
tests:
  - name: finishes
    steps:
      - { fire: finish, as: [worker], form: { outcome: good }, expect: done }
"#;

pub const INTAKE_RULES: &str = r#"fn ok(form) {
    if form.outcome == "bad" { "the outcome is bad" } else { true }
}
"#;

pub const FINISH_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "required": ["outcome"],
  "properties": { "outcome": { "enum": ["good", "bad"] } }
}
"#;

pub struct Home {
    dir: tempfile::TempDir,
}

pub struct Run {
    pub code: u8,
    pub out: String,
    pub err: String,
}

impl Run {
    /// Lines of stdout that are errors, for exact assertions.
    pub fn errors(&self) -> Vec<&str> {
        self.out
            .lines()
            .filter(|line| line.contains(": error: "))
            .collect()
    }

    pub fn warnings(&self) -> Vec<&str> {
        self.out
            .lines()
            .filter(|line| line.contains(": warning: "))
            .collect()
    }

    pub fn has(&self, line: &str) -> bool {
        self.out.lines().any(|candidate| candidate == line)
    }
}

impl Home {
    /// A home holding the small valid `intake` workflow and what it needs.
    pub fn intake() -> Self {
        let home = Self::empty();
        home.write("workflows/intake.yaml", INTAKE_YAML);
        home.write("rules/intake.rhai", INTAKE_RULES);
        home.write("schemas/finish.json", FINISH_SCHEMA);
        home.write(
            "templates/notify/nudge.txt.tera",
            "Subject: nudge\n\nPlease look.\n",
        );
        home
    }

    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of the shipped home (`workflows/ rules/ schemas/ templates/`).
    pub fn shipped() -> Self {
        let home = Self::empty();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["workflows", "rules", "schemas", "templates"] {
            copy_dir(&root.join(dir), &home.path().join(dir));
        }
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, text).expect("write file");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).expect("read file")
    }

    /// Rewrites a file, replacing `from` (which must be there) with `to`.
    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = self.read(relative);
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        self.write(relative, &text.replacen(from, to, 1));
    }

    pub fn check(&self) -> Run {
        self.run(|paths, home, out, err| commands::check(paths, home, out, err))
    }

    pub fn test(&self) -> Run {
        self.run(|paths, home, out, err| commands::test(paths, home, out, err))
    }

    fn run(
        &self,
        verb: impl Fn(&[PathBuf], &Path, &mut dyn std::io::Write, &mut dyn std::io::Write) -> u8,
    ) -> Run {
        // Paths are given relative to the home, as a program manager would type them.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = verb(&[], self.path(), &mut out, &mut err);
        let strip = format!("{}/", self.path().display());
        Run {
            code,
            out: String::from_utf8_lossy(&out).replace(&strip, ""),
            err: String::from_utf8_lossy(&err).replace(&strip, ""),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
