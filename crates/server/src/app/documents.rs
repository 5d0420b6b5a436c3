//! The document library: list, show, add and delete. Added documents are
//! ingested from memory by [`Ingestor::ingest_documents`], through the same
//! format detection, cleaning and splitting as files on disk.

use footnote_index::{DocumentSummary, Passage};
use footnote_ingest::{DocumentUpload, Format, IngestReport, Ingestor, ManifestEntry, Progress, Silent, Stage};

use super::{App, AppError, rules};

/// A document given as text.
#[derive(Debug, Clone)]
pub struct TextDocument {
    pub title: String,
    /// Plain text; blank lines separate paragraphs.
    pub text: String,
    /// Where the document comes from (a URL), shown with its citations.
    pub source: Option<String>,
    /// Its id; by default made from the title.
    pub id: Option<String>,
}

/// An uploaded file: its name (which becomes its id) and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// What adding documents did.
#[derive(Debug)]
pub struct Added {
    /// Ids of the documents the request named.
    pub documents: Vec<String>,
    pub report: IngestReport,
}

impl App {
    pub async fn documents(&self) -> Result<Vec<DocumentSummary>, AppError> {
        Ok(self.with_index(|index| index.documents()).await??)
    }

    /// One document with its passages in document order.
    pub async fn document(&self, id: &str) -> Result<(DocumentSummary, Vec<Passage>), AppError> {
        let lookup = id.to_string();
        let found = self
            .with_index(move |index| -> footnote_index::Result<_> {
                let Some(document) = index.document(&lookup)? else {
                    return Ok(None);
                };
                Ok(Some((document, index.passages(Some(&lookup))?)))
            })
            .await??;
        found.ok_or_else(|| AppError::NotFound { what: "document", id: id.into() })
    }

    /// Adds a document given as text, or replaces the one with its id.
    pub async fn add_text(&self, document: TextDocument) -> Result<Added, AppError> {
        let title = document.title.trim();
        if title.is_empty() {
            return Err(AppError::Invalid("the title is empty".into()));
        }
        if document.text.trim().is_empty() {
            return Err(AppError::Invalid("the text is empty".into()));
        }
        let id = match &document.id {
            Some(id) => rules::document_id(id)?,
            None => rules::slug(title),
        };
        let upload = DocumentUpload {
            id: id.clone(),
            format: Format::Text,
            // Given as text, so a control character in it is noise to drop,
            // not a sign of binary data as it would be in a file.
            bytes: document.text.chars().filter(|&c| !footnote_ingest::is_stray_control(c)).collect::<String>().into_bytes(),
            metadata: ManifestEntry {
                file: id,
                title: Some(title.to_string()),
                source: document.source.filter(|s| !s.trim().is_empty()),
                ..ManifestEntry::default()
            },
        };
        self.add(vec![upload], Silent).await
    }

    /// Adds uploaded files, each under its file name as id, or replaces the
    /// documents with those ids. A file in a format footnote does not read is
    /// refused before anything is written.
    pub async fn add_files(&self, files: Vec<Upload>) -> Result<Added, AppError> {
        self.add_files_telling(files, |_, _| {}).await
    }

    /// [`App::add_files`], telling `stage` each stage a file reaches
    /// (reading, cleaning, embedding, storing), for a page that shows them.
    pub async fn add_files_telling(
        &self,
        files: Vec<Upload>,
        stage: impl Fn(&str, Stage) + Send + Sync + 'static,
    ) -> Result<Added, AppError> {
        if files.is_empty() {
            return Err(AppError::Invalid("the form has no `file` part".into()));
        }
        let mut uploads = Vec::with_capacity(files.len());
        for file in files {
            let name = file.file_name.rsplit(['/', '\\']).next().unwrap_or(&file.file_name);
            let id = rules::document_id(name)?;
            let format = Format::from_file_name(&id).ok_or_else(|| {
                AppError::UnsupportedFormat(format!("{id}: only {} files can be indexed", Format::READABLE))
            })?;
            let metadata = ManifestEntry { file: id.clone(), ..ManifestEntry::default() };
            uploads.push(DocumentUpload { id, format, bytes: file.bytes, metadata });
        }
        self.add(uploads, Stages(stage)).await
    }

    async fn add(&self, uploads: Vec<DocumentUpload>, progress: impl Progress + Send + 'static) -> Result<Added, AppError> {
        let documents = uploads.iter().map(|u| u.id.clone()).collect();
        let _one_at_a_time = self.ingest_lock.lock().await;
        let report = self
            .with_index(move |index| {
                let report = Ingestor::new(index).ingest_documents(&uploads, &progress);
                crate::heap::return_freed_memory();
                report
            })
            .await?
            .map_err(|e| AppError::Internal(e.into()))?;
        self.update_index_gauge();
        if let Some((name, reason)) = report.skipped.first() {
            return Err(AppError::Invalid(format!("{}: {reason}", name.display())));
        }
        Ok(Added { documents, report })
    }

    /// Removes a document and its passages.
    pub async fn delete_document(&self, id: &str) -> Result<(), AppError> {
        let _one_at_a_time = self.ingest_lock.lock().await;
        let target = id.to_string();
        let removed = self.with_index(move |index| index.delete_document(&target)).await?;
        self.update_index_gauge();
        match removed {
            Ok(0) | Err(footnote_index::Error::DocumentNotFound(_)) => Err(AppError::NotFound { what: "document", id: id.into() }),
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Passes each stage a document reaches on to a function.
struct Stages<F>(F);

impl<F: Fn(&str, Stage) + Sync> Progress for Stages<F> {
    fn stage(&self, id: &str, stage: Stage) {
        (self.0)(id, stage)
    }
}
