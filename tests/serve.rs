//! `caseflow serve` as a process: first start bootstraps and prints how to sign
//! in, it answers on the port it printed, SIGTERM stops it cleanly, and a
//! restart on the same database creates nothing twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    lines: Vec<String>,
    address: String,
}

fn start(dir: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caseflow"))
        .arg("serve")
        .current_dir(dir)
        .env("CASEFLOW_HOME", env!("CARGO_MANIFEST_DIR"))
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
