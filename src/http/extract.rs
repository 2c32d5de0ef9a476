//! Extractors whose rejections are [`ApiError`]s: JSON bodies that refuse
//! unknown fields and say what is wrong, and the signed-in caller.

use axum::extract::rejection::{JsonRejection, StringRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::rules::Actor;

/// A JSON body; its type should `deny_unknown_fields`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "send the body as application/json".to_owned(),
            )),
            Err(JsonRejection::JsonSyntaxError(error)) => {
                Err(ApiError::BadRequest(error.body_text()))
            }
            Err(JsonRejection::JsonDataError(error)) => {
                Err(ApiError::BadRequest(error.body_text()))
            }
            Err(other) if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// A YAML (or other text) body, limited like every other.
pub struct TextBody(pub String);

impl FromRequest<AppState> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let yaml = [
            "application/yaml",
            "application/x-yaml",
            "text/yaml",
            "text/x-yaml",
            "text/plain",
        ];
        if !yaml
            .iter()
            .any(|accepted| content_type.starts_with(accepted))
        {
            return Err(ApiError::UnsupportedMediaType(
                "send the definition as application/yaml".to_owned(),
            ));
        }
        match String::from_request(request, state).await {
            Ok(text) => Ok(Self(text)),
            Err(StringRejection::InvalidUtf8(_)) => Err(ApiError::BadRequest(
                "the body is not UTF-8 text".to_owned(),
            )),
            Err(other) if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// An id from the path. Not a UUID: it cannot be anyone's, so 404.
pub fn path_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

/// API keys start with this, so a leaked one is recognisable (and scannable).
pub const API_KEY_PREFIX: &str = "cfk_";

/// The signed-in user (or machine client) behind a bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: Uuid,
    /// The user, or the API key's id.
    pub user_id: Uuid,
    /// The user's e-mail, or `apikey:NAME`: what the audit trail records.
    pub email: String,
    pub roles: Vec<String>,
    pub token_hash: String,
    pub api_key: bool,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::user(self.email.clone(), self.roles.clone())
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    /// `Forbidden`, saying what `doing` needs, unless the caller is an admin.
    pub fn require_admin(&self, doing: &str) -> Result<(), ApiError> {
        if self.has_role("admin") {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("{doing} needs the admin role")))
        }
    }

    /// Auditors see everything of their organisation and change nothing.
    pub fn read_only(&self) -> bool {
        self.has_role("auditor") && !self.has_role("admin")
    }
}

pub fn token_hash(token: &str) -> String {
    crate::storage::hex(&Sha256::digest(token.as_bytes()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Self>() {
            return Ok(caller.clone());
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        Self::for_token(token, state).await
    }
}

impl Caller {
    /// Whoever `token` (a sign-in token or an API key) belongs to, remembered for a moment.
    pub(super) async fn for_token(token: &str, state: &AppState) -> Result<Self, ApiError> {
        let hash = token_hash(token);
        if let Some(caller) = state.sessions.get(&hash) {
            return Ok(caller);
        }
        let caller = Self::look_up(token, hash, state).await?;
        state.sessions.remember(&caller);
        Ok(caller)
    }

    async fn look_up(token: &str, hash: String, state: &AppState) -> Result<Self, ApiError> {
        let store = state.service.store();
        if token.starts_with(API_KEY_PREFIX) {
            let key = store
                .api_key_by_hash(&hash)
                .await
                .map_err(|_| ApiError::Unauthorized)?;
            return Ok(Self {
                org: key.org_id,
                user_id: key.id,
                email: format!("apikey:{}", key.name),
                roles: key.roles,
                token_hash: hash,
                api_key: true,
            });
        }
        let user = store
            .user_by_token(&hash, chrono::Utc::now())
            .await
            .map_err(|_| ApiError::Unauthorized)?;
        Ok(Self {
            org: user.org_id,
            user_id: user.id,
            email: user.email,
            roles: user.roles,
            token_hash: hash,
            api_key: false,
        })
    }
}
