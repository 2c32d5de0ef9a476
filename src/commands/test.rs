use std::io::Write;
use std::path::{Path, PathBuf};

use super::{EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, targets};
use crate::engine::Catalog;
use crate::engine::scenario::run_scenarios;
use crate::home::load_sources;

/// `caseflow test [PATH...]`: runs the embedded scenarios; `N passed, N failed` last.
pub fn test(
    paths: &[PathBuf],
    default_home: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let targets = match targets(paths, default_home) {
        Ok(targets) => targets,
        Err(message) => {
            let _ = writeln!(err, "caseflow test: {message}");
            return EXIT_USAGE;
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for target in targets {
        let sources = load_sources(&target.root, target.workflows.as_deref());
        let (catalog, diagnostics) = Catalog::load(&sources);
        for diagnostic in diagnostics.iter().filter(|d| d.is_error()) {
            let _ = writeln!(out, "{diagnostic}");
        }
        for file in &catalog.rejected {
            let _ = writeln!(out, "{file} ... FAILED (does not compile)");
            failed += 1;
        }
        for definition in catalog.definitions.values() {
            for report in run_scenarios(definition) {
                match &report.failure {
                    None => {
                        passed += 1;
                        let _ = writeln!(out, "{}: {} ... ok", report.workflow, report.name);
                    }
                    Some(failure) => {
                        failed += 1;
                        let _ = writeln!(
                            out,
                            "{}: {} ... FAILED\n    {failure}",
                            report.workflow, report.name
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    if failed > 0 { EXIT_PROBLEMS } else { EXIT_OK }
}
