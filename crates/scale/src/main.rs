//! `footnote-scale`: the index side of `scripts/bench-scale.sh`.
//!
//! Embedding a million passages takes hours on two cores, so a large index is
//! built from a base of real, embedded passages (an index made by `footnote
//! ingest`) and passages derived from them:
//!
//! - text: the first half of one real passage's sentences followed by the second
//!   half of another's, so BM25 sees real English with the collection's
//!   vocabulary and term statistics;
//! - vector: the two passages' vectors, weighted by the share of the text each
//!   gave, plus a little noise, normalised. A mean-pooled sentence embedding of
//!   two joined texts is close to that weighted mean; `check` measures how close
//!   by embedding derived texts for real.
//!
//! The base passages are copied in unchanged, so squad2-dev's questions keep
//! their gold passages, now among many near-topic distractors.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use footnote_index::{
    DocumentMeta, Embedder, Index, Location, ModelSource, NewPassage, QdrantSettings, StoredPoint,
    sentence_spans,
};
use footnote_retrieval::{Query, RankingSpec, Retriever};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[cfg(feature = "tantivy-probe")]
mod tantivy_probe;

/// Passages per derived document: about a long article's worth.
const PASSAGES_PER_DOCUMENT: usize = 50;
/// Derived documents written per store update.
const DOCUMENTS_PER_WRITE: usize = 20;
/// Spread of the noise added to each dimension of a derived vector; a unit
/// vector of 384 dimensions then moves by about 0.2 (cosine ~0.98 to the mix).
const NOISE: f32 = 0.01;
/// Passages an answer reads: the ask path's default.
const TOP_K: usize = 10;

#[derive(Parser)]
#[command(about = "Builds a large footnote index from real and derived passages, and times search on it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copies the base index into the target and adds derived passages up to `--passages`,
    /// then builds the search structures.
    Build {
        #[command(flatten)]
        collection: Collection,
        #[command(flatten)]
        target: Target,
    },
    /// Times a ranking's query, the fused hybrid one unless told (question
    /// embedding excluded), over questions from a JSON-lines file; prints JSON.
    Search {
        #[arg(long)]
        questions: PathBuf,
        #[arg(long, default_value_t = 300)]
        count: usize,
        /// The ranking to time; `dense` or `bm25` alone tell which half of the
        /// fused query the time goes to.
        #[arg(long, default_value = "dbsf")]
        ranking: RankingSpec,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        model: Model,
    },
    /// Builds the same collection's BM25 index in tantivy (base passages, then
    /// those `build` derives with the same seed) and times its top-k search
    /// over the questions; prints JSON. Only with `--features tantivy-probe`.
    #[cfg(feature = "tantivy-probe")]
    TantivyBm25 {
        #[command(flatten)]
        collection: Collection,
        /// Directory of the tantivy index, built there when absent.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        questions: PathBuf,
        #[arg(long, default_value_t = 300)]
        count: usize,
        /// Passages each search returns: footnote's BM25 prefetch is 50.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Embeds derived texts for real and compares them with their derived vectors; prints JSON.
    Check {
        #[arg(long)]
        base: PathBuf,
        #[arg(long, default_value_t = 200)]
        count: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[command(flatten)]
        model: Model,
    },
}

/// The collection `build` makes: the base index's passages and derived ones
/// up to `--passages`, the same for the same seed.
#[derive(Args)]
struct Collection {
    /// Data directory of a footnote index with real, embedded passages.
    #[arg(long)]
    base: PathBuf,
    #[arg(long)]
    passages: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(Args)]
struct Target {
    /// Data directory of the index to build or search.
    #[arg(long, conflicts_with = "qdrant_url")]
    data_dir: Option<PathBuf>,
    /// A Qdrant server's gRPC URL instead of a data directory.
    #[arg(long)]
    qdrant_url: Option<String>,
    #[arg(long, default_value = "footnote_scale")]
    collection: String,
}

