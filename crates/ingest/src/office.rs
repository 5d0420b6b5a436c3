//! Word (.docx) and OpenDocument (.odt) files: both are zip archives of XML.
//! Headings are kept as structure (each passage knows the section it sits in),
//! tables become one line of text per row, and the title comes from the
//! document's properties when it has one.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::extract::{Extracted, Region};

/// The most any one part of an archive may unpack to: a real document's text
/// is far smaller, a zip bomb is not.
const PART_LIMIT: u64 = 256 * 1024 * 1024;

/// A piece of a document's body, in order.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    /// A heading and its level (1 is the top).
    Heading(usize, String),
    Paragraph(String),
    Table(Vec<Vec<String>>),
}

pub fn docx(bytes: &[u8]) -> Result<Extracted, String> {
    let mut archive = open(bytes, "Word")?;
    let body = part(&mut archive, "word/document.xml")?.ok_or("not a Word document: it has no word/document.xml")?;
    let styles = part(&mut archive, "word/styles.xml")?.map(|xml| word_heading_styles(&xml)).unwrap_or_default();
    let title = part(&mut archive, "docProps/core.xml")?.and_then(|xml| element_text(&xml, "title"));
    Ok(assemble(word_blocks(&body, &styles)?, title))
}

pub fn odt(bytes: &[u8]) -> Result<Extracted, String> {
    let mut archive = open(bytes, "OpenDocument")?;
    let body = part(&mut archive, "content.xml")?.ok_or("not an OpenDocument text: it has no content.xml")?;
    let title = part(&mut archive, "meta.xml")?.and_then(|xml| element_text(&xml, "title"));
    Ok(assemble(open_document_blocks(&body)?, title))
}

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

fn open<'a>(bytes: &'a [u8], kind: &str) -> Result<Archive<'a>, String> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable {kind} file: {e}"))
}

fn part(archive: &mut Archive, name: &str) -> Result<Option<String>, String> {
    let file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format!("{name} cannot be unpacked: {e}")),
    };
    let mut xml = String::new();
    file.take(PART_LIMIT + 1).read_to_string(&mut xml).map_err(|e| format!("{name} cannot be unpacked: {e}"))?;
    if xml.len() as u64 > PART_LIMIT {
        return Err(format!("{name} unpacks to more than {} MiB", PART_LIMIT / 1024 / 1024));
    }
    Ok(Some(xml))
}

/// The text of the first element with this local name (`dc:title`).
fn element_text(xml: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == name => inside = true,
            Event::End(e) if inside && e.local_name().as_ref() == name => break,
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => text.push_str(&entity(&r)),
            Event::Eof => break,
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// The character an entity reference stands for.
fn entity(reference: &quick_xml::events::BytesRef) -> String {
    if let Ok(Some(c)) = reference.resolve_char_ref() {
        return c.to_string();
    }
    match &**reference {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_string()
}

fn attribute(element: &BytesStart, local: &str) -> Option<String> {
    element
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// Word paragraph styles that are headings, by style id, with their level:
/// a style named "heading N" or "Title", or one with an outline level. Word
/// names the built-in styles in English whatever the language of the document.
fn word_heading_styles(xml: &str) -> HashMap<String, usize> {
    let mut styles = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<String> = None;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) if e.local_name().as_ref() == "style" => current = attribute(&e, "styleId"),
            Event::End(e) if e.local_name().as_ref() == "style" => current = None,
            Event::Empty(e) | Event::Start(e) => {
                let Some(id) = current.clone() else { continue };
                let level = match e.local_name().as_ref() {
                    "name" => attribute(&e, "val").and_then(|name| heading_level_of_name(&name)),
                    "outlineLvl" => attribute(&e, "val").and_then(|v| v.parse::<usize>().ok()).filter(|&v| v < 9).map(|v| v + 1),
                    _ => None,
                };
                if let Some(level) = level {
                    styles.entry(id).or_insert(level);
                }
            }
            _ => {}
        }
    }
    styles
}

fn heading_level_of_name(name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    if name == "title" {
        return Some(1);
    }
    name.strip_prefix("heading")?.trim().parse().ok().filter(|&level| (1..=9).contains(&level))
}

/// A document body as it is read: the blocks so far, the paragraph being read
/// (with its heading level), and the tables it sits in, innermost last.
#[derive(Default)]
struct Body {
    blocks: Vec<Block>,
    paragraph: Option<(String, Option<usize>)>,
    tables: Vec<Vec<Vec<String>>>,
}

impl Body {
    fn start_paragraph(&mut self, level: Option<usize>) {
        self.paragraph = Some((String::new(), level));
    }

    fn set_level(&mut self, level: Option<usize>) {
        if let Some((_, current)) = self.paragraph.as_mut() {
            *current = current.or(level);
        }
    }

    fn push(&mut self, text: &str) {
        if let Some((buffer, _)) = self.paragraph.as_mut() {
            buffer.push_str(text);
        }
    }

