//! HTTP load on the real service: starts `caseflow serve` as a child process,
//! opens referral cases over the API, then measures reads and moves at each
//! concurrency. Every worker owns one keep-alive HTTP/1 connection.
//!
//! `cargo bench --bench http_load`, tuned by BENCH_CASES (5000),
//! BENCH_CONCURRENCY ("32,64"), BENCH_SECONDS (10, per read phase),
//! BENCH_DATABASE_URL (default: a fresh SQLite file in a temporary directory)
//! and BENCH_MIXED_CASES (0): with more, a last phase at the highest level
//! where half the clients move that many more cases while the others read,
//! as staff do at once in a deployment.

use std::fmt;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ADMIN_EMAIL: &str = "admin@localhost";
const ADMIN_PASSWORD: &str = "http-load-bench-password";
const READY_LINE: &str = "caseflow is listening on http://";
/// A phase with more failed requests than this fraction fails the bench.
const MAX_ERROR_RATE: f64 = 0.01;
/// Enough error bodies per phase to see the pattern, not a flood.
const SHOWN_ERRORS: usize = 5;

struct Config {
    cases: usize,
    concurrency: Vec<usize>,
    read_for: Duration,
    database_url: Option<String>,
    mixed_cases: usize,
}

fn positive(name: &str, text: &str) -> Result<usize> {
    match text.trim().parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name}: `{text}` is not a positive number").into()),
    }
}

fn env_number(name: &str, default: usize) -> Result<usize> {
    std::env::var(name).map_or(Ok(default), |text| positive(name, &text))
}

impl Config {
    fn from_env() -> Result<Self> {
        let levels = std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "32,64".to_owned());
        let concurrency = levels
            .split(',')
            .map(|level| positive("BENCH_CONCURRENCY", level))
            .collect::<Result<Vec<_>>>()?;
        let cases = env_number("BENCH_CASES", 5000)?;
        // Each fire phase needs its own unmoved cases, at least one per worker.
        let needed = concurrency.iter().max().unwrap_or(&1) * concurrency.len();
        if cases < needed {
            return Err(format!("BENCH_CASES must be at least {needed} for these levels").into());
        }
        let seconds = env_number("BENCH_SECONDS", 10)?;
        let mixed_cases = match std::env::var("BENCH_MIXED_CASES") {
            Ok(text) if text.trim() != "0" => positive("BENCH_MIXED_CASES", &text)?,
            _ => 0,
        };
        if mixed_cases > 0 && mixed_cases < mixed_clients(&concurrency).0 {
            return Err("BENCH_MIXED_CASES must be at least one per firing client".into());
        }
        Ok(Self {
            cases,
            concurrency,
            read_for: Duration::from_secs(seconds as u64),
            database_url: std::env::var("BENCH_DATABASE_URL").ok(),
            mixed_cases,
        })
    }
}

/// The mixed phase's clients at the highest level: (firing, reading).
fn mixed_clients(concurrency: &[usize]) -> (usize, usize) {
    let level = concurrency.iter().copied().max().unwrap_or(2).max(2);
    (level / 2, level - level / 2)
}

/// The service under test; stopped when dropped, so a failed phase leaves no server behind.
struct Server {
    child: Child,
}