impl Target {
    fn location(&self) -> Result<Location> {
        match (&self.data_dir, &self.qdrant_url) {
            (Some(dir), None) => Ok(Location::Embedded(dir.clone())),
            (None, Some(url)) => {
                let mut settings = QdrantSettings::new(url.clone());
                settings.collection = self.collection.clone();
                settings.timeout = std::time::Duration::from_secs(600);
                Ok(Location::Server(settings))
            }
            _ => bail!("name the index with --data-dir or --qdrant-url"),
        }
    }
}

#[derive(Args)]
struct Model {
    #[arg(long, env = "FOOTNOTE_MODEL_DIR")]
    model_dir: PathBuf,
    /// As `footnote --model-file`: `auto` takes the file the index was built with.
    #[arg(long, env = "FOOTNOTE_MODEL_FILE", default_value = "auto")]
    model_file: String,
}

impl Model {
    fn source(&self, location: &Location) -> ModelSource {
        let onnx_file = Index::model_file_for(&self.model_dir, &self.model_file, location);
        ModelSource::Directory { path: self.model_dir.clone(), onnx_file }
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Build { collection, target } => build(&collection, &target.location()?),
        Command::Search { questions, count, ranking, target, model } => {
            search(&questions, count, ranking, &target.location()?, &model)
        }
        Command::Check { base, count, seed, model } => check(&base, count, seed, &model),
        #[cfg(feature = "tantivy-probe")]
        Command::TantivyBm25 { collection, dir, questions, count, limit } => {
            tantivy_probe::run(&collection, &dir, &questions, count, limit)
        }
    }
}

/// The base index's passages with their vectors.
fn base_points(base: &Path) -> Result<(Index, Vec<StoredPoint>)> {
    let index = Index::open_existing(&Location::Embedded(base.to_path_buf()))
        .with_context(|| format!("opening the base index {}", base.display()))?;
    let mut points = Vec::new();
    index.store().export(1024, &mut |page| {
        points.extend(page);
        Ok(())
    })?;
    if points.len() < 2 {
        bail!("the base index {} has {} passages; ingest a collection into it first", base.display(), points.len());
    }
    Ok((index, points))
}

/// A passage made from two real ones, with its vector.
struct Derived {
    text: String,
    dense: Vec<f32>,
}

/// The derived passages for `seed`, in the order `build` stores them: the same
/// sequence wherever it is drawn, so other engines can index the same collection.
fn derivations(points: &[StoredPoint], seed: u64) -> impl Iterator<Item = Derived> + '_ {
    let mut rng = StdRng::seed_from_u64(seed);
    std::iter::repeat_with(move || derive(points, &mut rng))
}

fn derive(points: &[StoredPoint], rng: &mut StdRng) -> Derived {
    let first = &points[rng.random_range(0..points.len())];
    let second = &points[rng.random_range(0..points.len())];
    let head = halves(&first.passage.text).0;
    let tail = halves(&second.passage.text).1;
    let share = head.len() as f32 / (head.len() + tail.len()).max(1) as f32;
    let mut dense: Vec<f32> = first
        .dense
        .iter()
        .zip(&second.dense)
        .map(|(a, b)| share * a + (1.0 - share) * b + NOISE * (rng.random::<f32>() * 2.0 - 1.0) * 1.732)
        .collect();
    normalise(&mut dense);
    Derived { text: format!("{head} {tail}"), dense }
}

/// The text's sentences split in two halves (the first gets the middle one).
fn halves(text: &str) -> (&str, &str) {
    let spans = sentence_spans(text);
    if spans.len() < 2 {
        return (text.trim(), text.trim());
    }
    let cut = spans[spans.len().div_ceil(2)].start;
    (text[..cut].trim(), text[cut..].trim())
}

fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    vector.iter_mut().for_each(|x| *x /= norm);
}

