use std::io::Write;
use std::path::{Path, PathBuf};

use super::{EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, targets};
use crate::engine::{Catalog, Severity};
use crate::home::{NOTIFY_TEMPLATES, load_sources};
use crate::mail::Templates;

/// `caseflow check [PATH...]`: every problem as `FILE:LINE:COL: error: MESSAGE`.
pub fn check(
    paths: &[PathBuf],
    default_home: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let targets = match targets(paths, default_home) {
        Ok(targets) => targets,
        Err(message) => {
            let _ = writeln!(err, "caseflow check: {message}");
            return EXIT_USAGE;
        }
    };
    let (mut workflows, mut errors, mut warnings) = (0, 0, 0);
    for target in targets {
        let sources = load_sources(&target.root, target.workflows.as_deref());
        workflows += sources.workflows.len();
        let (_, diagnostics) = Catalog::load(&sources);
        for diagnostic in diagnostics {
            match diagnostic.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            let _ = writeln!(out, "{diagnostic}");
        }
        // Templates compile here, not at 3 a.m. in the scheduler.
        if let Err(problems) = Templates::load(&target.root.join(NOTIFY_TEMPLATES)) {
            for problem in problems {
                errors += 1;
                let _ = writeln!(out, "{problem}");
            }
        }
    }
    let _ = writeln!(
        err,
        "checked {workflows} workflow{}: {errors} error{}, {warnings} warning{}",
        plural(workflows),
        plural(errors),
        plural(warnings)
    );
    if errors > 0 { EXIT_PROBLEMS } else { EXIT_OK }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
