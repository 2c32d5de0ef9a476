//! The database verbs of the CLI on a fresh SQLite file: exit codes and messages.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseflow"))
            .args(args)
            .current_dir(self.dir.path())
            .env(
                "DATABASE_URL",
                format!(
                    "sqlite://{}?mode=rwc",
                    self.dir.path().join("cf.db").display()
                ),
            )
            .env("CASEFLOW_HOME", env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run caseflow");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn organisations_and_users_are_administered_from_the_command_line() {
    let db = Db::new();
    let migrated = db.run(&["migrate"], "");
    assert_eq!(
        migrated.status.code(),
        Some(0),
        "{}",
        text(&migrated.stderr)
    );

    assert_eq!(
        db.run(&["org", "add", "Te Whare Awhina"], "").status.code(),
        Some(0)
    );
    let again = db.run(&["org", "add", "Te Whare Awhina"], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("an organisation with this name exists"),
        "{}",
        text(&again.stderr)
    );

    let args = [
        "user",
        "add",
        "--org",
        "Te Whare Awhina",
        "--email",
        "Mere@Example.org",
        "--roles",
        "clinician,team_leader",
        "--password-stdin",
    ];
    let added = db.run(&args, "a long enough passphrase\n");
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains(
        "user mere@example.org added to Te Whare Awhina with roles clinician,team_leader"
    ));

    let short = db.run(&args, "short\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(text(&short.stderr).contains("at least 12 characters"));

    let mut unknown = args;
    unknown[3] = "Nowhere";
    let missing = db.run(&unknown, "a long enough passphrase\n");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no organisation `Nowhere`"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn bench_prints_its_numbers_last_and_the_trail_verifies() {
    let db = Db::new();
    let bench = db.run(
        &["bench", "--cases", "40", "--concurrency", "4", "--single"],
        "",
    );
    assert_eq!(bench.status.code(), Some(0), "{}", text(&bench.stderr));
    let out = text(&bench.stdout);
    assert!(
        out.lines()
            .any(|line| line.starts_with("floor_transitions_per_s=")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|line| line.starts_with("single_transitions_per_s=")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|line| line.starts_with("group_commit_gain=")),
        "{out}"
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("transitions_per_s=")
            && last.contains(" p50_ms=")
            && last.contains(" p99_ms="),
        "{out}"
    );

    let verified = db.run(&["verify-audit"], "");
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stdout)
    );
    assert!(
        text(&verified.stdout).contains("verified 120 case trail(s): 0 break(s)"),
        "{}",
        text(&verified.stdout)
    );

    // The floor, and the floor again one transaction per write, write the
    // engine's own rows for more sets of the same cases: every kind of row
    // comes in threes.
    let file = rusqlite::Connection::open(db.dir.path().join("cf.db")).expect("open the database");
    for sql in [
        "SELECT state || ' v' || version || ' ' || length(data), COUNT(*) FROM cases GROUP BY 1",
        "SELECT coalesce(transition, '(opened)') || ' ' || length(changes) || ' ' || length(coalesce(form, '')), COUNT(*) FROM audit_entries GROUP BY 1",
        // Not the payloads' length: a deadline's time has 3 or 6 decimals.
        "SELECT kind, COUNT(*) FROM outbox GROUP BY 1",
    ] {
        let mut query = file.prepare(sql).expect("prepare");
        let groups: Vec<(String, i64)> = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(!groups.is_empty(), "{sql}");
        assert!(
            groups.iter().all(|(_, count)| count % 3 == 0),
            "the floor's rows differ from the engine's: {groups:?}"
        );
    }
}

#[test]
fn a_bad_database_url_is_a_configuration_error() {
    let db = Db::new();
    let output = Command::new(env!("CARGO_BIN_EXE_caseflow"))
        .arg("migrate")
        .current_dir(db.dir.path())
        .env("DATABASE_URL", "mysql://nowhere/db")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains(
            "DATABASE_URL: `mysql://nowhere/db` is neither sqlite://... nor postgres://..."
        ),
        "{}",
        text(&output.stderr)
    );
}
