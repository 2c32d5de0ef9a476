//! Retention, erasure and legal holds: the engine decides what is due, this
//! module turns it into scrubs of the case and its trail and writes them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::engine::Definition;
use crate::engine::retention::{
    RetentionFacts, RetentionPeriods, RetentionStep, personal_pointers, pointer_to_dotted,
    retention_due, scrub, scrub_entry,
};
use crate::storage::{
    AuditEntry, CaseRecord, ClosedCase, ERASURE_TRANSITION, LEGAL_HOLD_TRANSITION, LegalHold,
    RETENTION_TRANSITION, Redaction, Scrub, ScrubMarks, content_digest, entry_hash,
};

/// The actor retention acts as, in audit trails.
pub const RETENTION_ACTOR: &str = "system:retention";

/// One step for one case, as `caseflow retention --dry-run` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub case_id: Uuid,
    pub org_id: Uuid,
    pub workflow: String,
    pub state: String,
    pub closed_at: DateTime<Utc>,
    pub step: String,
    /// Concrete fields of the case data removed (`/client/contacts/0/phone`).
    pub fields: Vec<String>,
    /// Audit entries whose form or changes lose values.
    pub entries: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionSummary {
    pub cases_seen: usize,
    pub on_hold: usize,
    pub steps: Vec<PlannedStep>,
    /// Cases whose step failed (a definition that no longer compiles, a race).
    pub failed: Vec<(Uuid, String)>,
}

/// What a scrub takes out of the case and of the forms in its trail.
struct Target {
    case_fields: Vec<String>,
    /// The fields to take out of the form an entry was written with.
    form_fields: fn(&Definition, Option<&str>) -> Vec<String>,
    /// Take the whole data (but `case_fields`) and every form and change.
    everything: bool,
}

impl Service {
    /// Walks every closed case and applies (or, with `dry_run`, only lists)
    /// the retention steps due at `now`. `progress(done, seen)` is called per case.
    pub async fn retention(
        &self,
        periods: RetentionPeriods,
        dry_run: bool,
        progress: &(dyn Fn(usize) + Sync),
    ) -> ServiceResult<RetentionSummary> {
        let now = self.now();
        let mut summary = RetentionSummary::default();
        let mut after = None;
        loop {
            let page = self.store.closed_cases(after).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.id);
            for case in page {
                summary.cases_seen += 1;
                if case.record.legal_hold {
                    summary.on_hold += 1;
                }
                if let Err(error) = self
                    .retain_case(&case, periods, now, dry_run, &mut summary.steps)
                    .await
                {
                    tracing::warn!(case = %case.record.id, %error, "retention step failed");
                    summary.failed.push((case.record.id, error.to_string()));
                }
                progress(summary.cases_seen);
            }
        }
        Ok(summary)
    }

    async fn retain_case(
        &self,
        case: &ClosedCase,
        periods: RetentionPeriods,
        now: DateTime<Utc>,
        dry_run: bool,
        out: &mut Vec<PlannedStep>,
    ) -> ServiceResult<()> {
        let record = &case.record;
        let (org, id) = (record.org_id, record.id);
        let definition = self
            .definition(org, &record.workflow, record.workflow_version)
            .await?;
        let facts = RetentionFacts {
            state: &record.state,
            closed_at: record.closed_at,
            legal_hold: record.legal_hold,
            anonymised: case.anonymised,
            financial_scrubbed: case.financial_scrubbed,
        };
        let mut current = record.clone();
        for step in retention_due(&definition, facts, periods, now) {
            let planned = |fields: Vec<String>, entries: Vec<i64>| PlannedStep {
                case_id: id,
                org_id: org,
                workflow: record.workflow.clone(),
                state: record.state.clone(),
                closed_at: record.closed_at.unwrap_or(record.updated_at),
                step: step.name().to_owned(),
                fields,
                entries,
            };
            if step == RetentionStep::Purge {
                if !dry_run {
                    self.store.purge_case(org, id).await?;
                    self.forget(org, id);
                }
                out.push(planned(vec!["*".to_owned()], Vec::new()));
                break;
            }
            let (target, marks) = retention_target(&step);
            let history = self.store.history(org, id).await?;
            let audit = new_entry(
                &current,
                RETENTION_TRANSITION,
                RETENTION_ACTOR,
                json!({"step": step.name()}),
                now,
            );
            let scrub = build_scrub(&definition, &current, &history, &target, marks, audit);
            out.push(planned(scrub.removed.clone(), scrub.entries()));
            if !dry_run {
                self.store.apply_scrub(&scrub.write).await?;
                self.forget(org, id);
                current.version = scrub.write.audit.seq;
                current.audit_hash = scrub.write.audit.hash.clone();
                current.data = scrub.write.data.clone();
            }
        }
        Ok(())
    }

    /// GDPR erasure: every personal field of the case and of its trail's
    /// forms, now, whatever the state; refused under a legal hold. Financial
    /// fields stay for their legal period.
    pub async fn erase_case(&self, org: Uuid, id: Uuid, actor: &str) -> ServiceResult<usize> {
        let record = self.store.case(org, id).await?;
        if record.legal_hold {
            return Err(ServiceError::LegalHold);
        }
        let definition = self
            .definition(org, &record.workflow, record.workflow_version)
            .await?;
        let history = self.store.history(org, id).await?;
        let target = personal_target(personal_pointers(&definition));
        // Not marked anonymised: an open case may gather personal data again,
        // which its retention policy must still remove when the time comes.
        let marks = ScrubMarks::default();
        let audit = new_entry(
            &record,
            ERASURE_TRANSITION,
            actor,
            json!({"request": "right to erasure"}),
            self.now(),
        );
        let scrub = build_scrub(&definition, &record, &history, &target, marks, audit);
        self.store.apply_scrub(&scrub.write).await?;
        self.forget(org, id);
        Ok(scrub.removed.len())
    }

    /// Puts a case under legal hold (retention and erasure stop) or lifts it.
    pub async fn set_legal_hold(
        &self,
        org: Uuid,
        id: Uuid,
        actor: &str,
        hold: bool,
        reason: Option<String>,
    ) -> ServiceResult<()> {
        let record = self.store.case(org, id).await?;
        let mut audit = new_entry(
            &record,
            LEGAL_HOLD_TRANSITION,
            actor,
            json!({"hold": hold, "reason": reason}),
            self.now(),
        );
        audit.hash = entry_hash(&audit);
        self.store
            .set_legal_hold(&LegalHold {
                org_id: org,
                case_id: id,
                from_version: record.version,
                hold,
                reason,
                audit,
            })
            .await?;
        self.forget(org, id);
        Ok(())
    }
}

