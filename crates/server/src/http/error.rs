//! The one error type of the HTTP adapter: the application's errors and the
//! transport's own (bad JSON, wrong token, rate limit), answered as
//! `application/problem+json` (RFC 9457) with a detail a user can act on.

use axum::extract::Request;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppError;
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    /// A well-formed body or form whose fields are not as described.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    MalformedQuery(String),
    #[error("{0}")]
    MalformedPath(String),
    /// An HTTP method the route does not have (405).
    #[error("this route does not answer {method}; it answers {allow}")]
    MethodNotAllowed { method: String, allow: String },
    #[error("the URL is {0} bytes long; the limit is {limit} bytes", limit = super::URI_LIMIT)]
    UriTooLong(usize),
    #[error("the request headers are {0} bytes long; the limit is {limit} bytes", limit = super::HEADER_LIMIT)]
    HeadersTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("this request changes documents and needs `Authorization: Bearer <FOOTNOTE_ADMIN_TOKEN>`")]
    MissingToken,
    #[error("the bearer token is not the admin token")]
    WrongToken,
    #[error("document changes are turned off on this server: set FOOTNOTE_ADMIN_TOKEN to allow them")]
    WritesDisabled,
    /// A write that another site may have sent: a foreign `Origin`, or a page
    /// form without this browser's token.
    #[error("{0}")]
    CrossSite(String),
    #[error("too many requests from this client; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
}

impl ApiError {
    fn status_and_slug(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            App(AppError::InvalidQuestion(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-question", "The question cannot be asked"),
            App(AppError::Invalid(_)) | Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", "The request is not valid"),
            App(AppError::UnsupportedFormat(_)) | UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported content type")
            }
            App(AppError::NotFound { .. }) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            App(AppError::Forbidden(_)) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            CrossSite(_) => (StatusCode::FORBIDDEN, "cross-site", "Refused as a possible cross-site request"),
            App(AppError::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Not ready"),
            App(AppError::Internal(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "The body is not valid JSON"),
            MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed-query", "The query string is not valid"),
            MalformedPath(_) => (StatusCode::BAD_REQUEST, "malformed-path", "The path is not valid"),
            MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri-too-long", "The URL is too long"),
            HeadersTooLarge(_) => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "The request headers are too large"),
            TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "The body is too large"),
            MissingToken => (StatusCode::UNAUTHORIZED, "missing-token", "Authentication required"),
            WrongToken => (StatusCode::FORBIDDEN, "wrong-token", "Not allowed"),
            WritesDisabled => (StatusCode::FORBIDDEN, "writes-disabled", "Document changes are turned off"),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.status_and_slug();
        Problem::new(status, slug, title, self.to_string())
    }

    /// Logs an internal error, whose detail the client is not shown.
    pub fn log_if_internal(&self) {
        if let ApiError::App(AppError::Internal(error)) = self {
            tracing::error!("internal error: {error:#}");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            ApiError::MissingToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => ApiError::Invalid(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("send JSON with `Content-Type: application/json`".into())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::TooLarge(format!("the JSON body is over the limit of {} bytes", super::JSON_BODY_LIMIT))
            }
            other => ApiError::MalformedJson(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::MalformedQuery(rejection.body_text())
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(rejection.body_text()),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(rejection.body_text()),
            _ => ApiError::Invalid(rejection.body_text()),
        }
    }
}

/// Error responses that axum or a library wrote on its own (a 405 with an
/// empty body, a rejection in `text/plain`) are rewritten as problems, so
/// that no error leaves the server in another shape. Headers such as `Allow`
/// are kept; HTML error pages and problems pass unchanged.
pub async fn problems_only(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let written = ["application/problem+json", "text/html", "text/event-stream"].iter().any(|t| content_type.starts_with(t));
    if !(status.is_client_error() || status.is_server_error()) || written {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let problem = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        ApiError::MethodNotAllowed { method, allow }.problem()
    } else {
        let title = status.canonical_reason().unwrap_or("Error");
        let detail = if text.is_empty() { title.to_string() } else { text };
        let slug = title.to_lowercase().replace(' ', "-");
        Problem::new(status, &slug, title, detail)
    };
    let rewritten = problem.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    Response::from_parts(parts, rewritten.into_body())
}
