//! Engine inputs built in memory: source files, a catalog that must load
//! cleanly, and a fixed clock.

use caseflow::engine::{Catalog, SourceFile, Sources};
use chrono::{DateTime, Utc};

pub fn source(path: &str, name: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        name: name.to_owned(),
        text: text.to_owned(),
    }
}

/// The catalog of `sources`, which must have no problem at all.
pub fn clean_catalog(sources: &Sources) -> Catalog {
    let (catalog, diagnostics) = Catalog::load(sources);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    catalog
}

/// 1 March 2025, 10:00 UTC.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}