impl Server {
    /// Starts the service and returns it with the address it listens on.
    fn start(database_url: &str, workdir: &Path) -> Result<(Self, String)> {
        let child = Command::new(env!("CARGO_BIN_EXE_caseflow"))
            .arg("serve")
            // Away from the repository so a stray caseflow.toml cannot change the settings.
            .current_dir(workdir)
            .env("CASEFLOW_HOME", env!("CARGO_MANIFEST_DIR"))
            .env("CASEFLOW_ADDR", "127.0.0.1:0")
            .env("CASEFLOW_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CASEFLOW_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start caseflow serve: {error}"))?;
        let mut server = Self { child };
        let stdout = server
            .child
            .stdout
            .take()
            .ok_or("no stdout from caseflow serve")?;
        let (found, address) = mpsc::channel();
        // Keeps draining after the address so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|line| line.ok()) {
                if let Some(addr) = line.strip_prefix(READY_LINE) {
                    let _ = found.send(addr.trim().to_owned());
                }
            }
        });
        match address.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => Ok((server, addr)),
            Err(RecvTimeoutError::Disconnected) => {
                let status = server.child.wait()?;
                Err(format!("caseflow serve exited before listening ({status})").into())
            }
            Err(RecvTimeoutError::Timeout) => {
                Err("caseflow serve did not listen within 60 s".into())
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the service finishes requests and closes the database cleanly.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one worker (and, merged, one phase) saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    errors: usize,
    latencies: Vec<Duration>,
    shown: Vec<String>,
    /// Ids of the cases opened (creation phase only).
    opened: Vec<String>,
}

/// One keep-alive connection, used by one worker at a time.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    token: Option<Arc<str>>,
}

impl Client {
    async fn connect(addr: &str, token: Option<Arc<str>>) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        // Small requests on a reused connection: Nagle would add delayed-ACK stalls.
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: addr.to_owned(),
            token,
        })
    }

    /// Sends, times and tallies one request; the reply when it has the `expected` status.
    async fn call(
        &mut self,
        tally: &mut Tally,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<Option<Bytes>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(value)?)
            }
            None => Bytes::new(),
        };
        let started = Instant::now();
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Full::new(body))?)
            .await?;
        let status = response.status();
        let reply = response.into_body().collect().await?.to_bytes();
        tally.latencies.push(started.elapsed());
        if status == expected {
            tally.ok += 1;
            return Ok(Some(reply));
        }
        tally.errors += 1;
        if tally.shown.len() < SHOWN_ERRORS {
            let reply = String::from_utf8_lossy(&reply);
            tally.shown.push(format!("{path} -> {status}: {reply}"));
        }
        Ok(None)
    }
}

struct Outcome {
    phase: &'static str,
    concurrency: usize,
    elapsed: Duration,
    tally: Tally,
}

impl Outcome {
    fn requests(&self) -> usize {
        self.tally.ok + self.tally.errors
    }

    /// Milliseconds; the latencies are sorted.
    fn percentile(&self, p: f64) -> f64 {
        let latencies = &self.tally.latencies;
        let rank = (p / 100.0 * latencies.len().saturating_sub(1) as f64).round() as usize;
        latencies
            .get(rank)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    }

    fn failed(&self) -> bool {
        self.tally.errors as f64 > self.requests() as f64 * MAX_ERROR_RATE
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_second = self.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "phase={} concurrency={} requests={} errors={} req_per_s={per_second:.0} p50_ms={:.2} p99_ms={:.2}",
            self.phase,
            self.concurrency,
            self.requests(),
            self.tally.errors,
            self.percentile(50.0),
            self.percentile(99.0),
        )
    }
}

/// Connects `concurrency` clients, then times only the work they do.
async fn phase<W, F>(
    phase: &'static str,
    concurrency: usize,
    addr: &str,
    token: &Arc<str>,
    work: W,
) -> Result<Outcome>
where
    W: Fn(Client) -> F,
    F: Future<Output = Result<Tally>> + Send + 'static,
{
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        clients.push(Client::connect(addr, Some(token.clone())).await?);
    }
    let started = Instant::now();
    let workers: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(work(client)))
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        let one = worker.await??;
        tally.ok += one.ok;
        tally.errors += one.errors;
        tally.latencies.extend(one.latencies);
        tally.shown.extend(one.shown);
        tally.opened.extend(one.opened);
    }
    let elapsed = started.elapsed();
    tally.latencies.sort_unstable();
    let outcome = Outcome {
        phase,
        concurrency,
        elapsed,
        tally,
    };
    println!("{outcome}");
    for shown in outcome.tally.shown.iter().take(SHOWN_ERRORS) {
        println!("  {shown}");
    }
    Ok(outcome)
}

