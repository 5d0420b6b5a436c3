//! `footnote serve`: the web chat page, the JSON API under `/api/v1`, health
//! and metrics, on axum.
//!
//! A question arrives at [`ask::ask`] (API) or [`page::ask_form`] (the page
//! without JavaScript); both call [`AppContext::ask`], which runs
//! [`footnote_answer::Asker::ask`] on a blocking thread and stores the exchange
//! in [`Conversations`].

mod api_conversations;
mod ask;
mod documents;
mod error;
mod health;
mod openapi;
mod page;
mod search;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use footnote_answer::{AnswerEvent, AskRequest, AskResponse, Asker, ExtractiveSettings};
use footnote_index::Index;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::conversations::Conversations;
use crate::slack::SlackSettings;
pub use error::ApiError;

/// JSON bodies larger than this are refused (413).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;

/// What `serve` needs, resolved from flags, environment and the config file.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub database_url: String,
    pub admin_token: Option<String>,
    /// Ingested when the index is empty, unless `None`.
    pub seeds: Option<PathBuf>,
    pub upload_limit: usize,
    /// Requests per second each client may make to the API; 0 turns the limit off.
    pub rate_limit: u32,
    pub answer: ExtractiveSettings,
    pub slack: SlackSettings,
}

/// Shared state of every request.
pub struct AppContext {
    pub asker: Asker,
    pub conversations: Conversations,
    admin_token: Option<String>,
    /// Ingestion through the API runs one at a time.
    ingest_lock: tokio::sync::Mutex<()>,
    metrics: PrometheusHandle,
    upload_limit: usize,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

pub type Ctx = Arc<AppContext>;

impl AppContext {
    pub fn index(&self) -> &Arc<Index> {
        self.asker.index()
    }

    /// Answers a question of a conversation and stores the exchange; returns
    /// the stored message's id with the answer. The answer's events are passed
    /// on as they come, for streaming.
    pub async fn ask(
        &self,
        conversation_id: &str,
        request: AskRequest,
        events: impl FnMut(AnswerEvent) + Send + 'static,
    ) -> Result<(String, AskResponse), ApiError> {
        let response = self.answer(request, events).await?;
        let message_id = self.conversations.add_message(conversation_id, &response).await?;
        Ok((message_id, response))
    }

