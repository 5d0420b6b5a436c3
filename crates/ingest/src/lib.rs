//! Ingestion: files, folders and web pages in, clean embedded passages in the
//! index out.
//!
//! [`Ingestor::ingest`] walks the paths ([`source`]), turns each file into plain
//! paragraphs ([`extract`]: text formats here, PDF through `footnote-pdf`, Word and
//! OpenDocument in [`office`]; then [`clean`]), cuts them into passages that fit
//! the model ([`split`]), finds the page and section each passage came from
//! ([`place`]), and writes each new or changed document to the [`Index`].
//! Unchanged documents (same content hash, all passages present) are skipped.
//! Reading, embedding and writing overlap, each on a thread of its own
//! ([`Ingestor`]'s `run`).
//! Uploads and fetched pages ([`web`]) take the same path from memory:
//! [`Ingestor::ingest_documents`].

pub mod clean;
mod extract;
mod office;
mod pdf;
mod place;
mod source;
mod split;
pub mod web;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use footnote_index::{DocumentMeta, DocumentState, Index, NewPassage};
use serde::Serialize;

pub use clean::{Lexicon, Repairs};
pub use source::{Format, ManifestEntry, is_stray_control};

/// Changes whenever cleaning or splitting changes, so that re-ingesting after an
/// upgrade re-processes documents whose text did not change on disk.
const PIPELINE_VERSION: &str = "1";

/// Passages embedded together: enough that batches are full of similar lengths.
const EMBEDDING_GROUP: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {reason}")]
    Path { path: PathBuf, reason: String },
    #[error("manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error(transparent)]
    Index(#[from] footnote_index::Error),
}

/// A document ready to write: cleaned, split, hashed.
#[derive(Debug, Clone)]
pub struct PreparedDocument {
    pub meta: DocumentMeta,
    /// The cleaned text that passage spans point into.
    pub text: String,
    pub passages: Vec<NewPassage>,
    pub duplicates: usize,
    pub word_pieces: usize,
    pub repairs: Repairs,
    pub warnings: Vec<String>,
}

/// What one ingest run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestReport {
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// Files passed over, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Problems that did not stop a document, such as a decoding fallback.
    pub warnings: Vec<String>,
    pub passages_written: usize,
    pub word_pieces_embedded: usize,
    pub duplicates_dropped: usize,
    /// Time spent running the embedding model, part of `elapsed`.
    #[serde(serialize_with = "seconds")]
    pub embedding: Duration,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl IngestReport {
    /// Adds what another run did to this one (files, then fetched pages).
    pub fn absorb(&mut self, other: IngestReport) {
        self.added += other.added;
        self.replaced += other.replaced;
        self.unchanged += other.unchanged;
        self.skipped.extend(other.skipped);
        self.warnings.extend(other.warnings);
        self.passages_written += other.passages_written;
        self.word_pieces_embedded += other.word_pieces_embedded;
        self.duplicates_dropped += other.duplicates_dropped;
        self.embedding += other.embedding;
        self.elapsed += other.elapsed;
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Told about progress as documents are written; the command line draws a
/// bar, the web library shows each upload's stage. Reading, embedding and
/// writing run on threads of their own ([`Ingestor`]), so it is told from each.
pub trait Progress: Sync {
    fn start(&self, _documents: usize) {}
    /// A document reached `stage`.
    fn stage(&self, _id: &str, _stage: Stage) {}
    fn document_done(&self, _id: &str, _passages_written: usize) {}
    fn finish(&self) {}
}

/// Where a document is on its way into the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its text is being extracted from the file.
    Reading,
    /// Repaired and split into passages.
    Cleaning,
    /// Its passages are being embedded (with others of the same group).
    Embedding,
    /// Written to the index.
    Storing,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Reading => "reading",
            Stage::Cleaning => "cleaning",
            Stage::Embedding => "embedding",
            Stage::Storing => "storing",
        }
    }
}

/// A document handed over in memory rather than found on disk: an upload.
#[derive(Debug, Clone)]
pub struct DocumentUpload {
    pub id: String,
    pub format: Format,
    /// The file's bytes, decoded as files on disk are.
    pub bytes: Vec<u8>,
    /// The file name (`file`) and whatever title, source and date are known;
    /// the document's own are used for the rest.
    pub metadata: ManifestEntry,
}

/// Progress that goes nowhere, for tests and non-interactive callers.
pub struct Silent;
impl Progress for Silent {}

pub struct Ingestor<'a> {
    index: &'a Index,
    lexicon: Lexicon,
}