    fn start_table(&mut self) {
        self.tables.push(Vec::new());
    }

    fn start_row(&mut self) {
        if let Some(table) = self.tables.last_mut() {
            table.push(Vec::new());
        }
    }

    fn start_cell(&mut self) {
        if let Some(row) = self.tables.last_mut().and_then(|t| t.last_mut()) {
            row.push(String::new());
        }
    }

    fn cell(&mut self) -> Option<&mut String> {
        self.tables.last_mut().and_then(|t| t.last_mut()).and_then(|row| row.last_mut())
    }

    /// A finished paragraph goes into the table cell it sits in, or becomes a block.
    fn end_paragraph(&mut self) {
        let Some((text, level)) = self.paragraph.take() else { return };
        let text = text.split(['\t', ' ']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if let Some(cell) = self.cell() {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(text);
            return;
        }
        self.blocks.push(match level {
            Some(level) => Block::Heading(level, text.to_string()),
            None => Block::Paragraph(text.to_string()),
        });
    }

    /// A table nested in a cell is written into that cell as text; a top-level
    /// table becomes a block.
    fn end_table(&mut self) {
        let Some(table) = self.tables.pop() else { return };
        let rows: Vec<Vec<String>> = table.into_iter().filter(|row| row.iter().any(|c| !c.trim().is_empty())).collect();
        if rows.is_empty() {
            return;
        }
        match self.cell() {
            Some(cell) => cell.push_str(&table_lines(&rows).join(" ")),
            None => self.blocks.push(Block::Table(rows)),
        }
    }
}

/// The body of `word/document.xml`: paragraphs (`w:p`) with their style, text
/// runs (`w:t`), tabs and breaks, and tables (`w:tbl`, `w:tr`, `w:tc`).
/// Deleted text of tracked changes (`w:delText`) is not part of the document.
fn word_blocks(xml: &str, heading_styles: &HashMap<String, usize>) -> Result<Vec<Block>, String> {
    let mut reader = Reader::from_str(xml);
    let mut body = Body::default();
    let mut in_text = false;
    loop {
        let event = reader.read_event().map_err(|e| format!("word/document.xml is not well-formed XML: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => match e.local_name().as_ref() {
                "p" => body.start_paragraph(None),
                "t" => in_text = true,
                "tbl" => body.start_table(),
                "tr" => body.start_row(),
                "tc" => body.start_cell(),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "pStyle" => {
                    let style = attribute(&e, "val");
                    body.set_level(style.and_then(|style| heading_styles.get(&style).copied().or_else(|| heading_level_of_name(&style))));
                }
                "outlineLvl" => body.set_level(attribute(&e, "val").and_then(|v| v.parse::<usize>().ok()).filter(|&v| v < 9).map(|v| v + 1)),
                "tab" => body.push("\t"),
                "br" | "cr" => body.push("\n"),
                _ => {}
            },
            Event::Text(t) if in_text => body.push(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => body.push(&entity(&r)),
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => body.end_paragraph(),
                "tbl" => body.end_table(),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(body.blocks)
}

/// The body of an OpenDocument `content.xml`: headings (`text:h` with their
/// outline level), paragraphs (`text:p`, also inside lists), spaces (`text:s`),
/// tabs, line breaks, and tables (`table:table`, `table:table-row`,
/// `table:table-cell`). Notes and annotations are left out.
fn open_document_blocks(xml: &str) -> Result<Vec<Block>, String> {
    let mut reader = Reader::from_str(xml);
    let mut body = Body::default();
    // Depth inside elements whose text is not body text.
    let mut skipped = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| format!("content.xml is not well-formed XML: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => match e.local_name().as_ref() {
                "note" | "annotation" | "tracked-changes" => skipped += 1,
                _ if skipped > 0 => {}
                "h" => body.start_paragraph(Some(attribute(&e, "outline-level").and_then(|v| v.parse().ok()).unwrap_or(1))),
                // A paragraph inside a heading or another paragraph (a frame) adds to it.
                "p" if body.paragraph.is_none() => body.start_paragraph(None),
                "table" => body.start_table(),
                "table-row" => body.start_row(),
                "table-cell" => body.start_cell(),
                _ => {}
            },
            Event::Empty(e) if skipped == 0 => match e.local_name().as_ref() {
                "s" => body.push(&" ".repeat(attribute(&e, "c").and_then(|c| c.parse().ok()).unwrap_or(1usize).min(64))),
                "tab" => body.push("\t"),
                "line-break" => body.push("\n"),
                "table-cell" => body.start_cell(),
                _ => {}
            },
            Event::Text(t) if skipped == 0 => body.push(&t.xml10_content()),
            Event::GeneralRef(r) if skipped == 0 => body.push(&entity(&r)),
            Event::End(e) => match e.local_name().as_ref() {
                "note" | "annotation" | "tracked-changes" => skipped = skipped.saturating_sub(1),
                _ if skipped > 0 => {}
                "h" | "p" => body.end_paragraph(),
                "table" => body.end_table(),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(body.blocks)
}

/// One sentence per row, so that an answer can quote a row. When the first row
/// reads as column headings (every cell filled, short), each later row names
/// its columns: "Fare: 12 crowns", so a row means something on its own in a
/// passage; otherwise cells are joined with " | ".
fn table_lines(rows: &[Vec<String>]) -> Vec<String> {
    let header = &rows[0];
    let is_header = rows.len() > 1 && header.iter().all(|c| !c.trim().is_empty() && c.split_whitespace().count() <= 6);
    let lines: Vec<String> = if is_header {
        rows[1..]
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|(_, cell)| !cell.trim().is_empty())
                    .map(|(i, cell)| match header.get(i) {
                        Some(name) => format!("{}: {}", name.trim(), cell.trim()),
                        None => cell.trim().to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect()
    } else {
        rows.iter().map(|row| row.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" | ")).collect()
    };
    lines.into_iter().map(|line| if line.ends_with(['.', '!', '?']) { line } else { format!("{line}.") }).collect()
}

/// The blocks as text (paragraphs separated by blank lines), with a region at
/// each heading that names the section: the path of headings above it.
fn assemble(blocks: Vec<Block>, title: Option<String>) -> Extracted {
    let mut text = String::new();
    let mut regions = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    for block in blocks {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        match block {
            Block::Heading(level, heading) => {
                path.retain(|(l, _)| *l < level);
                path.push((level, heading.clone()));
                let section = path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(" › ");
                regions.push(Region { start: text.len(), page: None, section: Some(section) });
                text.push_str(&heading);
            }
            Block::Paragraph(paragraph) => text.push_str(&paragraph),
            Block::Table(rows) => text.push_str(&table_lines(&rows).join("\n\n")),
        }
    }
    Extracted { text, title, source: None, date: None, regions }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_paragraphs_headings_and_tables_keep_their_structure() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Kop1"/></w:pPr><w:r><w:t>Ferries</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Two ferries &amp; a </w:t></w:r><w:r><w:t>barge.</w:t></w:r>
                 <w:del><w:r><w:delText>Three.</w:delText></w:r></w:del></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Ferry</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Fare</w:t></w:r></w:p></w:tc></w:tr>
                   <w:tr><w:tc><w:p><w:r><w:t>Osprey</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>12 crowns</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let styles = HashMap::from([("Kop1".to_string(), 1)]);
        let blocks = word_blocks(xml, &styles).unwrap();
        assert_eq!(
            blocks,
            [
                Block::Heading(1, "Ferries".into()),
                Block::Paragraph("Two ferries & a barge.".into()),
                Block::Table(vec![vec!["Ferry".into(), "Fare".into()], vec!["Osprey".into(), "12 crowns".into()]]),
            ]
        );
        assert_eq!(table_lines(&[vec!["Ferry".into(), "Fare".into()], vec!["Osprey".into(), "12 crowns".into()]]), ["Ferry: Osprey; Fare: 12 crowns."]);
    }

    #[test]
    fn word_heading_styles_are_found_by_name_or_outline_level() {
        let xml = r#"<w:styles xmlns:w="w">
            <w:style w:styleId="Kop2"><w:name w:val="heading 2"/></w:style>
            <w:style w:styleId="Chapter"><w:name w:val="Chapter"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
            <w:style w:styleId="Normal"><w:name w:val="Normal"/></w:style></w:styles>"#;
        assert_eq!(word_heading_styles(xml), HashMap::from([("Kop2".to_string(), 2), ("Chapter".to_string(), 1)]));
    }

    #[test]
    fn sections_are_the_path_of_headings_above() {
        let extracted = assemble(
            vec![
                Block::Heading(1, "Ferries".into()),
                Block::Heading(2, "Fares".into()),
                Block::Paragraph("Paid on board.".into()),
                Block::Heading(2, "Safety".into()),
            ],
            None,
        );
        let sections: Vec<_> = extracted.regions.iter().map(|r| r.section.clone().unwrap()).collect();
        assert_eq!(sections, ["Ferries", "Ferries › Fares", "Ferries › Safety"]);
        assert_eq!(&extracted.text[extracted.regions[2].start..], "Safety");
    }

    #[test]
    fn open_document_spaces_lists_and_notes() {
        let xml = r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>
            <text:h text:outline-level="2">Pruning</text:h>
            <text:p>In<text:s text:c="2"/>February<text:note><text:note-body><text:p>A note.</text:p></text:note-body></text:note>.</text:p>
            <text:list><text:list-item><text:p>Never a third.</text:p></text:list-item></text:list>
            </office:text></office:body></office:document-content>"#;
        assert_eq!(
            open_document_blocks(xml).unwrap(),
            [Block::Heading(2, "Pruning".into()), Block::Paragraph("In February.".into()), Block::Paragraph("Never a third.".into())]
        );
    }
}
