//! `caseflow serve`: migrate, bootstrap the first organisation and its admin,
//! publish changed workflow files, and serve the API until SIGINT/SIGTERM,
//! letting requests in flight finish.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::commands::{EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, open};
use crate::config::Settings;
use crate::engine::Catalog;
use crate::http::{AppState, router};
use crate::jobs::{JobContext, Periodic, RetrySettings, Workers};
use crate::mail::{Mailer, Templates};
use crate::passwords::{generate_password, hash_password};
use crate::service::Service;
use crate::storage::Store;

pub async fn serve(settings: &Settings, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let sources = crate::home::load_sources(&settings.home, None);
    let (catalog, diagnostics) = Catalog::load(&sources);
    for problem in diagnostics.iter().filter(|d| d.is_error()) {
        let _ = writeln!(err, "{problem}");
    }
    let store = match open(settings).await {
        Ok(store) => store,
        Err(message) => {
            let _ = writeln!(err, "caseflow serve: {message}");
            return EXIT_USAGE;
        }
    };
    let sign_in = match bootstrap(&store, settings, &catalog).await {
        Ok(sign_in) => sign_in,
        Err(message) => {
            let _ = writeln!(
                err,
                "caseflow serve: cannot create the first organisation: {message}"
            );
            return EXIT_PROBLEMS;
        }
    };
    let service = Arc::new(Service::new(
        store.clone(),
        Arc::new(catalog),
        Arc::new(chrono::Utc::now),
    ));
    for line in service.sync_files(&sources).await {
        tracing::info!("{line}");
    }
    let listener = match tokio::net::TcpListener::bind(settings.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            let _ = writeln!(
                err,
                "caseflow serve: cannot listen on {}: {error}",
                settings.addr
            );
            return EXIT_USAGE;
        }
    };
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            let _ = writeln!(err, "caseflow serve: cannot catch SIGINT/SIGTERM: {error}");
            return EXIT_PROBLEMS;
        }
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| settings.addr.to_string(), |a| a.to_string());
    let _ = writeln!(out, "caseflow is listening on http://{address}");
    let _ = writeln!(out, "{sign_in}");
    let workers = if settings.workers {
        match start_workers(settings, &service, &address) {
            Ok((workers, line)) => {
                let _ = writeln!(out, "{line}");
                Some(workers)
            }
            Err(message) => {
                let _ = writeln!(err, "caseflow serve: {message}");
                return EXIT_PROBLEMS;
            }
        }
    } else {
        let _ = writeln!(
            out,
            "background workers are off (CASEFLOW_WORKERS=false): effects wait in the outbox"
        );
        None
    };
    let _ = out.flush();
    let app = router(AppState::new(service));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signals.wait())
        .await;
    if let Some(workers) = workers {
        workers.stop().await;
    }
    store.close().await;
    match served {
        Ok(()) => EXIT_OK,
        Err(error) => {
            let _ = writeln!(err, "caseflow serve: {error}");
            EXIT_PROBLEMS
        }
    }
}

/// The outbox dispatcher and the job workers, with the templates compiled
/// and the mailer chosen; a broken template stops start-up here.
fn start_workers(
    settings: &Settings,
    service: &Arc<Service>,
    address: &str,
) -> Result<(Workers, String), String> {
    let folder = settings.home.join(crate::home::NOTIFY_TEMPLATES);
    let templates = Templates::load(&folder).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let mailer = Mailer::from_settings(settings.smtp_url.as_deref(), Path::new("outbox"))
        .map_err(|error| error.to_string())?;
    let line = format!(
        "background workers are running: deadlines, notifications, retention ({}); mail goes to {}",
        settings.cron.retention.as_deref().unwrap_or("off"),
        mailer.describe()
    );
    let mut cron = Vec::new();
    if let Some(expression) = &settings.cron.retention {
        let schedule = expression
            .parse::<::cron::Schedule>()
            .map_err(|error| format!("CASEFLOW_CRON_RETENTION: {error}"))?;
        cron.push((Periodic::Retention, schedule));
    }
    let context = JobContext {
        service: service.clone(),
        templates,
        mailer,
        mail_from: settings.mail_from.clone(),
        base_url: format!("http://{address}"),
        retry: RetrySettings::default(),
        retention: settings.retention,
        cron,
    };
    Ok((Workers::start(Arc::new(context)), line))
}

/// On a new database: the organisation `default` and its admin, holding every
/// role the shipped workflows name. Returns how to sign in.
async fn bootstrap(
    store: &Store,
    settings: &Settings,
    catalog: &Catalog,
) -> Result<String, String> {
    let orgs = store.orgs().await.map_err(|e| e.to_string())?;
    if !orgs.is_empty() {
        return Ok(format!(
            "sign in as {} with the password set when this database was created",
            settings.admin_email
        ));
    }
    let org = store
        .create_org("default", chrono::Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    let (password, shown) = match &settings.admin_password {
        Some(password) => (
            password.clone(),
            "the password in CASEFLOW_ADMIN_PASSWORD".to_owned(),
        ),
        None => {
            let password = generate_password();
            (
                password.clone(),
                format!("password {password} (shown once: keep it)"),
            )
        }
    };
    let mut roles: Vec<String> = vec!["admin".to_owned()];
    for definition in catalog.definitions.values() {
        for role in &definition.doc.roles {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
    }
    let hash = hash_password(&password).map_err(|e| e.to_string())?;
    store
        .create_user(
            org.id,
            &settings.admin_email.to_lowercase(),
            &hash,
            &roles,
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "created organisation `default`: sign in as {} with {shown}",
        settings.admin_email
    ))
}

/// SIGINT and SIGTERM, caught from before the address is printed, so a
/// supervisor that signals as soon as it sees the line still gets a clean stop.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
