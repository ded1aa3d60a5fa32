//! The answer envelope, `{"ok":true,"result":…}` or `{"ok":false,"error_code":…,"description":…}`,
//! and the one place where errors become HTTP responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use roost_store::{NowAndThen, StoreError};
use roost_types::ApiError;

/// An error on its way to the wire.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError(error)
    }
}

impl From<roost_core::Error> for HttpError {
    fn from(error: roost_core::Error) -> Self {
        match error {
            roost_core::Error::Api(api) => HttpError(api),
            roost_core::Error::Store(store) => {
                // Decided here, logged here, once (and once a second at most: a full disk fails
                // every write). The caller learns nothing of the store but that it is full.
                static LOGGED: NowAndThen = NowAndThen::new(std::time::Duration::from_secs(1));
                if let Some(held_back) = LOGGED.check() {
                    tracing::error!(error = %store, failed_since_last_line = held_back, "store failure");
                }
                match store {
                    StoreError::Full => HttpError(ApiError::STORAGE_FULL),
                    _ => HttpError(ApiError::INTERNAL),
                }
            }
        }
    }
}

impl IntoResponse for HttpError {
    /// In the Telegram dialect's words (the client API's too).
    fn into_response(self) -> Response {
        let description = crate::telegram::errors::describe(&self.0);
        error_response(&self.0, &description, self.0.retry_after)
    }
}

/// `{"ok":false,"error_code":…,"description":…}` with `description` in a dialect's words, and for
/// a rate limit `parameters.retry_after` and the `Retry-After` header.
pub fn error_response(error: &ApiError, description: &str, retry_after: Option<u32>) -> Response {
    let code = error.status();
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(seconds) = retry_after {
        body["parameters"] = json!({"retry_after": seconds});
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, json_body(&body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// `{"ok":true,"result":…}`.
pub fn ok<T: Serialize>(result: &T) -> Response {
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        ok: bool,
        result: &'a T,
    }
    json_body(&Envelope { ok: true, result }).into_response()
}

/// Serialised JSON with its content type; serialisation of our own types cannot fail, but if it
/// ever did the caller gets a 500, not a panic.
fn json_body<T: Serialize>(value: &T) -> Response {
    // Room for a message (~250 bytes) from the start, instead of growing from 128 bytes twice.
    let mut bytes = Vec::with_capacity(512);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The result of a handler: an answer or an error, both as a response.
pub type Answer = Result<Response, HttpError>;
