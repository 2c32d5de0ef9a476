//! Signing in and out. Failures look the same whether the e-mail exists or
//! not, and take as long: an unknown e-mail is checked against a dummy hash.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::docs::Problem;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller, token_hash};
use crate::passwords::{hash_password, random_secret, verify_password};

/// How long a sign-in lasts.
const TOKEN_LIFETIME_HOURS: i64 = 12;

/// Refused sign-ins for one e-mail are counted over this window...
const FAILURE_WINDOW_MINUTES: i64 = 15;
/// ...and answering slows down once there are this many...
const FREE_FAILURES: i64 = 3;
/// ...doubling up to this delay; more than `ALERT_AFTER` raises an alert.
const MAX_DELAY_MS: u64 = 8_000;
const ALERT_AFTER: i64 = 5;

/// The delay before answering a sign-in for an e-mail with `failures`
/// recent refusals. Applied whether or not the e-mail exists, so the delay
/// reveals nothing either.
fn delay_for(failures: i64) -> std::time::Duration {
    let over = u32::try_from((failures - FREE_FAILURES + 1).max(0)).unwrap_or(u32::MAX);
    if over == 0 {
        return std::time::Duration::ZERO;
    }
    let ms = 250u64
        .saturating_mul(2u64.saturating_pow(over - 1))
        .min(MAX_DELAY_MS);
    std::time::Duration::from_millis(ms)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Token {
    token: String,
    expires_at: chrono::DateTime<Utc>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

/// Signs in with an e-mail and password; repeated failures are slowed down.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses(
        (status = 200, description = "signed in", body = Token),
        (status = 400, description = "malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    ApiJson(login): ApiJson<Login>,
) -> ApiResult<Json<Token>> {
    let (token, expires_at) = sign_in(&state, &login.email, login.password).await?;
    Ok(Json(Token { token, expires_at }))
}

/// Checks an e-mail and password and issues a token; the API and the
/// sign-in page both come through here, so both are slowed and logged alike.
pub(super) async fn sign_in(
    state: &AppState,
    email: &str,
    password: String,
) -> ApiResult<(String, chrono::DateTime<Utc>)> {
    let store = state.service.store();
    let email = email.trim().to_lowercase();
    let window_start = Utc::now() - Duration::minutes(FAILURE_WINDOW_MINUTES);
    let failures = store.sign_in_failures(&email, window_start).await?;
    tokio::time::sleep(delay_for(failures)).await;
    let user = store.user_by_email(&email).await.ok();
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
            store.record_sign_in_failure(&email, Utc::now()).await?;
            state.service.metrics().failed_sign_in();
            if failures + 1 > ALERT_AFTER {
                tracing::warn!(
                    alert = "sign_in_failures",
                    %email,
                    failures = failures + 1,
                    minutes = FAILURE_WINDOW_MINUTES,
                    "repeated failed sign-ins"
                );
            } else {
                tracing::info!(%email, "failed sign-in");
            }
            return Err(ApiError::Unauthorized);
        }
    };
    let token = random_secret();
    let now = Utc::now();
    let expires_at = now + Duration::hours(TOKEN_LIFETIME_HOURS);
    store
        .insert_token(&token_hash(&token), &user, now, expires_at)
        .await?;
    Ok((token, expires_at))
}

/// Ends the caller's sign-in; the token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "signed out"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    if caller.api_key {
        return Err(ApiError::BadRequest(
            "an API key is not signed in; an admin revokes it".to_owned(),
        ));
    }
    sign_out(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a sign-in at once, here and (within the caching bound) everywhere.
pub(super) async fn sign_out(state: &AppState, caller: &Caller) -> ApiResult<()> {
    state
        .service
        .store()
        .revoke_token(&caller.token_hash, Utc::now())
        .await?;
    state.sessions.forget_token(&caller.token_hash);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::delay_for;

    #[test]
    fn sign_ins_slow_down_after_a_few_failures_and_cap() {
        assert_eq!(delay_for(0).as_millis(), 0);
        assert_eq!(delay_for(2).as_millis(), 0);
        assert_eq!(delay_for(3).as_millis(), 250);
        assert_eq!(delay_for(4).as_millis(), 500);
        assert_eq!(delay_for(6).as_millis(), 2000);
        assert_eq!(delay_for(50).as_millis(), 8000);
    }
}
