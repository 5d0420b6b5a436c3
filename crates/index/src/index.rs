use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::edge::EdgeStore;
use crate::store::qdrant::QdrantStore;
use crate::store::{HybridQuery, StoredPoint, Totals};
use crate::{
    Bm25Params, DocumentMeta, DocumentSummary, Embedder, Error, ModelIdentity, ModelSource, NewPassage, Passage,
    PassageStore, QdrantSettings, Result, ScoredPassage, SparseEncoder, choose_model_file, point_id,
};

const MANIFEST_FILE: &str = "index.json";
const LOCK_FILE: &str = "footnote.lock";
const EDGE_DIR: &str = "qdrant";
/// Bumped when the stored layout changes in a way old indexes cannot be read.
const FORMAT_VERSION: u32 = 1;
/// Points per page when copying an index.
const COPY_PAGE: usize = 512;
/// Passages written between two runs of [`Index::optimize`] in a long write
/// (an ingest or a copy). Qdrant Edge has no background optimizer: until one
/// runs, every passage lands in one appendable segment whose BM25 posting lists
/// get slower to extend as they grow (at 750,000 passages, 92% of the writer's
/// CPU went to `PostingList::upsert`). Optimizing seals the segment, indexes
/// it, and starts a fresh one.
pub const OPTIMIZE_EVERY: usize = 100_000;

/// What an index was built with; checked on every open so that vectors from two
/// different models never mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexManifest {
    pub format: u32,
    pub model: ModelIdentity,
    pub bm25: Bm25Params,
}

/// How a document on disk relates to what the index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentState {
    New,
    /// Stored with this content hash and all of its passages: nothing to do.
    Unchanged,
    /// Stored with another hash, or incompletely: rewrite it.
    Changed,
}

/// Where an index lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A data directory holding a Qdrant Edge shard: one process at a time.
    Embedded(PathBuf),
    /// A collection on a Qdrant server or cluster, shared by any number of processes.
    Server(QdrantSettings),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Embedded(dir) => write!(f, "data directory {}", dir.display()),
            Location::Server(settings) => settings.fmt(f),
        }
    }
}

/// An open index: the store, the encoders that fill it, and, for a data directory,
/// a lock that keeps a second process from writing at the same time.
pub struct Index {
    location: Location,
    manifest: IndexManifest,
    store: Box<dyn PassageStore>,
    embedder: Option<Embedder>,
    sparse: SparseEncoder,
    _lock: Option<File>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("location", &self.location).field("manifest", &self.manifest).finish()
    }
}

/// The store opened at a location, before it is known to match a manifest.
enum Opened {
    Embedded { dir: PathBuf, lock: File, manifest: Option<IndexManifest> },
    Server { store: QdrantStore, manifest: Option<IndexManifest> },
}

impl Opened {
    fn at(location: &Location) -> Result<Self> {
        match location {
            Location::Embedded(dir) => {
                let lock = lock(dir)?;
                let manifest = read_manifest(dir)?;
                Ok(Opened::Embedded { dir: dir.clone(), lock, manifest })
            }
            Location::Server(settings) => {
                let store = QdrantStore::connect(settings)?;
                let manifest = match store.manifest()? {
                    Some(value) => Some(serde_json::from_value(value).map_err(|e| Error::Manifest {
                        location: location.to_string(),
                        reason: e.to_string(),
                    })?),
                    None => None,
                };
                Ok(Opened::Server { store, manifest })
            }
        }
    }

    fn manifest(&self) -> Option<&IndexManifest> {
        match self {
            Opened::Embedded { manifest, .. } | Opened::Server { manifest, .. } => manifest.as_ref(),
        }
    }

    /// The store with `manifest`, which is written first when the index is new.
    fn into_store(self, manifest: &IndexManifest) -> Result<(Box<dyn PassageStore>, Option<File>)> {
        let location_text = match &self {
            Opened::Embedded { dir, .. } => Location::Embedded(dir.clone()).to_string(),
            Opened::Server { store, .. } => store.settings().to_string(),
        };
        if manifest.format != FORMAT_VERSION {
            return Err(Error::Manifest {
                location: location_text,
                reason: format!("format {} is not {FORMAT_VERSION}; re-ingest into a fresh index", manifest.format),
            });
        }
        let dimension = manifest.model.dimension;
        match self {
            Opened::Embedded { dir, lock, manifest: stored } => {
                if stored.is_none() {
                    write_manifest(&dir.join(MANIFEST_FILE), manifest)?;
                }
                Ok((Box::new(EdgeStore::open(&dir.join(EDGE_DIR), dimension)?), Some(lock)))
            }
            Opened::Server { store, manifest: stored } => {
                if stored.is_none() {
                    let created = store.create(dimension, serde_json::to_value(manifest).expect("manifest serialises"));
                    // Two instances starting together both find no collection; the
                    // one that loses the race reads what the other made.
                    if let Err(error) = created {
                        let raced = store.manifest()?.map(serde_json::from_value::<IndexManifest>);
                        match raced {
                            Some(Ok(theirs)) if theirs == *manifest => {}
                            Some(Ok(theirs)) => {
                                return Err(Error::ModelMismatch {
                                    location: location_text,
                                    index: theirs.model.to_string(),
                                    configured: manifest.model.to_string(),
                                });
                            }
                            _ => return Err(error),
                        }
                    }
                }
                store.check_schema(dimension)?;
                Ok((Box::new(store), None))
            }
        }
    }
}

