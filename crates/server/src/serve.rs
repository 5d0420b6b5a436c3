//! `footnote serve`: start-up and shutdown. Opens the index and the
//! conversation database, seeds an empty index, builds the [`App`] and hands
//! it to the adapters ([`http`] and, when configured, [`slack`]), then serves
//! until SIGINT or SIGTERM and closes everything cleanly.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use footnote_answer::Asker;
use footnote_index::Index;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::app::App;
use crate::cli::{ServeArgs, Settings};
use crate::conversations::Conversations;
use crate::slack::SlackSettings;
use crate::{commands, http, slack};

/// What `serve` needs, resolved from flags, environment and the config file.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub database_url: String,
    pub admin_token: Option<String>,
    /// The key cookies are signed with; when `None`, the one in `cookie_key_file`.
    pub cookie_key: Option<String>,
    pub cookie_key_file: PathBuf,
    /// Ingested when the index is empty, unless `None`.
    pub seeds: Option<PathBuf>,
    pub upload_limit: usize,
    /// Requests per second each client may make to the API; 0 turns the limit off.
    pub rate_limit: u32,
    pub slack: SlackSettings,
}

/// Opens the index with its serving sessions and serves on a multi-threaded runtime.
pub fn run(settings: &Settings, args: &ServeArgs) -> anyhow::Result<()> {
    let options = args.options(settings);
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    let index = Arc::new(commands::open_serving_index(settings, args.embedding_sessions)?);
    let (asker, llm) = args.asker(index)?;
    crate::heap::return_freed_memory();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(asker, llm, options))
}

/// Opens everything, serves until SIGINT or SIGTERM, then lets requests in
/// flight finish and closes the index and the database cleanly.
async fn serve(asker: Asker, llm: Option<Arc<footnote_llm::Client>>, options: ServeOptions) -> anyhow::Result<()> {
    // Settings are checked before anything slow starts.
    options.slack.check()?;
    let cookies = http::CookieKey::new(options.cookie_key.as_deref(), &options.cookie_key_file)?;
    if let Some(seeds) = &options.seeds {
        seed_empty_index(asker.index(), seeds).await?;
    }
    let conversations = Conversations::open(&options.database_url).await?;
    let metrics = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        .expect("valid buckets")
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let app = Arc::new(App::new(asker, llm, conversations));
    app.update_index_gauge();
    let slack_routes = slack::start(app.clone(), options.slack)?;
    let api = http::ApiContext {
        app: app.clone(),
        admin_token: options.admin_token.filter(|t| !t.is_empty()),
        cookies,
        metrics,
        upload_limit: options.upload_limit,
        limiter: rate_limiter(options.rate_limit),
    };

    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("cannot listen on {}", options.addr))?;
    let address = listener.local_addr()?;
    println!("footnote is serving on http://{address}/");
    tracing::info!("listening on {address}");
    let routes = http::router(Arc::new(api), slack_routes);
    axum::serve(listener, routes.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("shutting down");
    app.close().await
}

/// `per_second` requests per client address with bursts of three times
/// that; `None` when the limit is off (0).
fn rate_limiter(per_second: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    std::num::NonZeroU32::new(per_second).map(|per_second| {
        let burst = per_second.saturating_mul(std::num::NonZeroU32::new(3).unwrap());
        RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
    })
}

async fn seed_empty_index(index: &Arc<Index>, seeds: &Path) -> anyhow::Result<()> {
    if index.totals()?.passages > 0 {
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