/// An adult client, so consent needs no guardian, with data valid for referral_case.json.
fn referral(index: usize) -> Value {
    json!({
        "workflow": "referral",
        "data": {
            "client": {
                "name": format!("Load client {index}"), "date_of_birth": "1990-05-17",
                "cultural_identity": ["maori"], "primary_language": "en", "interpreter_needed": false
            },
            "referrer": { "name": "Dr Load", "organisation": "Load GP", "email": "gp@example.org" },
            "reason": "HTTP load benchmark"
        }
    })
}

/// The happy path of the workflow's scenarios: individual counselling, so
/// record_consent ends in `enrolled` whatever the start date.
fn happy_path() -> Vec<(&'static str, Value)> {
    let assessment = json!({"risk_level": "medium", "presenting_issue": "Low mood",
        "interpreter_needed": false, "safety_plan_in_place": false});
    let program = json!({"program": "individual_counselling", "key_worker": "kw@example.org",
        "start_date": "2027-01-11"});
    // Far ahead: the guard refuses consent that has expired by today.
    let consent =
        json!({"consents": [{"type": "treatment", "given": true, "expiry_date": "2099-12-31"}]});
    vec![
        ("assess", json!({ "form": assessment })),
        ("assign_program", json!({ "form": program })),
        ("request_consent", json!({})),
        ("record_consent", json!({ "form": consent })),
    ]
}

async fn login(addr: &str) -> Result<Arc<str>> {
    let mut client = Client::connect(addr, None).await?;
    let mut tally = Tally::default();
    let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
    let reply = client
        .call(
            &mut tally,
            Method::POST,
            "/api/v1/auth/login",
            Some(&body),
            StatusCode::OK,
        )
        .await?
        .ok_or_else(|| format!("cannot sign in: {}", tally.shown.concat()))?;
    let reply: Value = serde_json::from_slice(&reply)?;
    Ok(reply["token"]
        .as_str()
        .ok_or("the sign-in reply has no token")?
        .into())
}

fn claim(next: &AtomicUsize, limit: usize) -> Option<usize> {
    let index = next.fetch_add(1, Ordering::Relaxed);
    (index < limit).then_some(index)
}

async fn open_cases(mut client: Client, next: Arc<AtomicUsize>, cases: usize) -> Result<Tally> {
    let mut tally = Tally::default();
    while let Some(index) = claim(&next, cases) {
        let body = Some(&referral(index));
        let created = client.call(
            &mut tally,
            Method::POST,
            "/api/v1/cases",
            body,
            StatusCode::CREATED,
        );
        if let Some(reply) = created.await? {
            let case: Value = serde_json::from_slice(&reply)?;
            let id = case["id"].as_str().ok_or("a created case has no id")?;
            tally.opened.push(id.to_owned());
        }
    }
    Ok(tally)
}

/// When readers stop.
#[derive(Clone)]
enum Until {
    Time(Instant),
    /// Once the mixed phase's fires are done.
    FiresDone(Arc<AtomicBool>),
}

impl Until {
    fn reached(&self) -> bool {
        match self {
            Self::Time(at) => Instant::now() >= *at,
            Self::FiresDone(done) => done.load(Ordering::Relaxed),
        }
    }
}

async fn read_cases(
    mut client: Client,
    next: Arc<AtomicUsize>,
    ids: Arc<[String]>,
    until: Until,
) -> Result<Tally> {
    let mut tally = Tally::default();
    while !until.reached() {
        let path = format!(
            "/api/v1/cases/{}",
            ids[next.fetch_add(1, Ordering::Relaxed) % ids.len()]
        );
        client
            .call(&mut tally, Method::GET, &path, None, StatusCode::OK)
            .await?;
    }
    Ok(tally)
}

