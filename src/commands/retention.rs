//! `caseflow retention [--dry-run]`: applies the retention policies now, or
//! lists per case and field what applying them would do.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::store::open_for;
use super::{EXIT_OK, EXIT_PROBLEMS};
use crate::config::Settings;
use crate::engine::Catalog;
use crate::service::{PlannedStep, Service};

pub async fn retention(
    settings: &Settings,
    dry_run: bool,
    at: Option<DateTime<Utc>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let sources = crate::home::load_sources(&settings.home, None);
    let (catalog, _) = Catalog::load(&sources);
    let Some(store) = open_for(settings, "retention", err).await else {
        return super::EXIT_USAGE;
    };
    let clock: crate::service::Clock = match at {
        Some(at) => Arc::new(move || at),
        None => Arc::new(Utc::now),
    };
    let service = Service::new(store.clone(), Arc::new(catalog), clock);
    let bar = indicatif::ProgressBar::new_spinner().with_message(if dry_run {
        "previewing retention"
    } else {
        "applying retention"
    });
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} closed case(s) seen")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let result = service
        .retention(settings.retention, dry_run, &|seen| {
            bar.set_position(seen as u64)
        })
        .await;
    bar.finish_and_clear();
    store.close().await;
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = writeln!(err, "caseflow retention: {error}");
            return EXIT_PROBLEMS;
        }
    };
    for step in &summary.steps {
        let _ = writeln!(out, "{}", describe(step, dry_run));
    }
    for (case, problem) in &summary.failed {
        let _ = writeln!(err, "caseflow retention: case {case}: {problem}");
    }
    let _ = writeln!(
        out,
        "{} {} step(s) on {} closed case(s); {} under legal hold; {} failed",
        if dry_run { "would apply" } else { "applied" },
        summary.steps.len(),
        summary.cases_seen,
        summary.on_hold,
        summary.failed.len()
    );
    if summary.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }
}

fn describe(step: &PlannedStep, dry_run: bool) -> String {
    let fields = if step.fields.is_empty() {
        "(no fields)".to_owned()
    } else {
        step.fields.join(" ")
    };
    let entries = if step.entries.is_empty() {
        String::new()
    } else {
        format!(
            "; trail entries {}",
            step.entries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    format!(
        "{}case {} ({} in {}, closed {}): {} {}{}",
        if dry_run { "would " } else { "" },
        step.case_id,
        step.workflow,
        step.state,
        step.closed_at.format("%Y-%m-%d"),
        step.step,
        fields,
        entries
    )
}
