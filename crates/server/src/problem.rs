//! Problem details (RFC 9457): the one shape in which the HTTP adapters, the
//! API ([`crate::http`]) and Slack's routes ([`crate::slack`]), report an
//! error. Each adapter decides which status and kind its errors are; this
//! module only writes them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem report as served, `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem (`urn:footnote:problem:<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    /// A problem of kind `slug` (`urn:footnote:problem:<slug>`).
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: String) -> Self {
        Problem { kind: format!("urn:footnote:problem:{slug}"), title: title.to_string(), status: status.as_u16(), detail }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, serde_json::to_string(&self).expect("problems serialize")).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}
