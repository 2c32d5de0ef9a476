//! Data portability: everything held about one case, as one JSON document.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::ApiResult;
use super::extract::{Caller, path_id};
use super::observe::RequestId;
use crate::storage::{CaseRead, CaseRecord, Notification};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Serialize, ToSchema)]
pub struct CaseExport {
    case: CaseRecord,
    /// Every audit entry, with the forms as submitted and the hash chain.
    #[schema(value_type = Vec<Object>)]
    history: Vec<serde_json::Value>,
    notifications: Vec<Notification>,
    /// Who read the record and when.
    reads: Vec<CaseRead>,
    exported_at: chrono::DateTime<chrono::Utc>,
    exported_by: String,
}

/// The whole record of a case (admin only): the case, its history, the
/// notifications about it and its access log. The export is itself logged.
#[utoipa::path(get, path = "/api/v1/cases/{id}/export", tag = "cases", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "everything held about the case", body = CaseExport),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseExport>> {
    caller.require_admin("exporting a case record")?;
    let id = path_id(&id)?;
    let store = state.service.store();
    let case = store.case(caller.org, id).await?;
    let history = store
        .history(caller.org, id)
        .await?
        .into_iter()
        .map(|entry| {
            serde_json::json!({
                "seq": entry.seq, "transition": entry.transition, "from": entry.from,
                "to": entry.to, "actor": entry.actor, "at": entry.at, "form": entry.form,
                "changes": entry.changes, "reasons": entry.reasons,
                "request_id": entry.request_id, "prev_hash": entry.prev_hash, "hash": entry.hash,
            })
        })
        .collect();
    let notifications = store.case_notifications(caller.org, id).await?;
    store.flush_case_reads().await;
    let reads = store.case_reads(caller.org, id, 1000).await?;
    let now = chrono::Utc::now();
    store
        .log_case_reads(vec![CaseRead {
            org_id: caller.org,
            case_id: id,
            reader: caller.email.clone(),
            what: "export".to_owned(),
            request_id: Some(request_id.0),
            at: now,
        }])
        .await;
    Ok(Json(CaseExport {
        case,
        history,
        notifications,
        reads,
        exported_at: now,
        exported_by: caller.email,
    }))
}
