//! Client lookup: before registering a client, intake searches the registry by
//! name, date of birth and identifiers (NHI, NDIS or National Insurance number)
//! and links the existing record instead of creating a duplicate.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::{ApiError, ApiResult};
use super::extract::Caller;
use super::observe::RequestId;
use crate::storage::{CaseRecord, ClientQuery};

/// The workflow whose cases are the client registry.
const CLIENT_WORKFLOW: &str = "client";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Part of the client's name or preferred name (at least 2 letters), any case.
    name: Option<String>,
    /// `YYYY-MM-DD`.
    date_of_birth: Option<String>,
    /// An NHI, NDIS or National Insurance number; spaces and case are ignored.
    identifier: Option<String>,
    /// At most 100; 20 when absent.
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientMatches {
    /// Client records matching every criterion given, oldest first; merged records are left out.
    items: Vec<CaseRecord>,
}

/// Finds existing client records by name, date of birth and identifiers.
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "the matching client records", body = ClientMatches),
        (status = 400, description = "no criterion, a name under 2 letters, or a date that is not YYYY-MM-DD", body = Problem, content_type = "application/problem+json"),
    ))]
async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Extension(request_id): Extension<RequestId>,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<ClientMatches>> {
    let given = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    let name = given(query.name);
    let date_of_birth = given(query.date_of_birth);
    let identifier = given(query.identifier);
    if name.is_none() && date_of_birth.is_none() && identifier.is_none() {
        return Err(ApiError::BadRequest(
            "give a name, a date_of_birth or an identifier to search by".to_owned(),
        ));
    }
    if name.as_ref().is_some_and(|n| n.trim().chars().count() < 2) {
        return Err(ApiError::BadRequest(
            "a name to search by has at least 2 letters".to_owned(),
        ));
    }
    if date_of_birth
        .as_ref()
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").is_err())
    {
        return Err(ApiError::BadRequest(
            "date_of_birth is written YYYY-MM-DD".to_owned(),
        ));
    }
    let found = state
        .service
        .store()
        .find_clients(
            caller.org,
            &ClientQuery {
                workflow: CLIENT_WORKFLOW.to_owned(),
                name,
                date_of_birth,
                identifier,
                limit: query.limit.unwrap_or(20),
            },
        )
        .await?;
    super::cases::log_reads(&state, &caller, &request_id, "client_search", &found).await;
    Ok(Json(ClientMatches { items: found }))
}
