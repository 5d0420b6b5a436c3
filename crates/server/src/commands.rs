//! The one-shot commands: ingest, ask, search, docs, passages, delete,
//! migrate-index. Each opens the index, does its work and prints; `serve`
//! ([`crate::serve`]) and `eval` ([`crate::eval`]) have their own modules.

use std::path::PathBuf;

use anyhow::Context;
use std::io::Write;

use footnote_answer::{AnswerEvent, AskRequest, Turn};
use footnote_judge::Sessions;
use footnote_index::{Embedder, Index, Location};
use footnote_ingest::{Format, IngestReport, Ingestor, web};
use footnote_retrieval::{Query, RankingSpec, Retriever};
use serde_json::json;

use crate::cli::{AnswerArgs, CrawlArgs, Settings};
use crate::progress::IngestBar;

pub fn open_index(settings: &Settings) -> anyhow::Result<Index> {
    Ok(Index::open(&settings.location(), &settings.model_source())?)
}

/// The index with the model sessions a server embeds with.
pub fn open_serving_index(settings: &Settings, embedding_sessions: usize) -> anyhow::Result<Index> {
    let embedder = Embedder::load_serving(&settings.model_source(), embedding_sessions)?;
    Ok(Index::open_with(&settings.location(), embedder)?)
}

pub fn ingest(settings: &Settings, arguments: &[PathBuf], crawl: &CrawlArgs, json: bool) -> anyhow::Result<()> {
    let (urls, paths): (Vec<&PathBuf>, Vec<&PathBuf>) = arguments.iter().partition(|a| web::is_url(&a.to_string_lossy()));
    let paths: Vec<PathBuf> = paths.into_iter().cloned().collect();
    // Check the paths before touching the data directory, so a typo creates nothing.
    // A file named on its own must be one we read; in a folder such files are skipped.
    for path in &paths {
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot ingest {}", path.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if metadata.is_file() && Format::from_file_name(&name).is_none() {
            anyhow::bail!("cannot ingest {}: {}", path.display(), Format::UNREADABLE);
        }
    }
    anyhow::ensure!(!crawl.crawl || !urls.is_empty(), "--crawl needs a URL to start from");
    // Fetch before opening the index too: an unreachable URL stores nothing.
    let mut fetched = web::Fetched::default();
    let mut named = paths.clone();
    for url in urls {
        let url = url.to_string_lossy();
        let pages = if crawl.crawl {
            web::crawl(&url, &crawl.limits(), &mut |page| tracing::info!("fetching {page}"))?
        } else {
            web::fetch_page(&url)?
        };
        named.extend(pages.documents.first().map(|d| PathBuf::from(&d.id)));
        fetched.documents.extend(pages.documents);
        fetched.skipped.extend(pages.skipped);
    }
    let index = open_index(settings)?;
    let ingestor = Ingestor::new(&index);
    let mut report = if paths.is_empty() { IngestReport::default() } else { ingestor.ingest(&paths, &IngestBar::new())? };
    if !fetched.documents.is_empty() {
        report.absorb(ingestor.ingest_documents(&fetched.documents, &IngestBar::new())?);
    }
    report.skipped.extend(fetched.skipped);
    // What was named on its own and skipped is the command's error, said once, below.
    for (path, reason) in report.skipped.iter().filter(|(skipped, _)| !named.contains(skipped)) {
        tracing::warn!("skipped {}: {reason}", path.display());
    }
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    // A file named on its own that yielded nothing is a failure, not a skip.
    if let Some((path, reason)) = report.skipped.iter().find(|(skipped, _)| named.contains(skipped)) {
        anyhow::bail!("cannot ingest {}: {reason}", path.display());
    }
    Ok(())
}

fn print_summary(report: &IngestReport) {
    let seconds = report.elapsed.as_secs_f64();
    println!(
        "documents: {} added, {} replaced, {} unchanged, {} skipped",
        report.added,
        report.replaced,
        report.unchanged,
        report.skipped.len()
    );
    for (path, reason) in &report.skipped {
        println!("  skipped {}: {reason}", path.display());
    }
    println!(
        "passages: {} written, {} duplicates dropped; {} word pieces embedded",
        report.passages_written, report.duplicates_dropped, report.word_pieces_embedded
    );
    println!(
        "time: {seconds:.2} s ({:.0} passages/s, {:.0} word pieces/s), of which embedding {:.2} s",
        report.passages_written as f64 / seconds.max(1e-9),
        report.word_pieces_embedded as f64 / seconds.max(1e-9),
        report.embedding.as_secs_f64()
    );
}

