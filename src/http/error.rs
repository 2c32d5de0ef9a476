//! One error type for the API, rendered as RFC 9457 `application/problem+json`
//! with a stable `type` per kind of problem. Internal errors are logged once
//! with the request id and never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::engine::{Diagnostic, Refusal};
use crate::forms::FieldError;
use crate::service::ServiceError;

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Forbidden(String),
    NotFound,
    Conflict(String),
    InvalidForm(Vec<FieldError>),
    InvalidCase(Vec<FieldError>),
    GuardRefused(Vec<String>),
    InvalidDefinition(Vec<Diagnostic>),
    Unprocessable(String),
    /// An `Idempotency-Key` sent again with a different request.
    KeyReused,
    /// The case is under legal hold.
    LegalHold,
    PayloadTooLarge,
    UnsupportedMediaType(String),
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request is not valid",
            ),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Sign in first"),
            Self::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your roles do not allow this",
            ),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "The case has moved on"),
            Self::InvalidForm(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-form",
                "The form has problems",
            ),
            Self::InvalidCase(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-case-data",
                "The case data has problems",
            ),
            Self::GuardRefused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                "The move is not allowed now",
            ),
            Self::InvalidDefinition(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-definition",
                "The definition has problems",
            ),
            Self::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule-failed",
                "A rule failed",
            ),
            Self::KeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "This Idempotency-Key was used for a different request",
            ),
            Self::LegalHold => (
                StatusCode::CONFLICT,
                "legal-hold",
                "The case is under legal hold; lift the hold first",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The request body is over 1 MiB",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Wrong content type",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        let mut body = json!({
            "type": format!("/problems/{kind}"),
            "title": title,
            "status": status.as_u16(),
        });
        let detail = match &self {
            Self::BadRequest(detail)
            | Self::Forbidden(detail)
            | Self::Conflict(detail)
            | Self::Unprocessable(detail)
            | Self::UnsupportedMediaType(detail) => Some(Value::String(detail.clone())),
            Self::InvalidForm(errors) | Self::InvalidCase(errors) => {
                body["errors"] = json!(errors);
                None
            }
            Self::GuardRefused(reasons) => {
                body["reasons"] = json!(reasons);
                None
            }
            Self::InvalidDefinition(problems) => {
                body["errors"] = json!(problems
                    .iter()
                    .filter(|problem| problem.is_error())
                    .map(|problem| json!({"line": problem.line, "column": problem.column, "message": problem.message}))
                    .collect::<Vec<_>>());
                None
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                None
            }
            Self::Unauthorized
            | Self::NotFound
            | Self::PayloadTooLarge
            | Self::KeyReused
            | Self::LegalHold => None,
        };
        if let Some(detail) = detail {
            body["detail"] = detail;
        }
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => Self::NotFound,
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::Invalid(problems) => Self::InvalidDefinition(problems),
            ServiceError::Refused(refusal) => match refusal {
                Refusal::UnknownTransition(_) => Self::NotFound,
                Refusal::Terminal { .. } | Refusal::WrongState { .. } => {
                    Self::Conflict(refusal.to_string())
                }
                Refusal::Forbidden { .. } => Self::Forbidden(refusal.to_string()),
                Refusal::InvalidForm(errors) => Self::InvalidForm(errors),
                Refusal::InvalidCase(errors) => Self::InvalidCase(errors),
                Refusal::Guard(reasons) => Self::GuardRefused(reasons),
                Refusal::Rule(message) => Self::Unprocessable(message),
            },
            broken @ ServiceError::Broken { .. } => Self::Internal(broken.to_string()),
            ServiceError::LegalHold => Self::LegalHold,
            ServiceError::Store(error) => Self::Internal(error.to_string()),
        }
    }
}

impl From<crate::storage::StoreError> for ApiError {
    fn from(error: crate::storage::StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
