//! Request extractors whose rejections (malformed JSON, a missing content
//! type, a body over the limit) answer in the error
//! shape with their own status.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;

use super::api_error::ApiError;
use crate::error::Error;

/// The id the access log gave this request.
#[derive(Clone)]
pub(super) struct RequestId(pub(super) String);

/// The id the access log gave this request ("" outside it).
pub(super) fn request_id(ext: &axum::http::Extensions) -> &str {
    ext.get::<RequestId>().map_or("", |r| r.0.as_str())
}

/// axum rejections that carry a status and a text.
pub(super) trait Rejected {
    fn status_and_text(&self) -> (StatusCode, String);
}

macro_rules! rejected {
    ($($t:ty),*) => {$(
        impl Rejected for $t {
            fn status_and_text(&self) -> (StatusCode, String) {
                (self.status(), self.body_text())
            }
        }
    )*};
}
rejected!(
    axum::extract::rejection::JsonRejection,
    axum::extract::rejection::StringRejection
);

fn rejection(r: &impl Rejected, ext: &axum::http::Extensions) -> ApiError {
    let (status, text) = r.status_and_text();
    let mut e = Error::usage(text);
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        e = e.with_hint("send Content-Type: application/json");
    }
    ApiError::new(e, request_id(ext)).with_status(status)
}

/// A JSON request body; malformed ones get the error shape.
pub(super) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, ApiError> {
        let ext = req.extensions().clone();
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|r| rejection(&r, &ext))
    }
}

/// A text request body (NDJSON batches); one over the limit gets the error shape.
pub(super) struct TextBody(pub String);

impl<S: Send + Sync> axum::extract::FromRequest<S> for TextBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, ApiError> {
        let ext = req.extensions().clone();
        String::from_request(req, state)
            .await
            .map(TextBody)
            .map_err(|r| rejection(&r, &ext))
    }
}
