use std::io::Write;
use std::path::Path;

use super::{EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE};
use crate::engine::diagram::{DiagramFormat, render};
use crate::engine::parse_workflow;
use crate::home;

/// `caseflow diagram FILE --format svg|mermaid|dot`.
pub fn diagram(file: &Path, format: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let format: DiagramFormat = match format.parse() {
        Ok(format) => format,
        Err(message) => {
            let _ = writeln!(err, "caseflow diagram: {message}");
            return EXIT_USAGE;
        }
    };
    let shown = home::display(file);
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            let _ = writeln!(err, "caseflow diagram: {shown}: {error}");
            return EXIT_USAGE;
        }
    };
    let (parsed, diagnostics) = parse_workflow(&shown, &text);
    for diagnostic in &diagnostics {
        let _ = writeln!(err, "{diagnostic}");
    }
    match parsed {
        Some(parsed) => {
            let _ = out.write_all(render(&parsed.doc, format).as_bytes());
            EXIT_OK
        }
        None => EXIT_PROBLEMS,
    }
}
