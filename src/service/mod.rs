//! The service layer: load the case, ask the engine, and write the move, its
//! audit entry and its effects in one transaction guarded by the case version.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::engine::{Catalog, Definition, Diagnostic, Refusal};
use crate::metrics::Metrics;
use crate::rules::{Actor, Bindings};

mod links;
mod publish;
mod retention;
mod rows;
mod unique;
mod users;

use crate::storage::{CaseRecord, Store, StoreError, stored_time};
pub use publish::Published;
pub use retention::{PlannedStep, RETENTION_ACTOR, RetentionSummary};
pub use rows::{Written, moved, new_case};

/// Where the time comes from: the wall clock, or a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Refused(Refusal),
    /// The case moved since the caller looked (a stale `expected_version`), or someone else won a race.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A definition that does not validate, with every located problem.
    #[error("the definition has {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// A stored definition that no longer compiles against the current rules and schemas.
    #[error("workflow {workflow} version {version} no longer compiles: {}", problems.join("; "))]
    Broken {
        workflow: String,
        version: i64,
        problems: Vec<String>,
    },
    /// The case is under legal hold: nothing may be erased.
    #[error("the case is under legal hold")]
    LegalHold,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(message) => Self::Conflict(message),
            other => Self::Store(other),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// How long this process trusts its idea of a workflow's newest version; a
/// version published by another process is picked up for new cases after this.
const LATEST_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// How many recently written cases this process keeps to save a read per move.
const RECENT_CASES: usize = 10_000;

struct FireRequest<'a> {
    org: Uuid,
    actor: &'a Actor,
    transition: &'a str,
    form: &'a Value,
    expected_version: Option<i64>,
    request_id: Option<&'a str>,
}

pub struct Service {
    recent: std::sync::Mutex<HashMap<(Uuid, Uuid), Arc<CaseRecord>>>,
    store: Store,
    catalog: Arc<Catalog>,
    compiled: RwLock<HashMap<(Uuid, String, i64), Arc<Definition>>>,
    latest: RwLock<HashMap<(Uuid, String), (i64, std::time::Instant)>>,
    clock: Clock,
    metrics: Arc<Metrics>,
}

