//! Failed background jobs (the dead letters) for admins, and putting one
//! back in the queue.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::{ApiError, ApiResult};
use super::extract::Caller;
use crate::storage::FailedJob;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// `failed`: the jobs that used up their attempts.
    status: String,
    /// At most 1000; 100 when absent.
    limit: Option<i64>,
}

/// The organisation's failed jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", security(("bearer" = [])),
    params(JobQuery),
    responses(
        (status = 200, description = "failed jobs", body = Vec<FailedJob>),
        (status = 400, description = "a status other than failed", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<JobQuery>,
) -> ApiResult<Json<Vec<FailedJob>>> {
    caller.require_admin("managing background jobs")?;
    if query.status != "failed" {
        return Err(ApiError::BadRequest(
            "only `status=failed` is listed: other jobs are in the queue or done".to_owned(),
        ));
    }
    Ok(Json(
        state
            .service
            .store()
            .failed_jobs(caller.org, query.limit.unwrap_or(100))
            .await?,
    ))
}

/// Puts a failed job back in the queue with fresh attempts.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "the job id")),
    responses(
        (status = 204, description = "queued again"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no failed job of the organisation by that id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("managing background jobs")?;
    state.service.store().retry_job(caller.org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
