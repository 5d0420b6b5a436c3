//! The one error type of the HTTP adapter: the application's errors and the
//! transport's own (bad JSON, wrong token, rate limit), answered as
//! `application/problem+json` (RFC 9457) with a detail a user can act on.

use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("this request changes documents and needs `Authorization: Bearer <FOOTNOTE_ADMIN_TOKEN>`")]
    MissingToken,
    #[error("the bearer token is not the admin token")]
    WrongToken,
    #[error("document changes are turned off on this server: set FOOTNOTE_ADMIN_TOKEN to allow them")]
    WritesDisabled,
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
            App(AppError::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Not ready"),
            App(AppError::Internal(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "The body is not valid JSON"),
            MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed-query", "The query string is not valid"),
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

/// `axum::Json` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
