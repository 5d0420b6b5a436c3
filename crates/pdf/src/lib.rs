//! The text of a PDF, page by page, as a reader sees it: in reading order
//! (two-column pages column by column), without the running headers and
//! footers that repeat on most pages.
//!
//! `pdf_oxide` parses the file and gives the text as positioned spans;
//! [`layout`] puts them in reading order, because no single text call of
//! `pdf_oxide` reads both a page drawn line across two columns and a pdfLaTeX
//! page right (docs/benchmarks.md, "Choosing the PDF extractor").

mod layout;

use std::collections::HashMap;
use std::sync::LazyLock;

use pdf_oxide::document::PdfDocument;
use pdf_oxide::object::Object;
use regex::Regex;

/// Pages a running header or footer must repeat on before it is taken for one:
/// at least this many, and at least half of them.
const MIN_FURNITURE_PAGES: usize = 3;

/// Lines at the top and at the bottom of a page where headers and footers sit.
const EDGE_LINES: usize = 3;

/// How far from the end of a PDF its end-of-file marker may sit (writers add
/// a little padding after it; a cut file has none).
const EOF_WINDOW: usize = 2048;

/// A PDF's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfText {
    /// One string per page, lines separated by `\n`, paragraphs by a blank line.
    pub pages: Vec<String>,
    /// The title in the document information, when it is a real one.
    pub title: Option<String>,
}

/// Reads a PDF's text. The error says why it cannot be read: damaged, cut
/// short, encrypted, or without a text layer (scanned).
pub fn read(bytes: &[u8]) -> Result<PdfText, String> {
    // The parser can rebuild a cut file's cross-reference table and read what
    // is left, but a document missing its end would be indexed incomplete,
    // and answers would miss what it said without anyone knowing.
    let tail = &bytes[bytes.len().saturating_sub(EOF_WINDOW)..];
    if bytes.starts_with(b"%PDF") && !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err("a damaged PDF: the file is cut short (no end-of-file marker); footnote does not index part of a document".into());
    }
    let unreadable = |e: pdf_oxide::error::Error| format!("not a readable PDF ({})", first_line(&e.to_string()));
    let document = PdfDocument::from_bytes(bytes.to_vec()).map_err(unreadable)?;
    if document.is_encrypted() && !document.is_authenticated() {
        return Err("an encrypted PDF: it cannot be read without its password".into());
    }
    let count = document.page_count().map_err(unreadable)?;
    let mut pages = Vec::with_capacity(count);
    for page in 0..count {
        let spans = document
            .extract_spans(page)
            .map_err(|e| format!("a damaged PDF: page {} cannot be read ({})", page + 1, first_line(&e.to_string())))?;
        pages.push(layout::page_lines(&spans));
    }
    if !pages.iter().flatten().any(|line| line.chars().any(char::is_alphabetic)) {
        return Err(format!(
            "no text layer in {count} page{}: a scanned PDF? footnote does not read text from images",
            if count == 1 { "" } else { "s" }
        ));
    }
    let pages = drop_running_furniture(pages).into_iter().map(|lines| lines.join("\n")).collect();
    Ok(PdfText { pages, title: info_title(&document) })
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

/// The title in the document information dictionary, when there is a real one
/// (printing tools often leave a file name or nothing).
fn info_title(document: &PdfDocument) -> Option<String> {
    let info = document.trailer().as_dict()?.get("Info")?;
    let info = match info {
        Object::Reference(reference) => document.load_object(*reference).ok()?,
        other => other.clone(),
    };
    let title = decode_text_string(info.as_dict()?.get("Title")?.as_string()?);
    let title = title.trim();
    let looks_like_file = title.contains(['/', '\\']) || title.to_ascii_lowercase().ends_with(".pdf");
    (!title.is_empty() && !looks_like_file && title.chars().any(char::is_alphabetic)).then(|| title.to_string())
}

/// A PDF text string: UTF-16 with a byte-order mark, else PDFDocEncoding (read
/// as Latin-1, which it equals for text).
fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|&b| b as char).collect()
}