/// Documents read and prepared, kept until their passages fill a group, which
/// then goes to the embedding stage ([`Ingestor::run`]).
struct Queue<'p> {
    report: IngestReport,
    pending: Vec<PreparedDocument>,
    to_embed: mpsc::SyncSender<Vec<PreparedDocument>>,
    progress: &'p dyn Progress,
}

impl Queue<'_> {
    fn push(&mut self, document: PreparedDocument) -> Result<(), Interrupted> {
        self.pending.push(document);
        if self.pending.iter().map(|d| d.passages.len()).sum::<usize>() >= EMBEDDING_GROUP {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Interrupted> {
        if self.pending.is_empty() {
            return Ok(());
        }
        for document in &self.pending {
            self.progress.stage(&document.meta.id, Stage::Embedding);
        }
        self.to_embed.send(std::mem::take(&mut self.pending)).map_err(|_| Interrupted::Downstream)
    }
}

/// Why reading stopped before the last document.
enum Interrupted {
    /// The embedding or writing stage ended early; its own error says why.
    Downstream,
    Failed(Error),
}

impl From<Error> for Interrupted {
    fn from(e: Error) -> Self {
        Interrupted::Failed(e)
    }
}

impl From<footnote_index::Error> for Interrupted {
    fn from(e: footnote_index::Error) -> Self {
        Interrupted::Failed(e.into())
    }
}

type Embedded = (Vec<PreparedDocument>, Vec<Vec<f32>>);

impl<'a> Ingestor<'a> {
    /// The index must have been opened with its model ([`Index::open`]).
    pub fn new(index: &'a Index) -> Self {
        let lexicon = Lexicon::new(index.embedder().vocabulary());
        Ingestor { index, lexicon }
    }

    /// Ingests files and folders (recursively); what cannot be read is skipped
    /// and listed in the report.
    pub fn ingest(&self, paths: &[PathBuf], progress: &dyn Progress) -> Result<IngestReport, Error> {
        let started = Instant::now();
        let discovery = source::discover(paths)?;
        progress.start(discovery.files.len());
        let report = IngestReport { skipped: discovery.skipped, ..Default::default() };
        self.run(started, report, progress, |queue| {
            for file in &discovery.files {
                let raw = std::fs::read(&file.path).map_err(|e| Error::Path { path: file.path.clone(), reason: e.to_string() })?;
                let stem = file.path.file_stem();
                self.take(queue, &file.path, &file.id, file.format, &raw, &file.metadata, stem)?;
            }
            Ok(())
        })
    }

    /// Ingests documents handed over in memory (uploads), exactly as files of
    /// the same names and metadata would be.
    pub fn ingest_documents(&self, documents: &[DocumentUpload], progress: &dyn Progress) -> Result<IngestReport, Error> {
        let started = Instant::now();
        progress.start(documents.len());
        self.run(started, IngestReport::default(), progress, |queue| {
            for document in documents {
                let name = PathBuf::from(&document.metadata.file);
                let stem = name.file_stem().map(std::ffi::OsStr::to_owned);
                self.take(queue, &name, &document.id, document.format, &document.bytes, &document.metadata, stem.as_deref())?;
            }
            Ok(())
        })
    }

    /// Decodes, prepares and queues one document; unchanged and empty ones go
    /// no further.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &self,
        queue: &mut Queue,
        label: &std::path::Path,
        id: &str,
        format: Format,
        raw: &[u8],
        metadata: &ManifestEntry,
        file_stem: Option<&std::ffi::OsStr>,
    ) -> Result<(), Interrupted> {
        let progress = queue.progress;
        let report = &mut queue.report;
        progress.stage(id, Stage::Reading);
        let (extracted, warning) = match extract::read(format, raw) {
            Ok(read) => read,
            Err(reason) => {
                report.skipped.push((label.to_path_buf(), reason));
                progress.document_done(id, 0);
                return Ok(());
            }
        };
        progress.stage(id, Stage::Cleaning);
        let mut document = self.prepare_extracted(id, extracted, metadata, file_stem);
        if let Some(warning) = warning {
            document.warnings.push(warning);
        }
        report.warnings.extend(document.warnings.iter().map(|w| format!("{}: {w}", label.display())));
        if document.passages.is_empty() {
            report.skipped.push((label.to_path_buf(), "no text left after cleaning".into()));
            progress.document_done(id, 0);
            return Ok(());
        }
        match self.index.document_state(&document.meta, document.passages.len())? {
            DocumentState::Unchanged => {
                report.unchanged += 1;
                progress.document_done(id, 0);
                Ok(())
            }
            state => {
                if state == DocumentState::New { report.added += 1 } else { report.replaced += 1 }
                queue.push(document)
            }
        }
    }

    /// Runs `read`, which prepares documents and queues them, with embedding
    /// and writing on threads of their own: while one group of passages is
    /// embedded, the group before it is written and the documents of the next
    /// are read and cleaned. The model keeps both cores busy most of the time;
    /// the other stages take the moments it leaves.
    fn run(
        &self,
        started: Instant,
        report: IngestReport,
        progress: &dyn Progress,
        read: impl FnOnce(&mut Queue) -> Result<(), Interrupted>,
    ) -> Result<IngestReport, Error> {
        let (to_embed, embed_queue) = mpsc::sync_channel(1);
        let (to_write, write_queue) = mpsc::sync_channel(1);
        let (mut report, read, embedding, written) = std::thread::scope(|scope| {
            let embedding = scope.spawn(move || self.embed_stage(embed_queue, to_write));
            let writing = scope.spawn(move || self.write_stage(write_queue, progress));
            let mut queue = Queue { report, pending: Vec::new(), to_embed, progress };
            let read = read(&mut queue).and_then(|()| queue.send());
            // Closing the queue lets the stages finish what they hold.
            let Queue { report, to_embed, .. } = queue;
            drop(to_embed);
            let embedding = embedding.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let written = writing.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (report, read, embedding, written)
        });
        // A stage that failed stopped the others; its error is the one to report.
        report.embedding += embedding?;
        report.absorb(written?);
        if let Err(Interrupted::Failed(e)) = read {
            return Err(e);
        }
        if report.passages_written > 0 {
            // New passages are searched by a full scan of their segment until
            // the store indexes them; at thousands of passages that matters.
            self.index.optimize()?;
        }
        progress.finish();
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Embeds each group of documents: all their passages in one go, so that
    /// batches are full and hold passages of similar length.
    fn embed_stage(&self, groups: mpsc::Receiver<Vec<PreparedDocument>>, to_write: mpsc::SyncSender<Embedded>) -> Result<Duration, Error> {
        let mut spent = Duration::ZERO;
        for documents in groups {
            let texts: Vec<String> = documents
                .iter()
                .flat_map(|d| d.passages.iter().map(|p| embedding_text(&d.meta.title, p.section.as_deref(), &p.text)))
                .collect();
            let embedding_started = Instant::now();
            let vectors = self.index.embedder().embed_passages(&texts)?;
            spent += embedding_started.elapsed();
            if to_write.send((documents, vectors)).is_err() {
                break;
            }
        }
        Ok(spent)
    }

    /// Writes each embedded document, and has the store index what was written
    /// every [`footnote_index::OPTIMIZE_EVERY`] passages of a long run.
    fn write_stage(&self, groups: mpsc::Receiver<Embedded>, progress: &dyn Progress) -> Result<IngestReport, Error> {
        let mut written = IngestReport::default();
        for (documents, vectors) in groups {
            let before = written.passages_written;
            let mut vectors = vectors.into_iter();
            for document in documents {
                let count = document.passages.len();
                let document_vectors = vectors.by_ref().take(count).collect();
                progress.stage(&document.meta.id, Stage::Storing);
                self.index.write_document(&document.meta, document.passages, document_vectors)?;
                written.passages_written += count;
                written.word_pieces_embedded += document.word_pieces;
                written.duplicates_dropped += document.duplicates;
                progress.document_done(&document.meta.id, count);
            }
            self.index.optimize_after_writing(before, written.passages_written)?;
        }
        Ok(written)
    }

    /// Extracts, cleans and splits a document's text. Metadata given explicitly
    /// wins over what the document says about itself.
    pub fn prepare(
        &self,
        id: &str,
        format: Format,
        raw: &str,
        metadata: &ManifestEntry,
        file_stem: Option<&std::ffi::OsStr>,
    ) -> PreparedDocument {
        self.prepare_extracted(id, extract::extract(format, raw), metadata, file_stem)
    }

    fn prepare_extracted(
        &self,
        id: &str,
        extracted: extract::Extracted,
        metadata: &ManifestEntry,
        file_stem: Option<&std::ffi::OsStr>,
    ) -> PreparedDocument {
        let extracted = place::without_stray_controls(extracted);
        let cleaned = clean::clean(&extracted.text, &self.lexicon);
        let embedder = self.index.embedder();
        let count = |text: &str| embedder.count_word_pieces(text);
        let section_starts = place::section_starts(&extracted.text, &extracted.regions, &cleaned.paragraphs);
        let mut split = split::split(&cleaned.paragraphs, &section_starts, &count, embedder.max_word_pieces());
        place::place(&extracted.text, &extracted.regions, &mut split.passages);
        let title = metadata
            .title
            .clone()
            .or(extracted.title)
            .or_else(|| cleaned.paragraphs.first().filter(|p| looks_like_title(p)).cloned())
            .or_else(|| file_stem.map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| id.to_string());
        let title = Some(one_line(&title)).filter(|t| !t.is_empty()).unwrap_or_else(|| id.to_string());
        let source = metadata.source.clone().or(extracted.source).map(|s| one_line(&s));
        let date = metadata.date.clone().or(extracted.date);
        let content_hash = content_hash(&title, source.as_deref(), date.as_deref(), &split.passages);
        PreparedDocument {
            meta: DocumentMeta { id: id.to_string(), title, source, date, content_hash },
            text: split.text,
            passages: split.passages,
            duplicates: split.duplicates,
            word_pieces: split.word_pieces,
            repairs: cleaned.repairs,
            warnings: Vec::new(),
        }
    }
}

/// Characters of a title the dense model reads with each passage: enough for
/// any real title, while a runaway one (a whole paragraph taken for a title)
/// cannot fill the model's window and push the passage itself out of it.
const EMBEDDED_TITLE_CHARS: usize = 200;

/// What the dense model reads for a passage: the passage under its document's
/// title, and under its section's headings where the format marks them, so that
/// a passage that never names its subject is still found by it.
fn embedding_text(title: &str, section: Option<&str>, passage: &str) -> String {
    let mut heading = String::new();
    if !passage.starts_with(title) {
        heading.push_str(within(title, EMBEDDED_TITLE_CHARS));
    }
    // The innermost heading may open the passage itself; the path above it still helps.
    if let Some(section) = section.filter(|s| !passage.starts_with(*s)) {
        if !heading.is_empty() {
            heading.push('\n');
        }
        heading.push_str(within(section, EMBEDDED_TITLE_CHARS));
    }
    if heading.is_empty() { passage.to_string() } else { format!("{heading}\n\n{passage}") }
}

/// At most `limit` characters of `text`, cut at the last word boundary inside it.
fn within(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((end, _)) => text[..end].rsplit_once(' ').map_or(&text[..end], |(head, _)| head),
        None => text,
    }
}