fn personal_target(case_fields: Vec<String>) -> Target {
    Target {
        case_fields,
        form_fields: |definition, transition| {
            form_of(definition, transition).map_or_else(Vec::new, |form| {
                let financial = form.financial_fields();
                form.personal_fields()
                    .into_iter()
                    .filter(|field| !financial.contains(field))
                    .collect()
            })
        },
        everything: false,
    }
}

fn retention_target(step: &RetentionStep) -> (Target, ScrubMarks) {
    match step {
        RetentionStep::Anonymise { fields } => (
            personal_target(fields.clone()),
            ScrubMarks {
                anonymised: true,
                ..ScrubMarks::default()
            },
        ),
        RetentionStep::Delete { kept } => (
            Target {
                case_fields: kept.clone(),
                form_fields: |_, _| Vec::new(),
                everything: true,
            },
            ScrubMarks {
                anonymised: true,
                deleted: true,
                ..ScrubMarks::default()
            },
        ),
        RetentionStep::ScrubFinancial { fields } => (
            Target {
                case_fields: fields.clone(),
                form_fields: |definition, transition| {
                    form_of(definition, transition)
                        .map(|form| form.financial_fields().to_vec())
                        .unwrap_or_default()
                },
                everything: false,
            },
            ScrubMarks {
                financial: true,
                ..ScrubMarks::default()
            },
        ),
        RetentionStep::Purge => (personal_target(Vec::new()), ScrubMarks::default()),
    }
}

/// The schema of the form an entry was written with: the transition's form,
/// or the case schema for the opening entry (whose form is the first data).
fn form_of<'d>(
    definition: &'d Definition,
    transition: Option<&str>,
) -> Option<&'d std::sync::Arc<crate::forms::Form>> {
    match transition {
        None => definition.case_schema.as_ref(),
        Some(name) => definition.transitions.get(name)?.form.as_ref(),
    }
}

