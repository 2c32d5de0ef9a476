use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use caseflow::commands;

/// Declarative workflow and rules engine for community-services case management.
#[derive(Parser)]
#[command(name = "caseflow", version, about)]
struct Cli {
    /// Root holding workflows/ rules/ schemas/ templates/.
    #[arg(long, env = "CASEFLOW_HOME", default_value = ".", global = true)]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let code = match &cli.command {
        Command::Check { paths } => commands::check(paths, &cli.home, &mut out, &mut err),
        Command::Test { paths } => commands::test(paths, &cli.home, &mut out, &mut err),
        Command::Diagram { file, format } => commands::diagram(file, format, &mut out, &mut err),
        Command::Schema => {
            let schema = caseflow::engine::workflow_json_schema();
            match serde_json::to_string_pretty(&schema) {
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
    };
    ExitCode::from(code)
}
