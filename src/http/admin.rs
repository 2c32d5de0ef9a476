//! Administration within an organisation (the `admin` role): users and the
//! API keys machine clients post with.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::docs::Problem;
use super::error::{ApiError, ApiResult};
use super::extract::{API_KEY_PREFIX, ApiJson, Caller, path_id, token_hash};
use crate::passwords::{hash_password, random_secret};
use crate::storage::ApiKey;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users, add_user))
        .routes(routes!(update_user))
        .routes(routes!(api_keys, add_api_key))
        .routes(routes!(revoke_api_key))
}

fn check_roles(roles: &[String]) -> ApiResult<()> {
    let valid = |role: &String| {
        !role.is_empty()
            && role
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if roles.iter().all(valid) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "roles are names like `team_leader`: lower-case letters, digits and `_`".to_owned(),
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    roles: Vec<String>,
    active: bool,
}

/// The organisation's users.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "every user", body = Vec<UserView>),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn users(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    caller.require_admin("managing users and keys")?;
    let users = state.service.store().users(caller.org).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|user| UserView {
                id: user.id,
                email: user.email,
                roles: user.roles,
                active: user.active,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    roles: Vec<String>,
    /// At least 12 characters.
    password: String,
}

/// Adds a user to the organisation.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "the new user", body = UserView),
        (status = 400, description = "a bad e-mail, role or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the e-mail is taken", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    caller.require_admin("managing users and keys")?;
    let email = body.email.trim().to_lowercase();
    if !email.contains('@') {
        return Err(ApiError::BadRequest(format!(
            "`{email}` is not an e-mail address"
        )));
    }
    if body.password.chars().count() < 12 {
        return Err(ApiError::BadRequest(
            "the password needs at least 12 characters".to_owned(),
        ));
    }
    check_roles(&body.roles)?;
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let user = state
        .service
        .store()
        .create_user(caller.org, &email, &hash, &body.roles, Utc::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            id: user.id,
            email: user.email,
            roles: user.roles,
            active: user.active,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    roles: Vec<String>,
    /// `false` signs the user out for good: their tokens stop working.
    active: bool,
}

/// Changes a user's roles, or deactivates them.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the user id")),
    request_body = UserChange,
    responses(
        (status = 204, description = "changed"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user in the organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserChange>,
) -> ApiResult<StatusCode> {
    caller.require_admin("managing users and keys")?;
    check_roles(&body.roles)?;
    let id = path_id(&id)?;
    if id == caller.user_id && !(body.active && body.roles.iter().any(|r| r == "admin")) {
        return Err(ApiError::BadRequest(
            "you cannot remove your own admin role or deactivate yourself".to_owned(),
        ));
    }
    state
        .service
        .store()
        .update_user(caller.org, id, &body.roles, body.active)
        .await?;
    state.sessions.forget_user(id);
    Ok(StatusCode::NO_CONTENT)
}

/// The organisation's API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "every key, revoked ones too", body = Vec<ApiKey>),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn api_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ApiKey>>> {
    caller.require_admin("managing users and keys")?;
    Ok(Json(state.service.store().api_keys(caller.org).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Who uses it, e.g. `referral-portal`; recorded as `apikey:NAME` in audit trails.
    name: String,
    roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedApiKey {
    id: Uuid,
    name: String,
    roles: Vec<String>,
    /// Shown once: only its hash is kept. Send it as `Authorization: Bearer KEY`.
    key: String,
}

/// Issues an API key for a machine client.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "admin", security(("bearer" = [])),
    request_body = NewApiKey,
    responses(
        (status = 201, description = "the key, shown once", body = IssuedApiKey),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "a key with this name exists", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<IssuedApiKey>)> {
    caller.require_admin("managing users and keys")?;
    check_roles(&body.roles)?;
    if body.roles.iter().any(|role| role == "admin") {
        return Err(ApiError::BadRequest(
            "an API key cannot hold the admin role".to_owned(),
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest(
            "a key needs a name of 1 to 100 characters".to_owned(),
        ));
    }
    let key = format!("{API_KEY_PREFIX}{}", random_secret());
    let stored = state
        .service
        .store()
        .create_api_key(
            caller.org,
            name,
            &token_hash(&key),
            &body.roles,
            &caller.email,
            Utc::now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedApiKey {
            id: stored.id,
            name: stored.name,
            roles: stored.roles,
            key,
        }),
    ))
}

/// Revokes an API key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the key's id")),
    responses(
        (status = 204, description = "revoked"),
        (status = 403, description = "not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such key in the organisation", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("managing users and keys")?;
    let id = path_id(&id)?;
    state
        .service
        .store()
        .revoke_api_key(caller.org, id, Utc::now())
        .await?;
    state.sessions.forget_user(id);
    Ok(StatusCode::NO_CONTENT)
}
