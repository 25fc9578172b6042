//! Error replies in Riak's style: a status and a short plain-text body.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request that ends in an error reply (or an engine failure turned into one).
#[derive(Debug)]
pub struct Fail {
    /// The HTTP status.
    pub status: StatusCode,
    /// The plain-text body (ends with a newline).
    pub body: String,
}

impl Fail {
    /// A reply with `status` and `msg` as its body.
    pub fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        let mut body = msg.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Fail { status, body }
    }

    /// 400 Bad Request.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Fail::new(StatusCode::BAD_REQUEST, msg)
    }

    /// 404 with Riak's body.
    pub fn not_found() -> Self {
        Fail::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 412 Precondition Failed.
    pub fn precondition_failed() -> Self {
        Fail::new(StatusCode::PRECONDITION_FAILED, "Precondition Failed")
    }

    /// 413 Payload Too Large.
    pub fn too_large(limit: usize) -> Self {
        Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body larger than the limit of {limit} bytes"),
        )
    }
}

impl From<shaledb::Error> for Fail {
    fn from(e: shaledb::Error) -> Self {
        match e {
            shaledb::Error::InvalidArgument(msg) => Fail::bad_request(msg),
            other => {
                tracing::warn!(error = %other, "riak: engine error");
                Fail::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Internal Server Error: {other}"),
                )
            }
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain")],
            self.body,
        )
            .into_response()
    }
}
