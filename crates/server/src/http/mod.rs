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
mod cookies;
mod documents;
mod error;
mod extract;
mod health;
mod openapi;
mod library;
mod page;
mod search;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use governor::DefaultKeyedRateLimiter;
use governor::clock::{Clock, DefaultClock};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::{App, AppError};
pub use cookies::CookieKey;
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
    /// Signs the web app's cookies and form tokens.
    pub cookies: CookieKey,
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
        .route("/conversations", get(api_conversations::list))
        .route(
            "/conversations/{id}",
            get(api_conversations::show).patch(api_conversations::rename).delete(api_conversations::delete),
        )
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
        .route("/conversations/{id}/rename", post(page::rename_form))
        .route("/conversations/{id}/delete", post(page::delete_form))
        .route(
            "/documents",
            get(library::library).post(library::upload).layer(DefaultBodyLimit::max(context.upload_limit)),
        )
        .route("/documents/delete", post(library::delete_form))
        .route("/documents/{*id}", get(library::document))
        .route("/login", get(library::login_page).post(library::login))
        .route("/logout", post(library::logout))
        .layer(middleware::from_fn_with_state(context.clone(), browser_cookie))
        .layer(middleware::from_fn_with_state(context.clone(), rate_limit))
        .route("/assets/{name}", get(page::asset));

    let routes = Router::new()
        .nest("/api/v1", api.merge(health.clone()))
        .merge(health)
        .merge(page)
        .with_state(context)
        .merge(extra.unwrap_or_default())
        .fallback(|| async { ApiError::from(AppError::NotFound { what: "route", id: "this path".into() }) })
        .layer(middleware::from_fn(same_origin_writes))
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

/// Gives a browser that comes without a (valid) browser cookie a new one;
/// the handler sees the new id as if it had come with the request.
async fn browser_cookie(State(context): State<Ctx>, mut request: Request, next: Next) -> Response {
    let known = cookies::cookie(request.headers(), cookies::BROWSER_COOKIE).and_then(|value| context.cookies.browser(value));
    if known.is_some() {
        return next.run(request).await;
    }
    let secure = cookies::over_https(request.headers());
    let (id, value) = context.cookies.new_browser();
    request.extensions_mut().insert(cookies::IssuedBrowser(id));
    let mut response = next.run(request).await;
    let lasts = std::time::Duration::from_secs(cookies::BROWSER_DAYS * 24 * 3600);
    response.headers_mut().append(header::SET_COOKIE, cookies::set_cookie(cookies::BROWSER_COOKIE, &value, lasts, secure));
    response
}

/// Refuses a request that changes something when the browser says another
/// site sent it (its `Origin` names another host than the one it was sent
/// to: `Host`, or `X-Forwarded-Host` from a proxy that rewrites `Host`).
/// Clients that send no `Origin` (curl, other services) are not browsers
/// acting for another site.
async fn same_origin_writes(request: Request, next: Next) -> Result<Response, ApiError> {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let (false, Some(origin)) = (safe, request.headers().get(header::ORIGIN)) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let host = header("host");
        let targets = [host, header("x-forwarded-host")];
        if origin_host.is_empty() || !targets.iter().any(|target| !target.is_empty() && origin_host.eq_ignore_ascii_case(target)) {
            return Err(ApiError::CrossSite(format!("a request from {origin:?} may not change anything on {host:?}")));
        }
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

/// Who asks to change a conversation: the browser from its cookie, and
/// whether the admin token came along (a wrong one is refused).
pub struct ConversationCaller(pub crate::app::Caller);

impl axum::extract::FromRequestParts<Ctx> for ConversationCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, context: &Ctx) -> Result<Self, ApiError> {
        let admin = match Admin::from_request_parts(parts, context).await {
            Ok(Admin) => true,
            Err(ApiError::MissingToken | ApiError::WritesDisabled) => false,
            Err(error) => return Err(error),
        };
        let cookies::Browser(browser) = cookies::Browser::from_request_parts(parts, context).await.unwrap_or(cookies::Browser(None));
        Ok(ConversationCaller(crate::app::Caller { browser, admin }))
    }
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
