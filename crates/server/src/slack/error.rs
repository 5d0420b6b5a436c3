//! Errors of Slack's own routes (`/slack/*`), answered as problem+json like
//! the API's, so Slack's delivery logs show what was refused and why.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::SignatureError;
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("the request is not signed by Slack: {0}")]
    BadSignature(#[from] SignatureError),
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
}

impl IntoResponse for SlackError {
    fn into_response(self) -> Response {
        let (status, slug, title) = match &self {
            SlackError::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad-signature", "Not signed by Slack"),
            SlackError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "The body is not valid JSON"),
            SlackError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", "The request is not valid"),
            SlackError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "The body is too large"),
        };
        Problem::new(status, slug, title, self.to_string()).into_response()
    }
}