impl Index {
    /// Opens (or creates) the index at `location` with the embedding model, for
    /// commands that embed text: ingest and search.
    pub fn open(location: &Location, model: &ModelSource) -> Result<Self> {
        // The model first: a run that cannot embed leaves no trace.
        Self::open_with(location, Embedder::load(model)?)
    }

    /// Like [`Index::open`], with a model already loaded (a server loads its
    /// own sessions: [`Embedder::load_serving`]).
    pub fn open_with(location: &Location, embedder: Embedder) -> Result<Self> {
        let opened = Opened::at(location)?;
        let manifest = match opened.manifest() {
            Some(manifest) if manifest.model != *embedder.identity() => {
                return Err(Error::ModelMismatch {
                    location: location.to_string(),
                    index: manifest.model.to_string(),
                    configured: embedder.identity().to_string(),
                });
            }
            Some(manifest) => manifest.clone(),
            None => IndexManifest {
                format: FORMAT_VERSION,
                model: embedder.identity().clone(),
                bm25: Bm25Params::default(),
            },
        };
        Self::assemble(location, opened, manifest, Some(embedder))
    }

    /// The model an index at `location` was built with, without opening it for
    /// use (no lock is taken); `None` when there is no index there yet.
    pub fn recorded_model(location: &Location) -> Result<Option<ModelIdentity>> {
        Ok(match location {
            Location::Embedded(dir) => read_manifest(dir)?.map(|manifest| manifest.model),
            Location::Server(settings) => match QdrantStore::connect(settings)?.manifest()? {
                Some(value) => serde_json::from_value::<IndexManifest>(value).ok().map(|manifest| manifest.model),
                None => None,
            },
        })
    }

    /// Opens an existing index without loading the model, for commands that only
    /// list, delete or copy.
    pub fn open_existing(location: &Location) -> Result<Self> {
        let opened = Opened::at(location)?;
        let manifest = opened.manifest().cloned().ok_or_else(|| Error::Manifest {
            location: location.to_string(),
            reason: "no index here yet; run `footnote ingest` first".into(),
        })?;
        Self::assemble(location, opened, manifest, None)
    }

    /// Opens the index at `location` to receive a copy of an index built with
    /// `manifest`: created when absent, refused when it was built differently.
    fn open_for_copy(location: &Location, manifest: &IndexManifest) -> Result<Self> {
        let opened = Opened::at(location)?;
        if let Some(existing) = opened.manifest()
            && existing != manifest
        {
            return Err(Error::ModelMismatch {
                location: location.to_string(),
                index: format!("{} (BM25 {:?})", existing.model, existing.bm25),
                configured: format!("{} (BM25 {:?}) in the index being copied", manifest.model, manifest.bm25),
            });
        }
        Self::assemble(location, opened, manifest.clone(), None)
    }

    fn assemble(location: &Location, opened: Opened, manifest: IndexManifest, embedder: Option<Embedder>) -> Result<Self> {
        let (store, lock) = opened.into_store(&manifest)?;
        Ok(Index {
            location: location.clone(),
            sparse: SparseEncoder::new(manifest.bm25)?,
            manifest,
            store,
            embedder,
            _lock: lock,
        })
    }

