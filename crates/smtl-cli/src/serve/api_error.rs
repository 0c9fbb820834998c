//! The server's error responses: a status code and TEI's body
//! `{"error": "...", "error_type": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// TEI's error classes, as the `error_type` field spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorType {
    /// The request itself is wrong (shape, size, length, unknown task).
    Validation,
    /// Too many requests in flight: retry later.
    Overloaded,
    /// The tokenizer could not read an input.
    Tokenizer,
    /// The model failed on a valid request.
    Backend,
    /// The model is not loaded yet (or its thread stopped).
    Unhealthy,
}

/// One error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: ErrorType,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_type: ErrorType,
}

impl ApiError {
    /// 422: a malformed body, a wrong field type, an unknown task.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Validation,
            message,
        )
    }

    /// 413: a body, a client batch or an input over its limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::Validation,
            message,
        )
    }

    /// 429: the queue is full.
    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Overloaded,
            message,
        )
    }

    /// 422: the tokenizer refused an input.
    pub fn tokenizer(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Tokenizer,
            message,
        )
    }

    /// 500: the model failed.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Backend,
            message,
        )
    }

    /// 503: not ready to serve.
    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unhealthy,
            message,
        )
    }

    pub fn new(status: StatusCode, error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.message,
            error_type: self.error_type,
        };
        (self.status, Json(body)).into_response()
    }
}
