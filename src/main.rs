use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use caseflow::bench::BenchOptions;
use caseflow::commands;
use caseflow::config::Settings;

// glibc's allocator spent a fifth of the bench in malloc/free across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Declarative workflow and rules engine for community-services case management.
#[derive(Parser)]
#[command(name = "caseflow", version, about)]
struct Cli {
    /// Root holding workflows/ rules/ schemas/ templates/ [default: .]
    #[arg(long, env = "CASEFLOW_HOME", global = true)]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (on a new database: migrate and create the first admin).
    Serve,
    /// Validate workflow definitions, their rules and schemas, without a database.
    Check {
        /// Workflow files, workflows/ folders or homes; default: the home's workflows.
        paths: Vec<PathBuf>,
    },
    /// Run the `tests:` scenarios embedded in workflow files.
    Test { paths: Vec<PathBuf> },
    /// Draw a workflow's state machine.
    Diagram {
        file: PathBuf,
        /// svg, mermaid or dot.
        #[arg(long, default_value = "svg")]
        format: String,
    },
    /// Print the JSON Schema of the workflow file format.
    Schema,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Recompute the audit hash chains and report any break.
    VerifyAudit {
        /// Only this case.
        #[arg(long)]
        case: Option<uuid::Uuid>,
    },
    /// Apply the retention policies now (anonymise, delete, purge closed cases).
    Retention {
        /// List per case and field what would happen, changing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Act as if it were this time (RFC 3339), e.g. to preview next year.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Drive referral cases through the engine and the configured database.
    Bench {
        /// Referral cases to open and take through their script (3.7 moves each on average).
        #[arg(long, default_value_t = 2000)]
        cases: usize,
        /// Cases moved at once, each by a task of its own.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Skip measuring the storage floor (it makes every case's rows in
        /// memory before its clock starts: about 40 KB a case).
        #[arg(long)]
        no_floor: bool,
        /// Also write the floor's rows with each write in a transaction of its
        /// own, from as many connections as `--concurrency` (one on SQLite), and
        /// report what group commit gains over that (its rows too are made in
        /// memory before its clock starts).
        #[arg(long)]
        single: bool,
        /// Append `CASE_ID VERSION` after every acknowledged move (crash tests).
        #[arg(long, hide = true)]
        ack_log: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OrgAction {
    /// Create an organisation.
    Add { name: String },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user; the password is read from standard input.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Comma-separated, e.g. intake_worker,clinician.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            let code = if error.use_stderr() {
                commands::EXIT_USAGE
            } else {
                commands::EXIT_OK
            };
            return ExitCode::from(code);
        }
    };
    // Not locked for the whole run: log lines from worker threads also write to stderr.
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let home = cli.home.clone().unwrap_or_else(|| PathBuf::from("."));
    let code = match &cli.command {
        Command::Check { paths } => commands::check(paths, &home, &mut out, &mut err),
        Command::Test { paths } => commands::test(paths, &home, &mut out, &mut err),
        Command::Diagram { file, format } => commands::diagram(file, format, &mut out, &mut err),
        Command::Schema => print_schema(&mut out, &mut err),
        other => with_database(&cli, other, &mut out, &mut err),
    };
    ExitCode::from(code)
}

fn print_schema(out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match serde_json::to_string_pretty(&caseflow::engine::workflow_json_schema()) {
        Ok(text) => {
            let _ = writeln!(out, "{text}");
            commands::EXIT_OK
        }
        Err(error) => {
            let _ = writeln!(err, "caseflow schema: {error}");
            commands::EXIT_PROBLEMS
        }
    }
}

/// The verbs that need settings, a runtime and a database.
fn with_database(cli: &Cli, command: &Command, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut settings = match Settings::load(&PathBuf::from(".")) {
        Ok(settings) => settings,
        Err(error) => {
            let _ = writeln!(err, "caseflow: configuration: {error}");
            return commands::EXIT_USAGE;
        }
    };
    if let Some(home) = &cli.home {
        settings.home = home.clone();
    }
    if matches!(command, Command::Serve) {
        let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let logs = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        if settings.log_json {
            logs.json().with_current_span(true).init();
        } else {
            logs.init();
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(err, "caseflow: cannot start the async runtime: {error}");
            return commands::EXIT_PROBLEMS;
        }
    };
    runtime.block_on(async {
        match command {
            Command::Serve => caseflow::serve::serve(&settings, out, err).await,
            Command::Migrate => commands::migrate(&settings, out, err).await,
            Command::Org {
                action: OrgAction::Add { name },
            } => commands::org_add(&settings, name, out, err).await,
            Command::User {
                action:
                    UserAction::Add {
                        org, email, roles, ..
                    },
            } => {
                let mut password = String::new();
                if std::io::stdin().read_to_string(&mut password).is_err() {
                    let _ = writeln!(
                        err,
                        "caseflow user add: cannot read the password from standard input"
                    );
                    return commands::EXIT_USAGE;
                }
                let password = password.trim_end_matches(['\r', '\n']);
                let user = commands::NewUser {
                    org,
                    email,
                    roles,
                    password,
                };
                commands::user_add(&settings, &user, out, err).await
            }
            Command::VerifyAudit { case } => {
                commands::verify_audit(&settings, *case, out, err).await
            }
            Command::Retention { dry_run, at } => {
                commands::retention(&settings, *dry_run, *at, out, err).await
            }
            Command::Bench {
                cases,
                concurrency,
                no_floor,
                single,
                ack_log,
            } => {
                let options = BenchOptions {
                    cases: *cases,
                    concurrency: *concurrency,
                    ack_log: ack_log.clone(),
                    floor: !no_floor,
                    single: *single,
                };
                commands::bench(&settings, &options, out, err).await
            }
            Command::Check { .. }
            | Command::Test { .. }
            | Command::Diagram { .. }
            | Command::Schema => commands::EXIT_USAGE,
        }
    })
}