/// A title or source as one line of text: control characters and runs of
/// whitespace become single spaces.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

fn looks_like_title(paragraph: &str) -> bool {
    paragraph.split_whitespace().count() <= 20 && !paragraph.trim_end().ends_with(['.', ',', ';'])
}

fn content_hash(title: &str, source: Option<&str>, date: Option<&str>, passages: &[NewPassage]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [PIPELINE_VERSION, title, source.unwrap_or(""), date.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    for passage in passages {
        hasher.update(passage.text.as_bytes());
        hasher.update(&[0]);
        // Only formats with pages or sections add these, so the hash of a text
        // document is what it was before they existed.
        if let Some(page) = passage.page {
            hasher.update(&page.to_le_bytes());
            hasher.update(&[1]);
        }
        if let Some(section) = &passage.section {
            hasher.update(section.as_bytes());
            hasher.update(&[2]);
        }
    }
    hasher.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_leads_the_passage_unless_it_runs_away() {
        assert_eq!(embedding_text("Elections", None, "Voters went to the polls."), "Elections\n\nVoters went to the polls.");
        assert_eq!(embedding_text("Elections", None, "Elections in 2019 were early."), "Elections in 2019 were early.");
        let runaway = embedding_text(&"overlong title words ".repeat(100), None, "The passage.");
        let (title, passage) = runaway.split_once("\n\n").unwrap();
        assert_eq!(passage, "The passage.");
        assert!(title.split(' ').all(|word| ["overlong", "title", "words"].contains(&word)), "cut inside a word: {title:?}");
        assert!(runaway.chars().count() <= EMBEDDED_TITLE_CHARS + "\n\nThe passage.".len());
    }

    #[test]
    fn a_passage_reads_under_its_section_too() {
        assert_eq!(embedding_text("Ferries", Some("Ferries › Fares"), "Paid on board."), "Ferries\nFerries › Fares\n\nPaid on board.");
        assert_eq!(embedding_text("Ferries", Some("Fares"), "Fares are paid on board."), "Ferries\n\nFares are paid on board.");
    }

    #[test]
    fn titles_and_sources_are_one_line_of_text() {
        assert_eq!(one_line("  The\u{0}title\n of\u{1b}it "), "The title of it");
        assert_eq!(one_line("\u{7}\u{0}"), "");
    }
}
