//! `caseflow serve` as a process: first start bootstraps and prints how to sign
//! in, it answers on the port it printed, SIGTERM stops it cleanly, and a
//! restart on the same database creates nothing twice. A server killed with
//! SIGKILL and started again later fires each pending deadline once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    lines: Vec<String>,
    address: String,
}

fn start(dir: &std::path::Path) -> Server {
    start_in(dir, std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn start_in(dir: &std::path::Path, home: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caseflow"))
        .arg("serve")
        .current_dir(dir)
        .env("CASEFLOW_HOME", home)
        .env("CASEFLOW_ADDR", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env_remove("CASEFLOW_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read a line");
        lines.push(line.trim_end().to_owned());
    }
    let address = lines[0]
        .rsplit("http://")
        .next()
        .expect("address")
        .to_owned();
    Server {
        child,
        lines,
        address,
    }
}

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

fn terminate(mut server: Server) -> Option<i32> {
    let pid = server.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    server.child.wait().expect("wait").code()
}

#[test]
fn serve_bootstraps_answers_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path());
    assert!(
        server.lines[0].starts_with("caseflow is listening on http://127.0.0.1:"),
        "{:?}",
        server.lines
    );
    assert!(
        server.lines[1].starts_with(
            "created organisation `default`: sign in as admin@localhost with password "
        ),
        "{:?}",
        server.lines
    );
    let health = get(&server.address, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("{\"status\":\"ok\"}"), "{health}");
    let unknown = get(&server.address, "/nowhere");
    assert!(
        unknown.starts_with("HTTP/1.1 404") && unknown.contains("application/problem+json"),
        "{unknown}"
    );
    assert_eq!(terminate(server), Some(0), "SIGTERM is a clean stop");

    let again = start(dir.path());
    assert_eq!(
        again.lines[1],
        "sign in as admin@localhost with the password set when this database was created"
    );
    assert_eq!(terminate(again), Some(0));
}

const TIMER: &str = r#"workflow: timer
version: 1
title: Timer
initial: waiting
states:
  waiting:
    deadlines:
      - after: 4s
        fire: expire
  expired: { terminal: true }
transitions:
  expire:
    from: [waiting]
    to: expired
"#;

#[tokio::test]
async fn a_killed_server_fires_each_pending_deadline_once_after_restart() {
    use caseflow::engine::Catalog;
    use caseflow::rules::Actor;
    use caseflow::service::Service;
    use caseflow::storage::Store;
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("workflows")).expect("dir");
    std::fs::create_dir_all(home.join("templates/notify")).expect("dir");
    std::fs::write(home.join("workflows/timer.yaml"), TIMER).expect("write");
    let mut server = start_in(dir.path(), &home);

    // Open cases from another process on the same database, as a second
    // instance would; the server's dispatcher picks their deadlines up.
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("caseflow.db").display()
    );
    let store = Store::connect(&url, caseflow::config::Durability::Normal)
        .await
        .expect("connect");
    let (catalog, _) = Catalog::load(&caseflow::home::load_sources(&home, None));
    let service = Service::new(store.clone(), Arc::new(catalog), Arc::new(chrono::Utc::now));
    let org = store.orgs().await.expect("orgs")[0].id;
    let mut cases = Vec::new();
    for _ in 0..20 {
        let case = service
            .create_case(org, &Actor::system(), "timer", serde_json::json!({}), None)
            .await
            .expect("case");
        cases.push(case.id);
    }
    // Let the dispatcher queue the deadlines, then kill the server before any is due.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("wait");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let expired = |case| {
        let store = store.clone();
        async move {
            store
                .history(org, case)
                .await
                .expect("history")
                .iter()
                .filter(|entry| entry.transition.as_deref() == Some("expire"))
                .count()
        }
    };
    for case in &cases {
        assert_eq!(
            expired(*case).await,
            0,
            "nothing fires while the server is down"
        );
    }

    let again = start_in(dir.path(), &home);
    let started = std::time::Instant::now();
    for case in &cases {
        while expired(*case).await == 0 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(120),
                "case {case} never expired"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // Give a duplicate the chance to show itself.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for case in &cases {
        assert_eq!(expired(*case).await, 1, "case {case} fired once");
    }
    assert_eq!(terminate(again), Some(0));
    store.close().await;
}