    /// Answers a question on a blocking thread, passing the answer's events on
    /// as they come, and records the answer metrics.
    async fn answer(
        &self,
        request: AskRequest,
        mut events: impl FnMut(AnswerEvent) + Send + 'static,
    ) -> Result<AskResponse, ApiError> {
        let asker = self.asker.clone();
        let started = Instant::now();
        let response = tokio::task::spawn_blocking(move || asker.ask(&request, &mut events))
            .await
            .map_err(|e| ApiError::Internal(e.into()))??;
        metrics::histogram!("footnote_answer_duration_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("footnote_answers_total", "abstained" => response.answer.abstained.to_string()).increment(1);
        Ok(response)
    }

    /// The conversation a question belongs to: the one named (404 when
    /// unknown) with its earlier turns, or a new one.
    pub async fn conversation_for(&self, id: Option<&str>) -> Result<(String, Vec<footnote_answer::Turn>), ApiError> {
        match id {
            Some(id) => {
                if !self.conversations.exists(id).await? {
                    return Err(ApiError::NotFound { what: "conversation", id: id.to_string() });
                }
                Ok((id.to_string(), self.conversations.turns(id).await?))
            }
            None => Ok((uuid::Uuid::new_v4().to_string(), Vec::new())),
        }
    }

    /// Runs `work` on the index on a blocking thread: the embedding model and
    /// Qdrant Edge are synchronous and must not stall the async workers.
    pub async fn with_index<T: Send + 'static, E: Send + 'static>(
        &self,
        work: impl FnOnce(&Index) -> Result<T, E> + Send + 'static,
    ) -> Result<Result<T, E>, ApiError> {
        let index = self.index().clone();
        tokio::task::spawn_blocking(move || work(&index)).await.map_err(|e| ApiError::Internal(e.into()))
    }

    /// Re-reads the number of indexed passages into the metrics.
    pub fn update_index_gauge(&self) {
        if let Ok(documents) = self.index().store().documents() {
            metrics::gauge!("footnote_passages_indexed").set(documents.iter().map(|d| d.passages).sum::<usize>() as f64);
            metrics::gauge!("footnote_documents_indexed").set(documents.len() as f64);
        }
    }
}

/// Checks a question as the API and the page accept it.
pub fn validate_question(question: &str) -> Result<String, ApiError> {
    let trimmed = question.trim();
    if trimmed.is_empty() {
        return Err(ApiError::InvalidQuestion("the question is empty".into()));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_QUESTION_CHARS {
        return Err(ApiError::InvalidQuestion(format!(
            "the question is {chars} characters long; the limit is {MAX_QUESTION_CHARS}"
        )));
    }
    Ok(trimmed.to_string())
}

/// Opens everything, serves until SIGINT or SIGTERM, then lets requests in
/// flight finish and closes the index and the database cleanly.
pub async fn serve(index: Index, options: ServeOptions) -> anyhow::Result<()> {
    // Settings are checked before anything slow starts.
    options.slack.check()?;
    let index = Arc::new(index);
    if let Some(seeds) = &options.seeds {
        seed_empty_index(&index, seeds).await?;
    }
    let conversations = Conversations::open(&options.database_url).await?;
    let metrics = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        .expect("valid buckets")
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let limiter = std::num::NonZeroU32::new(options.rate_limit).map(|per_second| {
        let burst = per_second.saturating_mul(std::num::NonZeroU32::new(3).unwrap());
        RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
    });
    let context = Arc::new(AppContext {
        asker: Asker::extractive(index, options.answer),
        conversations,
        admin_token: options.admin_token.filter(|t| !t.is_empty()),
        ingest_lock: tokio::sync::Mutex::new(()),
        metrics,
        upload_limit: options.upload_limit,
        limiter,
    });
    context.update_index_gauge();
    let slack = crate::slack::start(context.clone(), options.slack)?;

    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let address = listener.local_addr()?;
    println!("footnote is serving on http://{address}/");
    tracing::info!("listening on {address}");
    axum::serve(listener, router(context.clone(), slack).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("shutting down");
    let index = context.index().clone();
    tokio::task::spawn_blocking(move || index.store().flush()).await??;
    context.conversations.close().await;
    Ok(())
}

async fn seed_empty_index(index: &Arc<Index>, seeds: &std::path::Path) -> anyhow::Result<()> {
    if !index.store().documents()?.is_empty() {
        return Ok(());
    }
    if !seeds.exists() {
        tracing::warn!("the index is empty and the seed folder {} does not exist; starting empty", seeds.display());
        return Ok(());
    }
    tracing::info!("the index is empty: ingesting the demo collection from {}", seeds.display());
    eprintln!("The index is empty: ingesting the demo collection from {}.", seeds.display());
    let index = index.clone();
    let paths = vec![seeds.to_path_buf()];
    let report = tokio::task::spawn_blocking(move || footnote_ingest::Ingestor::new(&index).ingest(&paths, &footnote_ingest::Silent))
        .await??;
    tracing::info!("seeded {} documents, {} passages", report.added, report.passages_written);
    Ok(())
}

/// The routes; Slack's are there only when Slack is configured.
fn router(context: Ctx, slack: Option<Router<Ctx>>) -> Router {
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

    Router::new()
        .nest("/api/v1", api.merge(health.clone()))
        .merge(health)
        .merge(page)
        .merge(slack.unwrap_or_default())
        .fallback(|| async { ApiError::NotFound { what: "route", id: "this path".into() } })
        .layer(middleware::from_fn(track_requests))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(context)
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

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("signal received; finishing requests in flight");
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
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::MissingToken)?;
        if bool::from(given.trim().as_bytes().ct_eq(expected.as_bytes())) { Ok(Admin) } else { Err(ApiError::WrongToken) }
    }
}
