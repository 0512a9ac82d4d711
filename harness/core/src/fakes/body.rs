//! Response bodies the fakes share: JSON errors, and the broken bodies of real
//! incidents (cut in half, or stalled after the headers).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use serde_json::json;

/// `status` with the body `{"error": code}`.
pub fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// `status` with a JSON error body whose code is the status's reason in snake case.
pub fn status_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    json_error(status, &reason)
}

/// The first half of `body`: what a truncated or stalled answer sends.
pub fn first_half(body: &str) -> Bytes {
    Bytes::copy_from_slice(&body.as_bytes()[..body.len() / 2])
}

/// A body that yields one chunk, then never another (and never ends). Its unknown
/// length makes hyper send it chunked. `keep` lives as long as the body, so a call
/// guard riding in it marks the call finished only when the client gives up.
pub struct StalledBody<K> {
    first: Option<Bytes>,
    _keep: K,
}

impl<K> StalledBody<K> {
    /// A body that sends `first`, then stalls, holding `keep` until dropped.
    pub fn new(first: Bytes, keep: K) -> StalledBody<K> {
        StalledBody {
            first: Some(first),
            _keep: keep,
        }
    }
}

impl<K: Unpin> hyper::body::Body for StalledBody<K> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.first.take() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            // Never woken: the stall lasts until the connection is dropped.
            None => Poll::Pending,
        }
    }
}
