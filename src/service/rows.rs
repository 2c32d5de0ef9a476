//! The rows that opening a case and moving it write, built from the engine's
//! outcome without touching the database: the service writes them, and the
//! bench's storage floor writes the very same rows with the engine's work done
//! before its clock starts.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::{Change, Definition, Effect, Outcome};
use crate::rules::Actor;
use crate::storage::{AuditEntry, CaseRecord, Move, NewCase, OutboxItem};

/// Who and when, for the audit entry of a write.
pub struct Written<'a> {
    pub actor: &'a Actor,
    pub at: DateTime<Utc>,
    pub request_id: Option<&'a str>,
}

/// A new case `id` of `org` at `version` of `definition`, from the engine's
/// `start` outcome: the case, its opening audit entry and its effects.
pub fn new_case(
    definition: &Definition,
    version: i64,
    org: Uuid,
    id: Uuid,
    outcome: Outcome,
    written: &Written<'_>,
) -> NewCase {
    let Written {
        actor,
        at,
        request_id,
    } = *written;
    let audit = AuditEntry {
        form: Some(outcome.data.clone()),
        reasons: json!(outcome.warnings),
        request_id: request_id.map(str::to_owned),
        ..AuditEntry::opening(id, org, &outcome.to, &actor.id, at)
    }
    .sealed();
    let outbox = outbox_items(&outcome, at);
    let record = CaseRecord {
        id,
        org_id: org,
        workflow: definition.id.clone(),
        workflow_version: version,
        state: outcome.to,
        version: 1,
        data: outcome.data,
        audit_hash: audit.hash.clone(),
        created_at: at,
        created_by: actor.id.clone(),
        updated_at: at,
        updated_by: actor.id.clone(),
        closed_at: None,
        legal_hold: false,
    };
    NewCase {
        record: std::sync::Arc::new(record),
        audit,
        outbox,
    }
}

/// The move of `case` the engine decided (`outcome`, fired with `form`), and
/// the case as it will be once the move is written.
pub fn moved(
    definition: &Definition,
    case: &CaseRecord,
    outcome: Outcome,
    form: &Value,
    written: &Written<'_>,
) -> (Move, CaseRecord) {
    let Written {
        actor,
        at,
        request_id,
    } = *written;
    let closed = definition
        .states
        .get(&outcome.to)
        .is_some_and(|state| state.terminal);
    let outbox = outbox_items(&outcome, at);
    let Outcome {
        transition,
        from,
        to,
        data,
        changes,
        warnings,
        ..
    } = outcome;
    let audit = AuditEntry {
        transition,
        from,
        to: to.clone(),
        form: (!form.is_null()).then(|| form.clone()),
        changes: Value::Array(changes.into_iter().map(Change::into_value).collect()),
        reasons: json!(warnings),
        request_id: request_id.map(str::to_owned),
        ..AuditEntry::next(case, &actor.id, at)
    }
    .sealed();
    let after = CaseRecord {
        id: case.id,
        org_id: case.org_id,
        workflow: case.workflow.clone(),
        workflow_version: case.workflow_version,
        state: to.clone(),
        version: case.version + 1,
        data,
        audit_hash: audit.hash.clone(),
        created_at: case.created_at,
        created_by: case.created_by.clone(),
        updated_at: at,
        updated_by: actor.id.clone(),
        closed_at: if closed { Some(at) } else { case.closed_at },
        legal_hold: case.legal_hold,
    };
    let change = Move {
        org_id: case.org_id,
        case_id: case.id,
        from_version: case.version,
        state: to,
        actor: actor.id.clone(),
        at,
        closed,
        outbox,
        audit,
    };
    (change, after)
}

/// The effects of a move as outbox rows, written in the move's transaction.
/// Cancelled deadlines need no row: a deadline's job checks, when it falls
/// due, that the case still waits in the state that set it.
fn outbox_items(outcome: &Outcome, now: DateTime<Utc>) -> Vec<OutboxItem> {
    outcome
        .effects
        .iter()
        .filter(|effect| !matches!(effect, Effect::CancelDeadlines { .. }))
        .map(|effect| OutboxItem {
            id: Uuid::now_v7(),
            kind: match effect {
                Effect::Notify { .. } => "notify",
                Effect::ScheduleDeadline { .. } => "schedule_deadline",
                Effect::CancelDeadlines { .. } => "cancel_deadlines",
                Effect::StartCase { .. } => "start_case",
                Effect::FireLinked { .. } => "fire_linked",
            }
            .to_owned(),
            payload: serde_json::to_string(effect)
                .unwrap_or_else(|_| "null".to_owned())
                .into(),
            available_at: now,
        })
        .collect()
}