/// Removes running headers and footers: a line near the top or bottom of a page
/// that repeats on most pages, either word for word (a title, a date, a URL) or
/// with a number that counts the pages ("3/18", "Page 3 of 18", "- 3 -").
pub(crate) fn drop_running_furniture(mut pages: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let needed = MIN_FURNITURE_PAGES.max(pages.len().div_ceil(2));
    if pages.len() < MIN_FURNITURE_PAGES {
        return pages;
    }
    // For each line shape, the pages it sits on the edge of and the numbers it holds there.
    let mut shapes: HashMap<String, Vec<(usize, Vec<i64>)>> = HashMap::new();
    for (page, lines) in pages.iter().enumerate() {
        let mut seen = std::collections::HashSet::new();
        for line in edge_lines(lines) {
            let (shape, numbers) = shape_of(line);
            if seen.insert(shape.clone()) {
                shapes.entry(shape).or_default().push((page, numbers));
            }
        }
    }
    let furniture: std::collections::HashSet<String> = shapes
        .into_iter()
        .filter(|(_, occurrences)| occurrences.len() >= needed && (same_everywhere(occurrences) || counts_pages(occurrences, needed)))
        .map(|(shape, _)| shape)
        .collect();
    for lines in &mut pages {
        let edges: std::collections::HashSet<usize> = edge_indices(lines).collect();
        let mut index = 0;
        lines.retain(|line| {
            let keep = !(edges.contains(&index) && furniture.contains(&shape_of(line).0));
            index += 1;
            keep
        });
    }
    pages
}

fn edge_indices(lines: &[String]) -> impl Iterator<Item = usize> + '_ {
    let filled: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i).collect();
    let head = filled.iter().take(EDGE_LINES).copied().collect::<Vec<_>>();
    let tail = filled.iter().rev().take(EDGE_LINES).copied().collect::<Vec<_>>();
    head.into_iter().chain(tail)
}

fn edge_lines(lines: &[String]) -> impl Iterator<Item = &str> {
    edge_indices(lines).map(|i| lines[i].trim()).collect::<Vec<_>>().into_iter()
}

/// A line with its numbers replaced by `#`, and the numbers.
fn shape_of(line: &str) -> (String, Vec<i64>) {
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+").expect("valid regex"));
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let numbers = NUMBER.find_iter(&line).filter_map(|m| m.as_str().parse().ok()).collect();
    (NUMBER.replace_all(&line, "#").into_owned(), numbers)
}

fn same_everywhere(occurrences: &[(usize, Vec<i64>)]) -> bool {
    occurrences.windows(2).all(|pair| pair[0].1 == pair[1].1)
}

/// Some number in the line moves with the page: page number minus it is the
/// same on enough pages (a report whose numbering starts after the cover counts).
fn counts_pages(occurrences: &[(usize, Vec<i64>)], needed: usize) -> bool {
    let mut offsets: HashMap<(usize, i64), usize> = HashMap::new();
    for (page, numbers) in occurrences {
        for (slot, number) in numbers.iter().enumerate() {
            *offsets.entry((slot, *page as i64 - number)).or_default() += 1;
        }
    }
    offsets.values().any(|&pages| pages >= needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUAYS: [&str; 6] = ["north", "south", "east", "west", "old", "new"];

    fn page(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn running_headers_and_page_numbers_go_and_body_text_stays() {
        let pages: Vec<Vec<String>> = (1..=6usize)
            .map(|n| {
                let heading = format!("Chapter {}", n * 3);
                let body = format!("Body text about the {} berths of the harbour.", n * 7);
                let number = format!("{n}/6");
                let more = format!("The {} quay was rebuilt.", QUAYS[n - 1]);
                page(&["Annual Report 2024", &heading, &body, &more, "file:///tmp/report.html", &number])
            })
            .collect();
        let kept = drop_running_furniture(pages);
        for (n, lines) in kept.iter().enumerate() {
            let more = format!("The {} quay was rebuilt.", QUAYS[n]);
            assert_eq!(lines, &page(&[&format!("Chapter {}", (n + 1) * 3), &format!("Body text about the {} berths of the harbour.", (n + 1) * 7), &more]));
        }
    }

    #[test]
    fn a_short_document_keeps_every_line() {
        let pages = vec![page(&["Title", "Text.", "1"]), page(&["Title", "More.", "2"])];
        assert_eq!(drop_running_furniture(pages.clone()), pages);
    }

}
