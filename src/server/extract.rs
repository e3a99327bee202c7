//! Request extractors whose rejections (malformed JSON, a missing content
//! type, a body over the limit) answer in the error
//! shape with their own status.

use axum::extract::Request;
use axum::http::StatusCode;

use super::api_error::ApiError;
use crate::error::Error;

/// Per-request facts the access log needs, filled in as the request runs.
#[derive(Clone, Default)]
pub(super) struct RequestInfo(
    pub(super) std::sync::Arc<std::sync::Mutex<(String, Option<String>)>>,
);

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
    axum::extract::rejection::BytesRejection,
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

/// The bytes of a JSON request body, with its content type checked; the
/// operation's codec parses them ([`crate::ops::decode_json`]).
pub(super) struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, ApiError> {
        let ext = req.extensions().clone();
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::new(
                Error::usage("expected a request with Content-Type: application/json")
                    .with_hint("send Content-Type: application/json"),
                request_id(&ext),
            )
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(JsonBytes)
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