fn build(collection: &Collection, location: &Location) -> Result<()> {
    let &Collection { ref base, passages, seed } = collection;
    let started = Instant::now();
    let (base_index, points) = base_points(base)?;
    let copied = base_index.copy_to(location, &mut |_| {})?;
    drop(base_index);
    let index = Index::open_existing(location)?;
    let mut derived = derivations(&points, seed);
    let mut written = copied;
    let mut document = 0usize;
    let mut batch = Vec::new();
    while written < passages {
        let count = PASSAGES_PER_DOCUMENT.min(passages - written);
        let meta = DocumentMeta {
            id: format!("derived/{document:07}.md"),
            title: format!("Derived document {document}"),
            source: None,
            date: None,
            content_hash: format!("derived-{seed}-{document}"),
        };
        for position in 0..count {
            let Derived { text, dense } = derived.next().expect("derivations never end");
            let passage = NewPassage { span: (0, text.len()), text, position, page: None, section: None };
            batch.push(StoredPoint {
                id: footnote_index::point_id(&meta.id, &meta.content_hash, position),
                document: meta.clone(),
                document_passages: count,
                sparse: index.sparse().encode_passage(&passage.text),
                passage,
                added: None,
                dense,
            });
        }
        written += count;
        document += 1;
        if document.is_multiple_of(DOCUMENTS_PER_WRITE) || written >= passages {
            let before = written - batch.len();
            index.store().upsert(std::mem::take(&mut batch))?;
            index.optimize_after_writing(before, written)?;
            eprint!("\rwritten {written} of {passages} passages");
        }
    }
    index.flush()?;
    eprintln!("\rwritten {written} passages in {:.1} s; building the search structures", started.elapsed().as_secs_f64());
    let optimizing = Instant::now();
    index.optimize()?;
    eprintln!("optimized in {:.1} s", optimizing.elapsed().as_secs_f64());
    Ok(())
}

/// The first `count` questions of a JSON-lines question file.
fn read_questions(questions: &Path, count: usize) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(questions).with_context(|| format!("reading {}", questions.display()))?;
    let questions: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|item| item["question"].as_str().map(str::to_string))
        .take(count)
        .collect();
    if questions.is_empty() {
        bail!("no questions in the file");
    }
    Ok(questions)
}

/// The `q` quantile of sorted times, rounded.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    round(sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1])
}

fn search(questions: &Path, count: usize, ranking: RankingSpec, location: &Location, model: &Model) -> Result<()> {
    let questions = read_questions(questions, count)?;
    let embedder = Embedder::load(&model.source(location))?;
    let vectors = questions.iter().map(|q| embedder.embed_query(q)).collect::<footnote_index::Result<Vec<_>>>()?;
    let opening = Instant::now();
    let index = Index::open_with(location, embedder)?;
    let open_ms = opening.elapsed().as_secs_f64() * 1000.0;
    let retriever = Retriever::new(&index).with_ranking(ranking.0);
    // One pass to bring the index's pages into memory, as a running server has them.
    for (question, dense) in questions.iter().zip(&vectors).take(20) {
        retriever.search_embedded(&Query::new(question.clone(), TOP_K), dense.clone())?;
    }
    let times = Timings::of(questions.iter().zip(&vectors), |(question, dense)| {
        retriever.search_embedded(&Query::new(question.clone(), TOP_K), dense.clone())?;
        Ok(())
    })?;
    let totals = index.totals()?;
    let mut report = serde_json::json!({
        "passages": totals.passages,
        "documents": totals.documents,
        "questions": times.wall.len(),
        "ranking": ranking.to_string(),
        "open_ms": round(open_ms),
        "search_p50_ms": quantile(&times.wall, 0.5),
        "search_p99_ms": quantile(&times.wall, 0.99),
    });
    // Qdrant Edge searches in the calling thread, so its CPU time is the
    // search's; a server's search runs in the server.
    if matches!(location, Location::Embedded(_)) {
        report["search_cpu_p50_ms"] = quantile(&times.cpu, 0.5).into();
        report["search_cpu_p99_ms"] = quantile(&times.cpu, 0.99).into();
    }
    println!("{report}");
    Ok(())
}

