//! Verbs that work on the database: migrate, org add, user add, verify-audit, bench.

use std::io::Write;
use std::sync::Arc;

use uuid::Uuid;

use super::{EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE};
use crate::bench::{BenchOptions, Measured, engine_phase, floor_phase};
use crate::config::Settings;
use crate::engine::Catalog;
use crate::passwords::hash_password;
use crate::service::Service;
use crate::storage::{Commits, Store};

/// Connects and migrates, saying what went wrong in one line.
pub async fn open(settings: &Settings) -> Result<Store, String> {
    let store = Store::connect(&settings.database_url, settings.sqlite_durability)
        .await
        .map_err(|error| format!("cannot open {}: {error}", redact(&settings.database_url)))?;
    store
        .migrate()
        .await
        .map_err(|error| format!("cannot migrate the database: {error}"))?;
    Ok(store)
}

/// Opens the database, or says why not under the verb's name.
pub(super) async fn open_for(
    settings: &Settings,
    verb: &str,
    err: &mut dyn Write,
) -> Option<Store> {
    match open(settings).await {
        Ok(store) => Some(store),
        Err(message) => {
            let _ = writeln!(err, "caseflow {verb}: {message}");
            None
        }
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub async fn migrate(settings: &Settings, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match open(settings).await {
        Ok(store) => {
            let _ = writeln!(
                out,
                "migrated {} ({})",
                redact(&settings.database_url),
                store.dialect()
            );
            store.close().await;
            EXIT_OK
        }
        Err(message) => {
            let _ = writeln!(err, "caseflow migrate: {message}");
            EXIT_USAGE
        }
    }
}

pub async fn org_add(
    settings: &Settings,
    name: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let Some(store) = open_for(settings, "org add", err).await else {
        return EXIT_USAGE;
    };
    let code = match store.create_org(name.trim(), chrono::Utc::now()).await {
        Ok(org) => {
            let _ = writeln!(out, "organisation {} created ({})", org.name, org.id);
            EXIT_OK
        }
        Err(error) => {
            let _ = writeln!(err, "caseflow org add: {error}");
            EXIT_PROBLEMS
        }
    };
    store.close().await;
    code
}

pub struct NewUser<'a> {
    pub org: &'a str,
    pub email: &'a str,
    pub roles: &'a [String],
    pub password: &'a str,
}

pub async fn user_add(
    settings: &Settings,
    user: &NewUser<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    if user.password.chars().count() < 12 {
        let _ = writeln!(
            err,
            "caseflow user add: the password must be at least 12 characters"
        );
        return EXIT_USAGE;
    }
    if !user.email.contains('@') {
        let _ = writeln!(
            err,
            "caseflow user add: `{}` is not an e-mail address",
            user.email
        );
        return EXIT_USAGE;
    }
    let Some(store) = open_for(settings, "user add", err).await else {
        return EXIT_USAGE;
    };
    let result = async {
        let org = store.org_by_name(user.org).await.map_err(|_| {
            format!(
                "no organisation `{}` (create it with `caseflow org add`)",
                user.org
            )
        })?;
        let hash = hash_password(user.password).map_err(|error| error.to_string())?;
        store
            .create_user(
                org.id,
                &user.email.to_lowercase(),
                &hash,
                user.roles,
                chrono::Utc::now(),
            )
            .await
            .map_err(|error| error.to_string())
    }
    .await;
    store.close().await;
    match result {
        Ok(created) => {
            let _ = writeln!(
                out,
                "user {} added to {} with roles {}",
                created.email,
                user.org,
                created.roles.join(",")
            );
            EXIT_OK
        }
        Err(message) => {
            let _ = writeln!(err, "caseflow user add: {message}");
            EXIT_PROBLEMS
        }
    }
}

pub async fn verify_audit(
    settings: &Settings,
    case: Option<Uuid>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let Some(store) = open_for(settings, "verify-audit", err).await else {
        return EXIT_USAGE;
    };
    let result = store.verify_audit(case).await;
    store.close().await;
    match result {
        Ok((cases, breaks)) => {
            for found in &breaks {
                let _ = writeln!(
                    out,
                    "case {} entry {}: {}",
                    found.case_id, found.seq, found.problem
                );
            }
            let _ = writeln!(
                out,
                "verified {cases} case trail(s): {} break(s)",
                breaks.len()
            );
            if breaks.is_empty() {
                EXIT_OK
            } else {
                EXIT_PROBLEMS
            }
        }
        Err(error) => {
            let _ = writeln!(err, "caseflow verify-audit: {error}");
            EXIT_PROBLEMS
        }
    }
}

pub async fn bench(
    settings: &Settings,
    options: &BenchOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let sources = crate::home::load_sources(&settings.home, None);
    let (catalog, diagnostics) = Catalog::load(&sources);
    if let Some(problem) = diagnostics.iter().find(|d| d.is_error()) {
        let _ = writeln!(
            err,
            "caseflow bench: the definitions in {} have errors, e.g. {problem}",
            settings.home.display()
        );
        return EXIT_PROBLEMS;
    }
    let Some(referral) = sources
        .workflows
        .iter()
        .find(|file| file.name == "referral")
    else {
        let _ = writeln!(
            err,
            "caseflow bench: no workflows/referral.yaml in {}",
            settings.home.display()
        );
        return EXIT_USAGE;
    };
    let Some(store) = open_for(settings, "bench", err).await else {
        return EXIT_USAGE;
    };
    let service = Arc::new(Service::new(
        store.clone(),
        Arc::new(catalog),
        Arc::new(chrono::Utc::now),
    ));
    let setup = async {
        let org = store
            .create_org(&format!("bench-{}", Uuid::now_v7()), chrono::Utc::now())
            .await?;
        let published = service
            .publish(org.id, &referral.path, &referral.text, "bench")
            .await
            .map_err(|error| crate::storage::StoreError::Conflict(error.to_string()))?;
        Ok::<_, crate::storage::StoreError>((org, published))
    };
    let (org, published) = match setup.await {
        Ok(found) => found,
        Err(error) => {
            let _ = writeln!(err, "caseflow bench: {error}");
            return EXIT_PROBLEMS;
        }
    };
    let _ = writeln!(
        out,
        "database={} cases={} concurrency={}",
        store.dialect(),
        options.cases,
        options.concurrency
    );
    // Compiled before the engine phase takes the service; the floor runs the
    // engine with it to make its rows ahead of its clock.
    let definition = match service
        .definition(org.id, "referral", published.version)
        .await
    {
        Ok(definition) => definition,
        Err(error) => {
            let _ = writeln!(err, "caseflow bench: {error}");
            return EXIT_PROBLEMS;
        }
    };
    let before = store.batch_counts();
    let measured = engine_phase(service, org.id, options).await;
    let (batches, writes) = store.batch_counts();
    let (batches, writes) = (batches - before.0, writes - before.1);
    // The engine runs first, on the same database state a fresh bench sees; the floor after it.
    let floor = floor_phase(
        store.clone(),
        org.id,
        options,
        &definition,
        published.version,
        "floor",
    );
    let floor = match reported(options.floor, "floor_", floor, out).await {
        Ok(floor) => floor,
        Err(error) => {
            let _ = writeln!(err, "caseflow bench: storage floor failed: {error}");
            return EXIT_PROBLEMS;
        }
    };
    let single = single_phase(settings, org.id, options, &definition, published.version);
    let single = match reported(options.single, "single_", single, out).await {
        Ok(single) => single,
        Err(error) => {
            let _ = writeln!(
                err,
                "caseflow bench: one transaction per write failed: {error}"
            );
            return EXIT_PROBLEMS;
        }
    };
    store.close().await;
    match measured {
        Ok(measured) => {
            if let Some(floor) = floor {
                let _ = writeln!(
                    out,
                    "engine_overhead={:.2}x",
                    floor.per_second() / measured.per_second().max(1e-9)
                );
            }
            if let Some(single) = single {
                let _ = writeln!(
                    out,
                    "group_commit_gain={:.2}x",
                    measured.per_second() / single.per_second().max(1e-9)
                );
            }
            let _ = writeln!(
                out,
                "writes_per_commit={:.1}",
                writes as f64 / batches.max(1) as f64
            );
            let _ = writeln!(out, "{}", phase_line("", &measured));
            EXIT_OK
        }
        Err(error) => {
            let _ = writeln!(err, "caseflow bench: {error}");
            EXIT_PROBLEMS
        }
    }
}

/// The floor's rows once more, on fresh cases, each write committed in a
/// transaction of its own from `concurrency` connections: what the engine's
/// moves would make without group commit.
async fn single_phase(
    settings: &Settings,
    org: Uuid,
    options: &BenchOptions,
    definition: &crate::engine::Definition,
    version: i64,
) -> Result<Measured, String> {
    let commits = Commits::Alone {
        writers: options.concurrency,
    };
    let store = Store::connect_with(&settings.database_url, settings.sqlite_durability, commits)
        .await
        .map_err(|error| error.to_string())?;
    let phase = "one transaction per write";
    let single = floor_phase(store.clone(), org, options, definition, version, phase).await;
    store.close().await;
    single
}

/// Runs `phase` if `wanted` and prints its line, its keys led by `key`.
async fn reported(
    wanted: bool,
    key: &str,
    phase: impl Future<Output = Result<Measured, String>>,
    out: &mut dyn Write,
) -> Result<Option<Measured>, String> {
    if !wanted {
        return Ok(None);
    }
    let measured = phase.await?;
    let _ = writeln!(out, "{}", phase_line(key, &measured));
    Ok(Some(measured))
}

/// `{key}transitions_per_s=X {key}p50_ms=Y {key}p99_ms=Z`.
fn phase_line(key: &str, measured: &Measured) -> String {
    format!(
        "{key}transitions_per_s={:.0} {key}p50_ms={:.2} {key}p99_ms={:.2}",
        measured.per_second(),
        measured.percentile_ms(50.0),
        measured.percentile_ms(99.0)
    )
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/caseflow"),
            "postgres://app:***@db:5432/caseflow"
        );
        assert_eq!(
            redact("postgres://app@db/caseflow"),
            "postgres://app@db/caseflow"
        );
        assert_eq!(
            redact("sqlite://caseflow.db?mode=rwc"),
            "sqlite://caseflow.db?mode=rwc"
        );
    }
}