/// Each case is claimed by one worker for its whole path, so no two moves on a case race.
async fn move_cases(
    mut client: Client,
    next: Arc<AtomicUsize>,
    ids: Arc<[String]>,
    steps: Arc<Vec<(&'static str, Value)>>,
) -> Result<Tally> {
    let mut tally = Tally::default();
    while let Some(index) = claim(&next, ids.len()) {
        for (name, body) in steps.iter() {
            let path = format!("/api/v1/cases/{}/transitions/{name}", ids[index]);
            let moved = client.call(&mut tally, Method::POST, &path, Some(body), StatusCode::OK);
            // After a refusal the later steps would only fail on the state it left.
            if moved.await?.is_none() {
                break;
            }
        }
    }
    Ok(tally)
}

async fn run(config: &Config) -> Result<Vec<Outcome>> {
    let workdir = tempfile::tempdir()?;
    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}/bench.db?mode=rwc", workdir.path().display()),
    };
    let (server, addr) = Server::start(&database_url, workdir.path())?;
    let scheme = database_url.split(':').next().unwrap_or("?");
    println!(
        "caseflow at {addr} on {scheme}: {} cases, concurrency {:?}",
        config.cases, config.concurrency
    );
    let token = login(&addr).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let open = |client| open_cases(client, next.clone(), config.cases + config.mixed_cases);
    let mut created = phase("create", config.concurrency[0], &addr, &token, open).await?;
    let ids: Arc<[String]> = std::mem::take(&mut created.tally.opened).into();
    let mut outcomes = vec![created];
    if ids.is_empty() {
        return Err("no case was created".into());
    }

    for &level in &config.concurrency {
        let next = Arc::new(AtomicUsize::new(0));
        let until = Until::Time(Instant::now() + config.read_for);
        let read = |client| read_cases(client, next.clone(), ids.clone(), until.clone());
        outcomes.push(phase("read", level, &addr, &token, read).await?);
    }

    // A moved case cannot take the same path again: each fire phase gets its own share.
    let (fired, mixed) = ids.split_at(ids.len().saturating_sub(config.mixed_cases));
    let share = fired.len() / config.concurrency.len();
    let steps = Arc::new(happy_path());
    for (round, &level) in config.concurrency.iter().enumerate() {
        let mine: Arc<[String]> = fired[round * share..(round + 1) * share].into();
        let next = Arc::new(AtomicUsize::new(0));
        let fire = |client| move_cases(client, next.clone(), mine.clone(), steps.clone());
        outcomes.push(phase("fire", level, &addr, &token, fire).await?);
    }
    if !mixed.is_empty() {
        let (firing_clients, reading_clients) = mixed_clients(&config.concurrency);
        let mine: Arc<[String]> = mixed.into();
        let (next_fire, next_read) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let fires_done = Arc::new(AtomicBool::new(false));
        let fire = |client| move_cases(client, next_fire.clone(), mine.clone(), steps.clone());
        let until = Until::FiresDone(fires_done.clone());
        let read = |client| read_cases(client, next_read.clone(), ids.clone(), until.clone());
        let fires = async {
            let fires = phase("mixed_fire", firing_clients, &addr, &token, fire).await;
            // Readers stop with the fires, also when those could not start.
            fires_done.store(true, Ordering::Relaxed);
            fires
        };
        let (fires, reads) = tokio::join!(
            fires,
            phase("mixed_read", reading_clients, &addr, &token, read),
        );
        outcomes.push(fires?);
        outcomes.push(reads?);
    }
    drop(server);
    Ok(outcomes)
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcomes = match Config::from_env() {
        Ok(config) => run(&config).await,
        Err(error) => Err(error),
    };
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(error) => {
            eprintln!("http_load: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("\nsummary:");
    for outcome in &outcomes {
        println!("  {outcome}");
    }
    let mut verdict = ExitCode::SUCCESS;
    for o in outcomes.iter().filter(|o| o.failed()) {
        let (errors, requests) = (o.tally.errors, o.requests());
        eprintln!(
            "http_load: FAILED: {errors} of {requests} {} requests at concurrency {} failed (over 1%)",
            o.phase, o.concurrency
        );
        verdict = ExitCode::FAILURE;
    }
    verdict
}
