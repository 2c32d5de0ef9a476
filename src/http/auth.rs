//! Signing in and out. Failures look the same whether the e-mail exists or
//! not, and take as long: an unknown e-mail is checked against a dummy hash.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller, token_hash};
use crate::passwords::{hash_password, verify_password};

/// How long a sign-in lasts.
const TOKEN_LIFETIME_HOURS: i64 = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct Token {
    token: String,
    expires_at: chrono::DateTime<Utc>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

async fn login(
    State(state): State<AppState>,
    ApiJson(login): ApiJson<Login>,
) -> ApiResult<Json<Token>> {
    let store = state.service.store();
    let user = store
        .user_by_email(&login.email.trim().to_lowercase())
        .await
        .ok();
    let password = login.password;
    let hash = user.as_ref().map_or_else(
        || dummy_hash().to_owned(),
        |user| user.password_hash.clone(),
    );
    // argon2 is slow on purpose; keep it off the async workers.
    let verified = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(user) if verified && user.active => user,
        _ => {
            tracing::warn!(email = %login.email, "failed sign-in");
            return Err(ApiError::Unauthorized);
        }
    };
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = crate::storage::hex(&bytes);
    let now = Utc::now();
    let expires_at = now + Duration::hours(TOKEN_LIFETIME_HOURS);
    store
        .insert_token(&token_hash(&token), &user, now, expires_at)
        .await?;
    Ok(Json(Token { token, expires_at }))
}

async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    state
        .service
        .store()
        .revoke_token(&caller.token_hash, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
