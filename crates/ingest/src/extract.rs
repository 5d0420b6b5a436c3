//! Turning each format into plain text whose paragraphs are separated by blank
//! lines, plus whatever metadata the document itself carries. Text formats are
//! read here; PDF ([`crate::pdf`]) and Word and OpenDocument ([`crate::office`])
//! from their bytes.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use scraper::{ElementRef, Html, Node, Selector};

use crate::source::Format;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub date: Option<String>,
    /// Where pages or sections start in `text`, in order; empty for formats
    /// that have neither.
    pub regions: Vec<Region>,
}

/// A stretch of the extracted text from `start` (a byte offset) to the next
/// region: one page of a PDF, or one section of a Word file under its heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: usize,
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// Reads a file's bytes in its format: text formats are decoded first (the
/// warning says when that needed a fallback), the others are read from their
/// bytes. The error says why the file cannot be read (binary where text was
/// expected, encrypted, no text layer, damaged).
pub fn read(format: Format, bytes: &[u8]) -> Result<(Extracted, Option<String>), String> {
    match format {
        Format::Pdf => crate::pdf::extract(bytes).map(|e| (e, None)),
        Format::Docx => crate::office::docx(bytes).map(|e| (e, None)),
        Format::Odt => crate::office::odt(bytes).map(|e| (e, None)),
        Format::Text | Format::Markdown | Format::Html => {
            let (text, warning) = crate::source::decode(bytes)?;
            Ok((extract(format, &text), warning))
        }
    }
}

/// Extracts a text format from decoded text. A format stored as bytes, given
/// as text, is read as plain text.
pub fn extract(format: Format, raw: &str) -> Extracted {
    // Stray control characters (a NUL, an escape) are never text; PostgreSQL
    // cannot even store a NUL in the answers that would quote them.
    let raw: String = raw.chars().filter(|&c| !crate::source::is_stray_control(c)).collect();
    match format {
        Format::Markdown => markdown(&raw),
        Format::Html => html(&raw),
        Format::Text | Format::Pdf | Format::Docx | Format::Odt => Extracted { text: raw, ..Default::default() },
    }
}

/// Markdown structure is dropped; every block (and every heading) ends a paragraph.
fn markdown(raw: &str) -> Extracted {
    let mut text = String::new();
    let mut title = None;
    let mut heading: Option<String> = None;
    for event in Parser::new(raw) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    if title.is_none() && !h.trim().is_empty() {
                        title = Some(h.trim().to_string());
                    }
                }
                text.push_str("\n\n");
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
                text.push_str(&t);
            }
            Event::SoftBreak => text.push('\n'),
            Event::HardBreak => text.push('\n'),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::CodeBlock) => {
                text.push_str("\n\n")
            }
            Event::Start(Tag::Item) => {}
            _ => {}
        }
    }
    Extracted { text, title, ..Default::default() }
}

/// Elements whose text is never part of the document's content.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "nav", "header", "footer", "aside",
    "form", "button", "select", "menu", "dialog",
];

/// Elements that start a new paragraph.
const BLOCKS: &[&str] = &[
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
    "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "td", "th", "figure", "figcaption", "br",
    "hr", "address", "details", "summary",
];

/// Main text only: `<main>` or `<article>` when the page has one, else `<body>`;
/// scripts, styles, navigation, headers, footers and ARIA-hidden parts dropped.
fn html(raw: &str) -> Extracted {
    let document = Html::parse_document(raw);
    let select = |css: &str| Selector::parse(css).expect("valid selector");
    let first_text = |css: &str| {
        document.select(&select(css)).next().map(|e| collapse(&e.text().collect::<String>())).filter(|t| !t.is_empty())
    };
    let first_attr = |css: &str, attr: &str| {
        document.select(&select(css)).find_map(|e| e.value().attr(attr)).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    };
    let title = first_attr("meta[property='og:title']", "content")
        .or_else(|| first_text("title"))
        .or_else(|| first_text("h1"));
    let source = first_attr("link[rel='canonical']", "href").or_else(|| first_attr("meta[property='og:url']", "content"));
    let date = first_attr("meta[property='article:published_time']", "content")
        .or_else(|| first_attr("time[datetime]", "datetime"));

    let root = ["main", "article", "[role='main']", "body"]
        .iter()
        .find_map(|css| document.select(&select(css)).next())
        .unwrap_or_else(|| document.root_element());
    let mut text = String::new();
    walk(root, &mut text);
    Extracted { text, title, source, date, regions: Vec::new() }
}

fn walk(element: ElementRef, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(t) => out.push_str(&t.replace('\n', " ")),
            Node::Element(e) => {
                let name = e.name();
                let hidden = e.attr("aria-hidden") == Some("true")
                    || e.attr("hidden").is_some()
                    || matches!(e.attr("role"), Some("navigation" | "banner" | "contentinfo" | "search"));
                if DROPPED.contains(&name) || hidden {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    out.push_str("\n\n");
                }
                if let Some(child) = ElementRef::wrap(child) {
                    walk(child, out);
                }
                if block {
                    out.push_str("\n\n");
                }
            }
            _ => {}
        }
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_main_text_and_drops_chrome() {
        let page = r#"<html><head><title>Elections</title><style>p{}</style>
            <link rel="canonical" href="https://example.org/e"></head>
            <body><nav>Home | Reports</nav><main><h1>Snap vote</h1><p>Tokayev called
            an early election.</p><script>alert(1)</script><p>It was held in June.</p></main>
            <footer>© 2024 Example</footer></body></html>"#;
        let e = extract(Format::Html, page);
        assert_eq!(e.title.as_deref(), Some("Elections"));
        assert_eq!(e.source.as_deref(), Some("https://example.org/e"));
        let paragraphs: Vec<String> = e.text.split("\n\n").map(collapse).filter(|p| !p.is_empty()).collect();
        assert_eq!(paragraphs, ["Snap vote", "Tokayev called an early election.", "It was held in June."]);
    }

    #[test]
    fn markdown_headings_end_paragraphs() {
        let e = extract(Format::Markdown, "# Title\nSome *text*\nwrapped.\n## Next\n- item one\n- item two\n");
        assert_eq!(e.title.as_deref(), Some("Title"));
        let paragraphs: Vec<String> = e.text.split("\n\n").map(collapse).filter(|p| !p.is_empty()).collect();
        assert_eq!(paragraphs, ["Title", "Some text wrapped.", "Next", "item one", "item two"]);
    }
}
