//! Erasure and legal holds: the admin's levers over what is kept of a case.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::ApiResult;
use super::extract::{ApiJson, Caller, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(erase))
        .routes(routes!(legal_hold))
}

#[derive(Serialize, ToSchema)]
pub struct Erased {
    /// How many personal fields were removed from the case data.
    fields_removed: usize,
}

/// GDPR right to erasure (admin only): removes every field the case schema
/// marks `x-personal` from the case and from the forms and changes in its
/// trail, recorded as an `erasure` entry; the trail still verifies. Fields
/// marked `x-financial` stay for their legal period. Refused under legal hold.
#[utoipa::path(post, path = "/api/v1/cases/{id}/erase", tag = "cases", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the case id")),
    responses(
        (status = 200, description = "erased", body = Erased),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the case is under legal hold", body = Problem, content_type = "application/problem+json"),
    ))]
async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Erased>> {
    caller.require_admin("erasing a case's personal data")?;
    let id = path_id(&id)?;
    let fields_removed = state
        .service
        .erase_case(caller.org, id, &caller.email)
        .await?;
    Ok(Json(Erased { fields_removed }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// `true` puts the hold on, `false` lifts it.
    hold: bool,
    reason: Option<String>,
}

/// Puts a case under legal hold, which stops retention and erasure, or lifts
/// it (admin only). Recorded in the case's trail.
#[utoipa::path(put, path = "/api/v1/cases/{id}/legal-hold", tag = "cases", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the case id")),
    request_body = HoldRequest,
    responses(
        (status = 204, description = "recorded"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such case in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn legal_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<HoldRequest>,
) -> ApiResult<StatusCode> {
    caller.require_admin("placing a legal hold")?;
    let id = path_id(&id)?;
    state
        .service
        .set_legal_hold(caller.org, id, &caller.email, request.hold, request.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