    /// Copies every passage with its vectors into the index at `to` (created when
    /// absent), so moving between the embedded engine and a server needs no
    /// embedding. Point ids are kept, so an interrupted copy is finished by running
    /// it again. Returns how many passages were copied.
    pub fn copy_to(&self, to: &Location, progress: &mut dyn FnMut(usize)) -> Result<usize> {
        if *to == self.location {
            return Err(Error::Store(format!("cannot copy {} onto itself", self.location)));
        }
        let target = Index::open_for_copy(to, &self.manifest)?;
        let mut copied = 0;
        self.store.export(COPY_PAGE, &mut |points| {
            let before = copied;
            copied += points.len();
            target.store.upsert(points)?;
            target.optimize_after_writing(before, copied)?;
            progress(copied);
            Ok(())
        })?;
        target.store.flush()?;
        target.store.optimize()?;
        Ok(copied)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn manifest(&self) -> &IndexManifest {
        &self.manifest
    }

    /// The backend itself, for its contract tests; everything else goes through
    /// the methods of [`Index`].
    #[doc(hidden)]
    pub fn store(&self) -> &dyn PassageStore {
        self.store.as_ref()
    }

    /// The stored documents, one summary each.
    pub fn documents(&self) -> Result<Vec<DocumentSummary>> {
        self.store.documents()
    }

    /// Whether a document has passages stored: one filtered count, not a
    /// read of every document.
    pub fn has_document(&self, doc_id: &str) -> Result<bool> {
        Ok(self.store.count(doc_id, None)? > 0)
    }

    /// One document's summary, or `None` when it is not stored.
    pub fn document(&self, doc_id: &str) -> Result<Option<DocumentSummary>> {
        Ok(self.store.documents()?.into_iter().find(|d| d.id == doc_id))
    }

    /// Passages in document order; all documents when `doc_id` is `None`.
    pub fn passages(&self, doc_id: Option<&str>) -> Result<Vec<Passage>> {
        self.store.passages(doc_id)
    }

    /// Ranks passages for a query whose vectors are already made.
    pub fn query(&self, query: &HybridQuery) -> Result<Vec<ScoredPassage>> {
        self.store.query(query)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }

    /// Whether the store answers and can be read: what readiness reports.
    /// Returns the number of documents (two counts, cheap at any size).
    pub fn health(&self) -> Result<usize> {
        self.store.health()?;
        Ok(self.store.totals()?.documents)
    }

    /// How many passages and documents are stored, without reading them.
    pub fn totals(&self) -> Result<Totals> {
        self.store.totals()
    }

    /// Builds the search structures for everything written so far (HNSW graph,
    /// int8 vectors, sparse index) and waits until they serve queries. Until
    /// then, new passages are searched by a full scan of their segment, which
    /// is fine for thousands and slow for hundreds of thousands. Ingest runs it
    /// at its end.
    pub fn optimize(&self) -> Result<()> {
        self.store.optimize()
    }

    /// In a long write that went from `before` to `after` passages, optimizes
    /// each time another [`OPTIMIZE_EVERY`] passages have been written.
    pub fn optimize_after_writing(&self, before: usize, after: usize) -> Result<()> {
        if after / OPTIMIZE_EVERY > before / OPTIMIZE_EVERY { self.optimize() } else { Ok(()) }
    }

    /// The ONNX file to load from the model directory `dir` for the index at
    /// `location`, given the `--model-file` setting: a named file as is; `auto`,
    /// the file the index was built with, or this CPU's choice for a new index
    /// ([`choose_model_file`]). An unreadable manifest is left to be reported
    /// when the index opens.
    pub fn model_file_for(dir: &Path, setting: &str, location: &Location) -> String {
        match setting {
            "auto" => choose_model_file(dir, Self::recorded_model(location).ok().flatten().as_ref()),
            named => named.to_string(),
        }
    }

    pub fn sparse(&self) -> &SparseEncoder {
        &self.sparse
    }

    /// The embedding model; present when the index was opened with [`Index::open`].
    pub fn embedder(&self) -> &Embedder {
        self.embedder.as_ref().expect("index opened without a model: use Index::open to embed")
    }

    pub fn document_state(&self, document: &DocumentMeta, passages: usize) -> Result<DocumentState> {
        let stored = self.store.count(&document.id, None)?;
        if stored == 0 {
            return Ok(DocumentState::New);
        }
        let current = self.store.count(&document.id, Some(&document.content_hash))?;
        Ok(if current == passages && stored == passages {
            DocumentState::Unchanged
        } else {
            DocumentState::Changed
        })
    }

    /// Stores a document version and then removes every other version of it.
    ///
    /// Point ids are derived from (document, hash, position), so the new passages
    /// never overwrite the old ones and a re-run lands on the same points; the old
    /// version is deleted only once the new one is complete. A crash at any point
    /// leaves the old version, the new one, or both, and the next run finishes the job.
    pub fn write_document(&self, document: &DocumentMeta, passages: Vec<NewPassage>, dense: Vec<Vec<f32>>) -> Result<()> {
        let count = passages.len();
        let added = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let points = passages
            .into_iter()
            .zip(dense)
            .map(|(passage, dense)| StoredPoint {
                id: point_id(&document.id, &document.content_hash, passage.position),
                document: document.clone(),
                document_passages: count,
                sparse: self.sparse.encode_passage(&passage.text),
                passage,
                added: Some(added.clone()),
                dense,
            })
            .collect();
        self.store.upsert(points)?;
        self.store.delete_document(&document.id, Some(&document.content_hash))?;
        self.store.flush()
    }

    /// Removes a document and all its passages; returns how many passages went.
    pub fn delete_document(&self, doc_id: &str) -> Result<usize> {
        let count = self.store.count(doc_id, None)?;
        if count == 0 {
            return Err(Error::DocumentNotFound(doc_id.to_string()));
        }
        self.store.delete_document(doc_id, None)?;
        self.store.flush()?;
        Ok(count)
    }
}

fn lock(data_dir: &Path) -> Result<File> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(data_dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

fn read_manifest(data_dir: &Path) -> Result<Option<IndexManifest>> {
    let path = data_dir.join(MANIFEST_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Manifest { location: path.display().to_string(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Written to a temporary file and renamed, so a crash never leaves half a manifest.
fn write_manifest(path: &Path, manifest: &IndexManifest) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
