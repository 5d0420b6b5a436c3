//! `footnote`: ask questions of your documents, get answers with footnotes.
//!
//! Each subcommand is a function in [`commands`] (or [`eval`]): a question goes
//! to `commands::search`, which opens the [`footnote_index::Index`] and ranks
//! passages with [`footnote_retrieval::Retriever`].

mod commands;
mod eval;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use footnote_index::ModelSource;
use footnote_retrieval::RankingSpec;

#[derive(Debug, Parser)]
#[command(name = "footnote", version, about = "Ask questions of your documents; every answer cites its passages.")]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command shares; each also reads a `FOOTNOTE_*` variable.
#[derive(Debug, Clone, Args)]
struct Settings {
    /// Where the index lives.
    #[arg(long, global = true, env = "FOOTNOTE_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// A model directory in the layout of all-MiniLM-L6-v2 (ONNX file and tokenizer files).
    /// Without it the model is downloaded by fastembed.
    #[arg(long, global = true, env = "FOOTNOTE_MODEL_DIR")]
    model_dir: Option<PathBuf>,
    /// The ONNX file inside the model directory (e.g. model-int8.onnx).
    #[arg(long, global = true, env = "FOOTNOTE_MODEL_FILE", default_value = "model.onnx")]
    model_file: String,
    /// The fastembed model to download when no model directory is given.
    #[arg(long, global = true, env = "FOOTNOTE_MODEL", default_value = "AllMiniLML6V2")]
    model: String,
}

impl Settings {
    fn model_source(&self) -> ModelSource {
        match &self.model_dir {
            Some(path) => ModelSource::Directory { path: path.clone(), onnx_file: self.model_file.clone() },
            None => ModelSource::Hub { name: self.model.clone() },
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add files and folders (.txt, .md, .html) to the index; unchanged documents are skipped.
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
    /// Measure retrieval on a question set (JSON lines with id, question, answers, evidence).
    Eval {
        #[arg(long)]
        qa: PathBuf,
        /// Build a fresh temporary index from this folder instead of using --data-dir.
        #[arg(long)]
        docs: Option<PathBuf>,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Rankings to compare (repeatable); the first is the one reported in JSON.
        #[arg(long = "ranking")]
        rankings: Vec<RankingSpec>,
        /// Candidates each ranking contributes to fusion.
        #[arg(long, default_value_t = footnote_retrieval::DEFAULT_PREFETCH)]
        prefetch: usize,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FOOTNOTE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,qdrant_edge=error")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", message.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = &cli.settings;
    match cli.command {
        Command::Ingest { paths, json } => commands::ingest(settings, &paths, json),
        Command::Search { question, k, documents, ranking, json } => {
            commands::search(settings, &question, k, documents, ranking, json)
        }
        Command::Docs { json } => commands::docs(settings, json),
        Command::Passages { document, json } => commands::passages(settings, document.as_deref(), json),
        Command::Delete { doc_id } => commands::delete(settings, &doc_id),
        Command::Eval { qa, docs, k, rankings, prefetch, json } => {
            eval::run(settings, &qa, docs.as_deref(), k, &rankings, prefetch, json)
        }
    }
}
