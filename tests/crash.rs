//! A `caseflow bench` process killed with SIGKILL mid-run loses no
//! acknowledged move and leaves no half-written one, on both databases.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::db::databases;
use uuid::Uuid;

const ACKS_BEFORE_KILL: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_loses_no_acknowledged_move() {
    for db in databases().await {
        let dir = tempfile::tempdir().expect("temp dir");
        let acks = dir.path().join("acks.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseflow"))
            .args([
                "bench",
                "--cases",
                "100000",
                "--concurrency",
                "8",
                "--no-floor",
                "--ack-log",
            ])
            .arg(&acks)
            .env("DATABASE_URL", &db.url)
            .env("CASEFLOW_HOME", env!("CARGO_MANIFEST_DIR"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bench");
        let started = Instant::now();
        loop {
            let lines = std::fs::read_to_string(&acks)
                .map(|text| text.lines().count())
                .unwrap_or(0);
            if lines >= ACKS_BEFORE_KILL {
                break;
            }
            assert!(
                child.try_wait().expect("poll").is_none(),
                "{}: the bench ended before it was killed",
                db.kind
            );
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{}: too few moves acknowledged",
                db.kind
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let mut acknowledged: HashMap<Uuid, i64> = HashMap::new();
        for line in std::fs::read_to_string(&acks).expect("acks").lines() {
            let Some((id, version)) = line.split_once(' ') else {
                continue;
            };
            let (Ok(id), Ok(version)) = (id.parse::<Uuid>(), version.parse::<i64>()) else {
                continue;
            };
            let seen = acknowledged.entry(id).or_default();
            *seen = (*seen).max(version);
        }
        assert!(acknowledged.len() >= 10, "{}", db.kind);

        let store = db.store().await;
        let orgs = store.orgs().await.expect("orgs");
        assert_eq!(
            orgs.len(),
            1,
            "{}: the bench made one organisation",
            db.kind
        );
        for (id, version) in &acknowledged {
            let case = store
                .case(orgs[0].id, *id)
                .await
                .unwrap_or_else(|e| panic!("{}: acknowledged case {id} lost: {e}", db.kind));
            assert!(
                case.version >= *version,
                "{}: case {id} acknowledged at {version}, stored at {}",
                db.kind,
                case.version
            );
        }
        let (cases, breaks) = store.verify_audit(None).await.expect("verify");
        assert!(cases >= acknowledged.len(), "{}", db.kind);
        assert!(
            breaks.is_empty(),
            "{}: half-written moves: {breaks:?}",
            db.kind
        );
        store.close().await;
    }
}