pub fn ask(
    settings: &Settings,
    answer: &AnswerArgs,
    question: &str,
    conversation: Vec<String>,
    k: Option<usize>,
    documents: Vec<String>,
    json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(!question.trim().is_empty(), "the question is empty");
    let index = open_index(settings)?;
    let (asker, _) = answer.asker(std::sync::Arc::new(index), Sessions::one_per_core())?;
    let conversation = conversation.into_iter().map(|question| Turn { question, answer: String::new() }).collect();
    let request = AskRequest { question: question.to_string(), conversation, top_k: k, documents };
    let mut stdout = std::io::stdout().lock();
    let response = asker.ask(&request, &mut |event| {
        // Print the answer as it is composed; sources follow at the end.
        if let (false, AnswerEvent::Text(piece)) = (json, event) {
            let _ = write!(stdout, "{piece} ");
            let _ = stdout.flush();
        }
    })?;
    drop(stdout);
    if json {
        println!("{}", serde_json::to_string_pretty(&response)?);
        return Ok(());
    }
    println!();
    let body = &response.answer.body;
    if let Some(warning) = &body.warning {
        eprintln!("note: {}", warning.message);
    }
    for left_out in &body.unsupported {
        eprintln!("left out (not verified): {} ({})", left_out.text, left_out.reason);
    }
    if !response.answer.citations.is_empty() {
        println!("\nSources:");
    }
    for c in &response.answer.citations {
        let source = c.source.as_deref().map(|s| format!(" — {s}")).unwrap_or_default();
        let page = c.page.map(|page| format!("p. {page}, ")).unwrap_or_default();
        println!("[{}] {}{} ({}, {page}passage {})", c.n, c.title, source, c.doc_id, c.position);
        println!("    {}", shorten(&highlight(&c.text, &c.highlights), 600));
    }
    Ok(())
}

/// The passage with the sentences the answer used between » and «.
fn highlight(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if ranges.iter().any(|&(start, _)| start == i) {
            out.push('»');
        }
        out.push(c);
        if ranges.iter().any(|&(_, end)| end == i + 1) {
            out.push('«');
        }
    }
    out
}

pub fn search(
    settings: &Settings,
    question: &str,
    k: usize,
    documents: Vec<String>,
    ranking: Option<RankingSpec>,
    json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(!question.trim().is_empty(), "the question is empty");
    let index = open_index(settings)?;
    let mut retriever = Retriever::new(&index);
    if let Some(RankingSpec(ranking)) = ranking {
        retriever = retriever.with_ranking(ranking);
    }
    let hits = retriever.search(&Query { question: question.to_string(), limit: k, documents })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({ "question": question, "results": hits }))?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("No passages found. Is anything ingested? Try `footnote docs`.");
    }
    for (rank, hit) in hits.iter().enumerate() {
        let p = &hit.passage;
        println!("{}. {} — {} #{} (score {:.4})", rank + 1, p.title, p.doc_id, p.position, hit.score);
        println!("   {}\n", shorten(&p.text, 400));
    }
    Ok(())
}

pub fn docs(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let index = Index::open_existing(&settings.location())?;
    let documents = index.documents()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({ "documents": documents }))?);
        return Ok(());
    }
    for d in &documents {
        println!("{}  {} passages  {}", d.id, d.passages, d.title);
        if let Some(source) = &d.source {
            println!("    {source}");
        }
    }
    println!("{} documents", documents.len());
    Ok(())
}

pub fn passages(settings: &Settings, document: Option<&str>, json: bool) -> anyhow::Result<()> {
    let index = Index::open_existing(&settings.location())?;
    let passages = index.passages(document)?;
    if let Some(id) = document {
        anyhow::ensure!(!passages.is_empty(), footnote_index::Error::DocumentNotFound(id.to_string()));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({ "passages": passages }))?);
        return Ok(());
    }
    for p in &passages {
        println!("{} #{} [{}..{}]\n{}\n", p.doc_id, p.position, p.start, p.end, p.text);
    }
    Ok(())
}

pub fn delete(settings: &Settings, doc_id: &str) -> anyhow::Result<()> {
    let index = Index::open_existing(&settings.location())?;
    let removed = index.delete_document(doc_id).with_context(|| format!("cannot delete {doc_id:?}"))?;
    println!("deleted {doc_id} ({removed} passages)");
    Ok(())
}

/// `footnote migrate-index`: copies the configured index to `to`, a Qdrant
/// server URL (into `to_collection` or the configured collection) or a data
/// directory.
pub fn migrate_index(settings: &Settings, to: &str, to_collection: Option<String>) -> anyhow::Result<()> {
    let target = if to.starts_with("http://") || to.starts_with("https://") {
        let mut server = settings.qdrant.settings(to);
        if let Some(collection) = to_collection {
            server.collection = collection;
        }
        Location::Server(server)
    } else {
        anyhow::ensure!(to_collection.is_none(), "--to-collection applies to a server, and --to {to} is a directory");
        Location::Embedded(PathBuf::from(to))
    };
    let target = &target;
    let source = Index::open_existing(&settings.location())?;
    let documents = source.documents()?.len();
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} passages copied").expect("valid template"));
    let copied = source
        .copy_to(target, &mut |copied| bar.set_position(copied as u64))
        .with_context(|| format!("cannot copy the index to {target}"))?;
    bar.finish_and_clear();
    println!("copied {copied} passages of {documents} documents from {} to {target}", source.location());
    Ok(())
}

fn shorten(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