impl Service {
    /// `catalog` supplies the rules, schemas and templates definitions compile against.
    pub fn new(store: Store, catalog: Arc<Catalog>, clock: Clock) -> Self {
        Self {
            recent: std::sync::Mutex::new(HashMap::new()),
            store,
            catalog,
            compiled: RwLock::new(HashMap::new()),
            latest: RwLock::new(HashMap::new()),
            clock,
            metrics: Arc::new(Metrics::default()),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn now(&self) -> DateTime<Utc> {
        stored_time((self.clock)())
    }

    /// The compiled definition a case is pinned to, compiled once per process.
    pub async fn definition(
        &self,
        org: Uuid,
        workflow: &str,
        version: i64,
    ) -> ServiceResult<Arc<Definition>> {
        let key = (org, workflow.to_owned(), version);
        if let Some(found) = self
            .compiled
            .read()
            .ok()
            .and_then(|compiled| compiled.get(&key).cloned())
        {
            return Ok(found);
        }
        let row = self.store.definition(org, workflow, Some(version)).await?;
        let (definition, diagnostics) = self
            .catalog
            .compile(&format!("{workflow} v{version}"), &row.source);
        let definition = definition
            .map(Arc::new)
            .ok_or_else(|| ServiceError::Broken {
                workflow: workflow.to_owned(),
                version,
                problems: diagnostics.iter().map(ToString::to_string).collect(),
            })?;
        if let Ok(mut compiled) = self.compiled.write() {
            compiled.insert(key, definition.clone());
        }
        Ok(definition)
    }

    async fn latest_version(&self, org: Uuid, workflow: &str) -> ServiceResult<i64> {
        let key = (org, workflow.to_owned());
        let cached = self
            .latest
            .read()
            .ok()
            .and_then(|latest| latest.get(&key).copied());
        if let Some((version, at)) = cached
            && at.elapsed() < LATEST_TTL
        {
            return Ok(version);
        }
        let version = self.store.definition(org, workflow, None).await?.version;
        if let Ok(mut latest) = self.latest.write() {
            latest.insert(key, (version, std::time::Instant::now()));
        }
        Ok(version)
    }

    /// Opens a case of the newest version of `workflow`.
    pub async fn create_case(
        &self,
        org: Uuid,
        actor: &Actor,
        workflow: &str,
        data: Value,
        request_id: Option<&str>,
    ) -> ServiceResult<Arc<CaseRecord>> {
        self.create_case_with_id(org, actor, workflow, data, request_id, Uuid::now_v7())
            .await
    }

    /// As [`create_case`](Self::create_case) with the id chosen by the caller
    /// (a UUIDv7, so listings stay in creation order); `Conflict` when a case
    /// with that id exists, which makes a retried job harmless.
    pub async fn create_case_with_id(
        &self,
        org: Uuid,
        actor: &Actor,
        workflow: &str,
        data: Value,
        request_id: Option<&str>,
        id: Uuid,
    ) -> ServiceResult<Arc<CaseRecord>> {
        let version = self.latest_version(org, workflow).await?;
        let definition = self.definition(org, workflow, version).await?;
        let now = self.now();
        let outcome =
            crate::engine::start(&definition, data, actor, now).map_err(ServiceError::Refused)?;
        self.check_unique(org, &definition, None, None, &outcome.data)
            .await?;
        let written = Written {
            actor,
            at: now,
            request_id,
        };
        let new = rows::new_case(&definition, version, org, id, outcome, &written);
        let record = new.record.clone();
        self.store.insert_case(new).await?;
        self.remember(record.clone());
        Ok(record)
    }

    /// Fires `transition` on a case of `org`. `expected_version`, when given,
    /// must be the case's current version.
    #[allow(clippy::too_many_arguments)]
    pub async fn fire(
        &self,
        org: Uuid,
        actor: &Actor,
        case_id: Uuid,
        transition: &str,
        form: &Value,
        expected_version: Option<i64>,
        request_id: Option<&str>,
    ) -> ServiceResult<Arc<CaseRecord>> {
        let request = FireRequest {
            org,
            actor,
            transition,
            form,
            expected_version,
            request_id,
        };
        let fired = self.fire_request(case_id, &request).await;
        match &fired {
            Ok(moved) => self.metrics.transition(&moved.workflow, transition),
            Err(ServiceError::Refused(Refusal::UnknownTransition(_))) => {
                self.metrics.refusal("(unknown)", "unknown_transition");
            }
            Err(ServiceError::Refused(refusal)) => self.metrics.refusal(transition, refusal.code()),
            Err(ServiceError::Conflict(_)) => self.metrics.refusal(transition, "conflict"),
            Err(_) => {}
        }
        fired
    }

    async fn fire_request(
        &self,
        case_id: Uuid,
        request: &FireRequest<'_>,
    ) -> ServiceResult<Arc<CaseRecord>> {
        // The last version this process wrote saves a read; if another process
        // moved the case since, the version check or a refusal says so and the
        // move is decided again on what the database holds. It leaves the cache
        // while it moves, so that the engine can usually take its data over.
        if let Some(cached) = self.take_recent(request.org, case_id) {
            match self.fire_on(cached, request).await {
                Ok(moved) => return Ok(moved),
                Err(ServiceError::Conflict(_) | ServiceError::Refused(_)) => {}
                Err(other) => return Err(other),
            }
        }
        let case = self.store.case(request.org, case_id).await?;
        self.fire_on(Arc::new(case), request).await
    }

    async fn fire_on(
        &self,
        mut case: Arc<CaseRecord>,
        request: &FireRequest<'_>,
    ) -> ServiceResult<Arc<CaseRecord>> {
        let case_id = case.id;
        if let Some(expected) = request.expected_version
            && expected != case.version
        {
            return Err(ServiceError::Conflict(format!(
                "the case is at version {}, not {expected}",
                case.version
            )));
        }
        let definition = self
            .definition(request.org, &case.workflow, case.workflow_version)
            .await?;
        let now = self.now();
        let links = if definition.links.is_empty() {
            Value::Null
        } else {
            self.linked_data(request.org, &definition, &case.data)
                .await?
        };
        // Nobody else holds this version (the last answer is usually gone), so the
        // move changes its data in place instead of copying it; `unique:` compares
        // the data before and after, so it keeps the before.
        let taken = if definition.unique.is_empty() {
            Arc::get_mut(&mut case).map(|record| std::mem::take(&mut record.data))
        } else {
            None
        };
        let bindings = match taken {
            Some(data) => Bindings::taking(data, request.form, request.actor, now),
            None => Bindings::new(&case.data, request.form, request.actor, now),
        };
        let outcome = crate::engine::fire_with_bindings(
            &definition,
            &case.state,
            bindings.with_links(&links),
            request.transition,
        )
        .map_err(ServiceError::Refused)?;
        self.check_user_fields(request.org, &definition, request.transition, request.form)
            .await?;
        self.check_unique(
            request.org,
            &definition,
            Some(case.id),
            Some(&case.data),
            &outcome.data,
        )
        .await?;
        let written = Written {
            actor: request.actor,
            at: now,
            request_id: request.request_id,
        };
        let (change, after) = rows::moved(&definition, &case, outcome, request.form, &written);
        let moved = self
            .store
            .apply_move(change, &after.data)
            .await
            .map(|()| Arc::new(after))
            .map_err(ServiceError::from);
        match &moved {
            Ok(after) => self.remember(after.clone()),
            Err(_) => self.forget(request.org, case_id),
        }
        moved
    }

    fn take_recent(&self, org: Uuid, id: Uuid) -> Option<Arc<CaseRecord>> {
        self.recent
            .lock()
            .ok()
            .and_then(|mut recent| recent.remove(&(org, id)))
    }

    /// Keeps `case` as the last version this process wrote; shared with the
    /// caller's answer rather than copied.
    fn remember(&self, case: Arc<CaseRecord>) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_CASES {
                recent.clear();
            }
            recent.insert((case.org_id, case.id), case);
        }
    }

    fn forget(&self, org: Uuid, id: Uuid) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.remove(&(org, id));
        }
    }
}
