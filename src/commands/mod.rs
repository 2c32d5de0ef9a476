//! The command-line verbs, as library functions writing to the given outputs
//! and returning the process exit code (0 clean, 1 problems found, 2 bad usage).

mod check;
mod diagram;
mod retention;
mod store;
mod test;

use std::path::{Path, PathBuf};

use crate::home;

pub use check::check;
pub use diagram::diagram;
pub use retention::retention;
pub use store::{NewUser, bench, migrate, open, org_add, redact, user_add, verify_audit};
pub use test::test;

pub const EXIT_OK: u8 = 0;
pub const EXIT_PROBLEMS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// One home and the workflow files picked in it (`None`: all of them).
#[derive(Debug)]
struct Target {
    root: PathBuf,
    workflows: Option<Vec<PathBuf>>,
}

/// Groups command-line paths by home; no paths means the whole `default_home`.
fn targets(paths: &[PathBuf], default_home: &Path) -> Result<Vec<Target>, String> {
    if paths.is_empty() {
        return Ok(vec![Target {
            root: default_home.to_path_buf(),
            workflows: None,
        }]);
    }
    let mut targets: Vec<Target> = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(format!(
                "{}: no such file or directory",
                home::display(path)
            ));
        }
        let root = home::home_of(path);
        let files = if path.is_dir() {
            let dir = if path.join("workflows").is_dir() {
                path.join("workflows")
            } else {
                path.clone()
            };
            home::files_with(&dir, &["yaml", "yml"])
        } else {
            vec![path.clone()]
        };
        match targets.iter_mut().find(|target| target.root == root) {
            Some(target) => target.workflows.get_or_insert_with(Vec::new).extend(files),
            None => targets.push(Target {
                root,
                workflows: Some(files),
            }),
        }
    }
    for target in &mut targets {
        if let Some(files) = &mut target.workflows {
            files.sort();
            files.dedup();
        }
    }
    Ok(targets)
}