struct BuiltScrub {
    write: Scrub,
    removed: Vec<String>,
}

impl BuiltScrub {
    fn entries(&self) -> Vec<i64> {
        self.write.redactions.iter().map(|r| r.seq).collect()
    }
}

/// The scrub of `case` for `target`, recorded by `audit` (a fresh entry
/// from [`new_entry`]), which gets the removed fields and its hash here.
fn build_scrub(
    definition: &Definition,
    case: &CaseRecord,
    history: &[AuditEntry],
    target: &Target,
    marks: ScrubMarks,
    mut audit: AuditEntry,
) -> BuiltScrub {
    let (data, removed) = if target.everything {
        keep_only(&case.data, &target.case_fields)
    } else {
        let mut data = case.data.clone();
        let removed = target
            .case_fields
            .iter()
            .flat_map(|field| scrub(&mut data, field))
            .collect();
        (data, removed)
    };
    let mut redactions = Vec::new();
    for entry in history {
        let scrubbed = if target.everything {
            let holds_any =
                entry.form.is_some() || entry.changes.as_array().is_some_and(|c| !c.is_empty());
            holds_any.then(|| (None, json!([])))
        } else {
            // The opening entry's form is the case's first data.
            let (case_fields, form_fields) = match entry.transition.as_deref() {
                None => (&[][..], target.case_fields.clone()),
                Some(name) => (
                    &target.case_fields[..],
                    (target.form_fields)(definition, Some(name)),
                ),
            };
            scrub_entry(
                entry.form.as_ref(),
                &entry.changes,
                case_fields,
                &form_fields,
            )
        };
        if let Some((form, changes)) = scrubbed {
            redactions.push(Redaction {
                seq: entry.seq,
                form_digest: entry
                    .form_digest
                    .clone()
                    .or_else(|| entry.form.as_ref().map(content_digest)),
                changes_digest: entry
                    .changes_digest
                    .clone()
                    .unwrap_or_else(|| content_digest(&entry.changes)),
                form,
                changes,
            });
        }
    }
    if let Some(object) = audit.reasons.as_object_mut() {
        object.insert(
            "redacted_entries".to_owned(),
            json!(redactions.iter().map(|r| r.seq).collect::<Vec<_>>()),
        );
    }
    let changes: Vec<Value> = removed
        .iter()
        .map(|pointer| json!({"path": pointer_to_dotted(pointer), "old": null, "new": null}))
        .collect();
    audit.changes = Value::Array(changes);
    audit.hash = entry_hash(&audit);
    BuiltScrub {
        write: Scrub {
            org_id: case.org_id,
            case_id: case.id,
            from_version: case.version,
            data,
            marks,
            redactions,
            audit,
        },
        removed,
    }
}

/// `data` reduced to the fields `kept` names, and the top-level fields dropped.
fn keep_only(data: &Value, kept: &[String]) -> (Value, Vec<String>) {
    let mut reduced = json!({});
    for pointer in kept {
        if let (Some(value), Some(slot)) = (data.pointer(pointer), pointer.rsplit_once('/')) {
            let parent = ensure_object(&mut reduced, slot.0);
            if let Some(parent) = parent.as_object_mut() {
                parent.insert(slot.1.to_owned(), value.clone());
            }
        }
    }
    let removed = data
        .as_object()
        .map(|object| {
            object
                .keys()
                .filter(|key| reduced.get(key.as_str()).is_none())
                .map(|key| format!("/{key}"))
                .collect()
        })
        .unwrap_or_default();
    (reduced, removed)
}

fn ensure_object<'v>(root: &'v mut Value, pointer: &str) -> &'v mut Value {
    let mut at = root;
    for part in pointer.split('/').skip(1) {
        if !at.is_object() {
            *at = json!({});
        }
        at = match at {
            Value::Object(object) => object.entry(part.to_owned()).or_insert_with(|| json!({})),
            other => other,
        };
    }
    at
}

/// The next entry of `case`'s trail for a change outside its workflow: the
/// state stays, `reasons` says what and why.
fn new_entry(
    case: &CaseRecord,
    transition: &str,
    actor: &str,
    reasons: Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        transition: Some(transition.to_owned()),
        reasons,
        ..AuditEntry::next(case, actor, at)
    }
}