/// Milliseconds each call took, sorted: by the wall clock and in this thread's CPU time.
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Timings {
    fn of<T>(items: impl Iterator<Item = T>, mut each: impl FnMut(T) -> Result<()>) -> Result<Timings> {
        let (mut wall, mut cpu) = (Vec::new(), Vec::new());
        for item in items {
            let started = Instant::now();
            let cpu_started = thread_cpu_ms();
            each(item)?;
            cpu.push(thread_cpu_ms() - cpu_started);
            wall.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        Ok(Timings { wall, cpu })
    }
}

/// CPU time of the calling thread, where Qdrant Edge runs a query: unlike the
/// wall clock, it leaves out time the host gave to other machines (steal).
fn thread_cpu_ms() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 * 1000.0 + now.tv_nsec as f64 / 1e6
}

fn check(base: &Path, count: usize, seed: u64, model: &Model) -> Result<()> {
    let (_, points) = base_points(base)?;
    let embedder = Embedder::load(&model.source(&Location::Embedded(base.to_path_buf())))?;
    let derived: Vec<Derived> = derivations(&points, seed).take(count).collect();
    let texts: Vec<&str> = derived.iter().map(|d| d.text.as_str()).collect();
    let real = embedder.embed_passages(&texts)?;
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut own: Vec<f32> = derived.iter().zip(&real).map(|(d, r)| cosine(&d.dense, r)).collect();
    // How close a real passage's nearest other real passage is, for scale.
    let mut nearest_real: Vec<f32> = points
        .iter()
        .take(count)
        .map(|p| {
            points.iter().filter(|q| q.id != p.id).map(|q| cosine(&p.dense, &q.dense)).fold(f32::MIN, f32::max)
        })
        .collect();
    own.sort_by(f32::total_cmp);
    nearest_real.sort_by(f32::total_cmp);
    let median = |v: &[f32]| v[v.len() / 2] as f64;
    println!(
        "{}",
        serde_json::json!({
            "derived": count,
            "cosine_derived_to_real_embedding_p50": round(median(&own)),
            "cosine_derived_to_real_embedding_p10": round(own[own.len() / 10] as f64),
            "cosine_real_to_nearest_other_real_p50": round(median(&nearest_real)),
        })
    );
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_passage_joins_two_halves_and_has_a_unit_vector() {
        let point = |text: &str, dense: Vec<f32>| StoredPoint {
            id: text.into(),
            document: DocumentMeta { id: "d".into(), title: "t".into(), source: None, date: None, content_hash: "h".into() },
            document_passages: 1,
            passage: NewPassage { text: text.into(), position: 0, span: (0, text.len()), page: None, section: None },
            added: None,
            dense,
            sparse: Default::default(),
        };
        let points = [
            point("One first. One second. One third.", vec![1.0, 0.0]),
            point("Two first. Two second.", vec![0.0, 1.0]),
        ];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..20 {
            let derived = derive(&points, &mut rng);
            let norm: f32 = derived.dense.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
            assert!(derived.text.starts_with("One first. One second.") || derived.text.starts_with("Two first."), "{}", derived.text);
            assert!(derived.text.ends_with("One third.") || derived.text.ends_with("Two second."), "{}", derived.text);
        }
    }

    #[test]
    fn thread_cpu_time_counts_this_threads_work_and_not_its_sleep() {
        let wall = Instant::now();
        let cpu = thread_cpu_ms();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let asleep = thread_cpu_ms() - cpu;
        let mut x = 1u64;
        while wall.elapsed() < std::time::Duration::from_millis(400) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let total = thread_cpu_ms() - cpu;
        let wall_ms = wall.elapsed().as_secs_f64() * 1000.0;
        assert!(asleep < 50.0, "{asleep} ms of CPU while asleep");
        assert!(total > asleep && total <= wall_ms + 1.0, "{total} ms of CPU in {wall_ms} ms");
    }
}
