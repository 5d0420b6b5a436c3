use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::StoredPoint;
use crate::{
    Bm25Params, DocumentMeta, EdgeStore, Embedder, Error, ModelIdentity, ModelSource, NewPassage,
    PassageStore, Result, SparseEncoder, point_id,
};

const MANIFEST_FILE: &str = "index.json";
const LOCK_FILE: &str = "footnote.lock";
const EDGE_DIR: &str = "qdrant";
/// Bumped when the stored layout changes in a way old indexes cannot be read.
const FORMAT_VERSION: u32 = 1;

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

/// An open data directory: the store, the encoders that fill it, and a lock that
/// keeps a second process from writing at the same time.
pub struct Index {
    data_dir: PathBuf,
    manifest: IndexManifest,
    store: Box<dyn PassageStore>,
    embedder: Option<Embedder>,
    sparse: SparseEncoder,
    _lock: File,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("data_dir", &self.data_dir).field("manifest", &self.manifest).finish()
    }
}

impl Index {
    /// Opens (or creates) the index in `data_dir` with the embedding model, for
    /// commands that embed text: ingest and search.
    pub fn open(data_dir: &Path, model: &ModelSource) -> Result<Self> {
        // The model first: a run that cannot embed leaves no trace on disk.
        let embedder = Embedder::load(model)?;
        let lock = lock(data_dir)?;
        let manifest_path = data_dir.join(MANIFEST_FILE);
        let manifest = match read_manifest(&manifest_path)? {
            Some(manifest) if manifest.model != *embedder.identity() => {
                return Err(Error::ModelMismatch {
                    data_dir: data_dir.to_path_buf(),
                    index: manifest.model.to_string(),
                    configured: embedder.identity().to_string(),
                });
            }
            Some(manifest) => manifest,
            None => {
                let manifest = IndexManifest {
                    format: FORMAT_VERSION,
                    model: embedder.identity().clone(),
                    bm25: Bm25Params::default(),
                };
                write_manifest(&manifest_path, &manifest)?;
                manifest
            }
        };
        Self::assemble(data_dir, manifest, Some(embedder), lock)
    }

    /// Opens an existing index without loading the model, for commands that only
    /// list or delete.
    pub fn open_existing(data_dir: &Path) -> Result<Self> {
        let lock = lock(data_dir)?;
        let manifest_path = data_dir.join(MANIFEST_FILE);
        let manifest = read_manifest(&manifest_path)?.ok_or_else(|| Error::Manifest {
            path: manifest_path,
            reason: "no index here yet; run `footnote ingest` first".into(),
        })?;
        Self::assemble(data_dir, manifest, None, lock)
    }

    fn assemble(data_dir: &Path, manifest: IndexManifest, embedder: Option<Embedder>, lock: File) -> Result<Self> {
        if manifest.format != FORMAT_VERSION {
            return Err(Error::Manifest {
                path: data_dir.join(MANIFEST_FILE),
                reason: format!("format {} is not {FORMAT_VERSION}; re-ingest into a fresh --data-dir", manifest.format),
            });
        }
        let store = EdgeStore::open(&data_dir.join(EDGE_DIR), manifest.model.dimension)?;
        Ok(Index {
            data_dir: data_dir.to_path_buf(),
            sparse: SparseEncoder::new(manifest.bm25)?,
            manifest,
            store: Box::new(store),
            embedder,
            _lock: lock,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn manifest(&self) -> &IndexManifest {
        &self.manifest
    }

    pub fn store(&self) -> &dyn PassageStore {
        self.store.as_ref()
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
        let points = passages
            .into_iter()
            .zip(dense)
            .map(|(passage, dense)| StoredPoint {
                id: point_id(&document.id, &document.content_hash, passage.position),
                document: document.clone(),
                document_passages: count,
                sparse: self.sparse.encode_passage(&passage.text),
                passage,
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

fn read_manifest(path: &Path) -> Result<Option<IndexManifest>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Manifest { path: path.to_path_buf(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Written to a temporary file and renamed, so a crash never leaves half a manifest.
fn write_manifest(path: &Path, manifest: &IndexManifest) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
