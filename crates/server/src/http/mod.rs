//! The HTTP adapter of `footnote serve`: the JSON API under `/api/v1`, the
//! web chat page, health and metrics, on axum. Handlers translate requests
//! into calls on the application layer ([`App`]) and its results and errors
//! into responses ([`ApiError`], problem+json); they decide nothing
//! themselves. The router only routes; start-up is [`crate::serve`].
//!
//! A question arrives at [`ask::ask`] (API) or [`page::ask_form`] (the page
//! without JavaScript); both call [`App::accept`] and [`App::answer`].

mod api_conversations;
mod ask;
mod documents;
mod error;
mod extract;
mod health;
mod openapi;
mod page;
mod search;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use governor::DefaultKeyedRateLimiter;
use governor::clock::{Clock, DefaultClock};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::{App, AppError};
pub use error::ApiError;

/// JSON bodies larger than this are refused (413).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Longer URLs are refused (414). hyper refuses URLs over 64 KiB itself,
/// before any route sees them, with an empty body; this limit is lower so that
/// every client that can be answered gets a problem report.
pub const URI_LIMIT: usize = 16 * 1024;
/// Request headers larger than this, all together, are refused (431); hyper's
/// own limit (about 400 KiB, empty body) lies beyond it, for the same reason.
pub const HEADER_LIMIT: usize = 64 * 1024;

/// What every HTTP request shares: the application, and what only HTTP has
/// (the admin token, the rate limiter, the metrics exporter).
pub struct ApiContext {
    pub app: Arc<App>,
    pub admin_token: Option<String>,
    pub metrics: PrometheusHandle,
    pub upload_limit: usize,
    pub limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

pub type Ctx = Arc<ApiContext>;

/// The routes. `extra` are other adapters' routes (Slack's, when Slack is
/// configured), served with the same middleware.
pub fn router(context: Ctx, extra: Option<Router>) -> Router {
    let api = Router::new()
        .route("/ask", post(ask::ask))
        .route("/search", get(search::search))
        .route(
            "/documents",
            get(documents::list).post(documents::create).layer(DefaultBodyLimit::max(context.upload_limit)),
        )
        .route("/documents/{*id}", get(documents::show).delete(documents::delete))
        .route("/conversations/{id}", get(api_conversations::show))
        .route("/feedback", post(api_conversations::feedback))
        .route("/openapi.json", get(openapi::document))
        .layer(middleware::from_fn_with_state(context.clone(), rate_limit));
    let health = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    let page = Router::new()
        .route("/", get(page::chat).post(page::ask_form))
        .route("/feedback", post(page::feedback_form))
        .route("/messages/{id}", get(page::message_fragment))
        .layer(middleware::from_fn_with_state(context.clone(), rate_limit))
        .route("/assets/{name}", get(page::asset));

    let routes = Router::new()
        .nest("/api/v1", api.merge(health.clone()))
        .merge(health)
        .merge(page)
        .with_state(context)
        .merge(extra.unwrap_or_default())
        .fallback(|| async { ApiError::from(AppError::NotFound { what: "route", id: "this path".into() }) })
        .layer(middleware::from_fn(request_limits))
        .layer(middleware::from_fn(track_requests))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    // Around the whole router, not each route: a 405 gets its `Allow` header
    // inside, and this layer sees it.
    Router::new().fallback_service(routes).layer(middleware::from_fn(error::problems_only))
}

/// Request counts and latency by route, method and status.
async fn track_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("route", route), ("method", method), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Refuses URLs and header sections over their limits, as problems.
async fn request_limits(request: Request, next: Next) -> Result<Response, ApiError> {
    let uri = request.uri().to_string().len();
    if uri > URI_LIMIT {
        return Err(ApiError::UriTooLong(uri));
    }
    // Each header line as sent: name, ": ", value, CRLF.
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if headers > HEADER_LIMIT {
        return Err(ApiError::HeadersTooLarge(headers));
    }
    Ok(next.run(request).await)
}

/// Each client (by address) gets `rate_limit` requests per second with bursts
/// of three times that; beyond it, 429 with `Retry-After`.
async fn rate_limit(
    State(context): State<Ctx>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(limiter) = &context.limiter
        && let Err(not_until) = limiter.check_key(&client.ip())
    {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return Err(ApiError::RateLimited { retry_after: wait.as_secs_f64().ceil().max(1.0) as u64 });
    }
    Ok(next.run(request).await)
}

/// Write routes take this extractor: it passes only with the admin token.
pub struct Admin;

impl axum::extract::FromRequestParts<Ctx> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, context: &Ctx) -> Result<Self, ApiError> {
        use subtle::ConstantTimeEq;
        let Some(expected) = &context.admin_token else {
            return Err(ApiError::WritesDisabled);
        };
        // The scheme is case-insensitive (RFC 9110 §11.1); the token is
        // compared exactly as sent, so a padded one does not match.
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim_start_matches(' '))
            .ok_or(ApiError::MissingToken)?;
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) { Ok(Admin) } else { Err(ApiError::WrongToken) }
    }
}
