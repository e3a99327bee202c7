//! The API's error shape: `{"error":{"code","message","hint","exit","request_id"}}`
//! with the HTTP status its exit class maps to.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, Exit};
use crate::ops::openapi::{ErrorBody, ErrorDetail};

/// An API error, rendered in the error shape.
pub struct ApiError {
    pub(super) status: StatusCode,
    err: Box<Error>,
    request_id: String,
    pub(super) retry_after: Option<Duration>,
}

fn status_of(e: &Error) -> StatusCode {
    match e.exit {
        Exit::Usage => StatusCode::BAD_REQUEST,
        Exit::NotFound => StatusCode::NOT_FOUND,
        Exit::Conflict => StatusCode::CONFLICT,
        Exit::Auth => StatusCode::UNAUTHORIZED,
        Exit::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The error with the status of its exit class.
    pub(super) fn new(err: Error, request_id: &str) -> Self {
        ApiError {
            status: status_of(&err),
            err: Box::new(err),
            request_id: request_id.to_owned(),
            retry_after: None,
        }
    }

    /// The same error with another status (403, 405, 413, 415, 429, 431).
    pub(super) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Internal errors keep their detail in the server log, not the response.
        let message = if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!(
                "serve: internal error (request {}): {}",
                self.request_id, self.err.message
            );
            "internal error; see the server log".to_owned()
        } else {
            self.err.message.clone()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.err.code,
                message,
                hint: self.err.hint.clone(),
                exit: self.err.exit.code(),
                request_id: self.request_id.clone(),
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        let retry = self
            .retry_after
            .and_then(|d| HeaderValue::from_str(&d.as_secs().max(1).to_string()).ok());
        if let Some(v) = retry {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// What a handler answers.
pub(super) type ApiResult = std::result::Result<Response, ApiError>;
