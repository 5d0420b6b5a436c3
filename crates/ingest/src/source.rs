//! Finding documents on disk, decoding them, and reading their metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

/// The metadata file that may sit in any ingested folder. It names titles,
/// sources and dates for the files beside it, so documents can be kept exactly
/// as they were received.
pub const MANIFEST_FILE: &str = "manifest.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// OpenDocument text.
    Odt,
}

impl Format {
    /// The formats read, as error messages name them.
    pub const READABLE: &str = ".txt, .md, .html, .pdf, .docx and .odt";
    /// Why a file in another format is not read.
    pub const UNREADABLE: &str = "not a .txt, .md, .html, .pdf, .docx or .odt file";

    /// Whether the format is read from bytes rather than decoded as text.
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Pdf | Format::Docx | Format::Odt)
    }

    /// The format a media type (an HTTP `Content-Type`) names, if it is one we read.
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/plain" => Some(Format::Text),
            "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            "application/pdf" => Some(Format::Pdf),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Some(Format::Docx),
            "application/vnd.oasis.opendocument.text" => Some(Format::Odt),
            _ => None,
        }
    }

    /// The format a file name's extension says, if it is one we read.
    pub fn from_file_name(name: &str) -> Option<Format> {
        Self::of(Path::new(name))
    }

    fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            "docx" => Some(Format::Docx),
            "odt" => Some(Format::Odt),
            _ => None,
        }
    }
}

/// A document file found on disk, not yet read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Stable id: the path relative to the ingested root, with `/` separators.
    pub id: String,
    pub format: Format,
    pub metadata: ManifestEntry,
}

/// One `[[document]]` of a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub file: String,
    pub id: Option<String>,
    pub title: Option<String>,
    pub source: Option<String>,
    pub date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    document: Vec<ManifestEntry>,
}

/// What was found under the given paths: documents to read and files passed over.
#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<SourceFile>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Walks files and folders (recursively). A missing path is an error; a file in a
/// format we do not read is skipped with a reason.
pub fn discover(paths: &[PathBuf]) -> Result<Discovery, Error> {
    let mut discovery = Discovery::default();
    for root in paths {
        let metadata = std::fs::metadata(root).map_err(|e| Error::Path { path: root.clone(), reason: e.to_string() })?;
        if metadata.is_file() {
            let dir = root.parent().unwrap_or(Path::new("."));
            let manifest = read_manifest(dir)?;
            let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            add_file(&mut discovery, root.clone(), name, &manifest);
            continue;
        }
        let mut manifests: HashMap<PathBuf, HashMap<String, ManifestEntry>> = HashMap::new();
        let mut entries: Vec<_> = walkdir::WalkDir::new(root).sort_by_file_name().into_iter().collect();
        entries.retain(|e| e.as_ref().map(|e| e.file_type().is_file()).unwrap_or(true));
        for entry in entries {
            let entry = entry.map_err(|e| Error::Path {
                path: e.path().map(Path::to_path_buf).unwrap_or_else(|| root.clone()),
                reason: e.to_string(),
            })?;
            let path = entry.path().to_path_buf();
            if path.file_name().is_some_and(|n| n == MANIFEST_FILE) {
                continue;
            }
            let dir = path.parent().unwrap_or(root).to_path_buf();
            if !manifests.contains_key(&dir) {
                manifests.insert(dir.clone(), read_manifest(&dir)?);
            }
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let id = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            add_file(&mut discovery, path, id, &manifests[&dir]);
        }
    }
    Ok(discovery)
}

fn add_file(discovery: &mut Discovery, path: PathBuf, id: String, manifest: &HashMap<String, ManifestEntry>) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with('.') {
        return;
    }
    match Format::of(&path) {
        Some(format) => {
            let metadata = manifest.get(&name).cloned().unwrap_or_default();
            let id = metadata.id.clone().unwrap_or(id);
            discovery.files.push(SourceFile { path, id, format, metadata });
        }
        None => discovery.skipped.push((path, Format::UNREADABLE.into())),
    }
}

fn read_manifest(dir: &Path) -> Result<HashMap<String, ManifestEntry>, Error> {
    let path = dir.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::Path { path, reason: e.to_string() }),
    };
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| Error::Manifest { path: path.clone(), reason: e.to_string() })?;
    Ok(manifest.document.into_iter().map(|entry| (entry.file.clone(), entry)).collect())
}

/// Decodes bytes as UTF-8 (or UTF-16 with a byte-order mark). Anything else is
/// decoded as Windows-1252, the usual encoding of stray legacy files, and the
/// warning says so. Bytes that are not text at all (an executable or an image
/// renamed `.txt`) are refused with the reason, rather than indexed as noise.
pub fn decode(bytes: &[u8]) -> Result<(String, Option<String>), String> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _, had_errors) = encoding.decode(&bytes[bom..]);
        let warning = had_errors.then(|| format!("invalid {} sequences replaced", encoding.name()));
        return not_binary(text.into_owned()).map(|text| (text, warning));
    }
    // Text never holds a NUL byte; binary formats nearly always do, early on.
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(format!("binary content, not text (a NUL byte at offset {offset})"));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => not_binary(text.to_string()).map(|text| (text, None)),
        Err(e) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            let warning = format!(
                "not valid UTF-8 (first bad byte at offset {}); decoded as Windows-1252",
                e.valid_up_to()
            );
            not_binary(text.into_owned()).map(|text| (text, Some(warning)))
        }
    }
}

/// Control characters other than line and page breaks and tabs: a few are
/// noise that cleaning removes; more than a few, and over one in a hundred
/// characters, mean binary data.
fn not_binary(text: String) -> Result<String, String> {
    let controls = text.chars().filter(|&c| is_stray_control(c)).count();
    let chars = text.chars().count();
    if controls > 8 && controls * 100 > chars {
        return Err(format!("binary content, not text ({controls} control characters in {chars})"));
    }
    Ok(text)
}

/// A control character that has no place in a document's text.
pub fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_bytes_are_refused_and_text_with_a_stray_control_is_not() {
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0 some strings in a binary";
        assert!(decode(elf).unwrap_err().contains("NUL byte at offset 7"));
        let controls: Vec<u8> = (0..200u8).map(|i| if i % 10 == 0 { 0x1b } else { b'a' }).collect();
        assert!(decode(&controls).unwrap_err().starts_with("binary content"));
        let (text, warning) = decode("A line.\r\n\tIndented.\x0cNext page. One \x1b escape.".as_bytes()).unwrap();
        assert!(text.contains("Next page") && warning.is_none());
        let (text, warning) = decode(b"caf\xe9").unwrap();
        assert_eq!(text, "caf\u{e9}");
        assert!(warning.unwrap().contains("Windows-1252"));
    }
}
