//! `footnote-scale tantivy-bm25`: the same collection's BM25 half in tantivy,
//! whose top-k search skips postings that cannot reach the top (block-max
//! WAND), against Qdrant's, which walks every posting of the question's terms.
//! A measurement for choosing a BM25 engine, not part of footnote; built only
//! with `--features tantivy-probe`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index as TantivyIndex, IndexWriter, doc};

use crate::{Collection, Timings, base_points, derivations, quantile, read_questions, round};

/// English words, stop words removed and stemmed, as footnote's BM25 terms are.
const ANALYZER: &str = "footnote_english";

/// Builds (unless `dir` holds one) a tantivy index of the passages `build`
/// makes for `collection`, in the same order, then times a top-`limit` BM25
/// search for each question; prints JSON.
pub fn run(collection: &Collection, dir: &Path, questions: &Path, count: usize, limit: usize) -> Result<()> {
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::new(Language::English).context("tantivy has no English stop words")?)
        .filter(Stemmer::new(Language::English))
        .build();
    let mut build_s = None;
    let index = if dir.join("meta.json").is_file() {
        TantivyIndex::open_in_dir(dir)?
    } else {
        let started = Instant::now();
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs);
        schema.add_text_field("text", TextOptions::default().set_indexing_options(indexing));
        std::fs::create_dir_all(dir)?;
        let index = TantivyIndex::create_in_dir(dir, schema.build())?;
        index.tokenizers().register(ANALYZER, analyzer.clone());
        let text = index.schema().get_field("text")?;
        let mut writer: IndexWriter = index.writer_with_num_threads(2, 1 << 30)?;
        let (_, points) = base_points(&collection.base)?;
        for point in &points {
            writer.add_document(doc!(text => point.passage.text.clone()))?;
        }
        for derived in derivations(&points, collection.seed).take(collection.passages.saturating_sub(points.len())) {
            writer.add_document(doc!(text => derived.text))?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        build_s = Some(round(started.elapsed().as_secs_f64()));
        index
    };
    index.tokenizers().register(ANALYZER, analyzer);
    let text = index.schema().get_field("text")?;
    let reader = index.reader()?;
    let searcher = reader.searcher();
    let parser = QueryParser::for_index(&index, vec![text]);
    let questions = read_questions(questions, count)?;
    // Question marks, quotes and the like are query syntax to tantivy.
    let queries = questions
        .iter()
        .map(|q| parser.parse_query(&q.replace(|c: char| !c.is_alphanumeric() && !c.is_whitespace(), " ")))
        .collect::<Result<Vec<_>, _>>()?;
    for query in queries.iter().take(20) {
        searcher.search(query, &TopDocs::with_limit(limit))?;
    }
    let times = Timings::of(queries.iter(), |query| {
        searcher.search(query, &TopDocs::with_limit(limit))?;
        Ok(())
    })?;
    println!(
        "{}",
        serde_json::json!({
            "passages": searcher.num_docs(),
            "segments": searcher.segment_readers().len(),
            "build_s": build_s,
            "limit": limit,
            "questions": times.wall.len(),
            "search_p50_ms": quantile(&times.wall, 0.5),
            "search_p99_ms": quantile(&times.wall, 0.99),
            "search_cpu_p50_ms": quantile(&times.cpu, 0.5),
            "search_cpu_p99_ms": quantile(&times.cpu, 0.99),
        })
    );
    Ok(())
}
