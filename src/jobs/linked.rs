//! `fire_linked`: a move asked for a transition on a linked case (an approved
//! session adds its cost to the participant's plan). It runs as the system,
//! once: the move it makes carries the job's key as its request id, and a
//! retry that finds that move in the linked case's history does nothing.

use apalis::prelude::BoxDynError;
use serde_json::Value;
use uuid::Uuid;

use super::JobContext;
use crate::rules::Actor;
use crate::service::ServiceError;

pub(super) async fn fire_linked(
    context: &JobContext,
    org: Uuid,
    case: &str,
    transition: &str,
    form: &Value,
    key: &str,
) -> Result<&'static str, BoxDynError> {
    let Ok(case_id) = Uuid::parse_str(case.trim()) else {
        tracing::warn!(case, transition, "fire_linked: the link holds no case id");
        return Ok("refused");
    };
    let request_id = format!("linked:{key}");
    let service = &context.service;
    let history = match service.store().history(org, case_id).await {
        Ok(history) => history,
        Err(crate::storage::StoreError::NotFound) => return Ok("case_gone"),
        Err(error) => return Err(error.into()),
    };
    if history
        .iter()
        .any(|entry| entry.request_id.as_deref() == Some(request_id.as_str()))
    {
        return Ok("done");
    }
    let form = if form.as_object().is_some_and(serde_json::Map::is_empty) {
        Value::Null
    } else {
        form.clone()
    };
    match service
        .fire(
            org,
            &Actor::system(),
            case_id,
            transition,
            &form,
            None,
            Some(&request_id),
        )
        .await
    {
        Ok(_) => Ok("fired"),
        Err(ServiceError::NotFound) => Ok("case_gone"),
        // A refusal will not change on retry: the linked case says no (a plan with no
        // budget left, an invoice already sent). It is logged for staff to follow up.
        Err(ServiceError::Refused(refusal)) => {
            tracing::warn!(case = %case_id, transition, %refusal, "a linked transition was refused");
            Ok("refused")
        }
        Err(error) => Err(error.into()),
    }
}
