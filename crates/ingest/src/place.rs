//! Finding where each passage came from: the page it starts on and the section
//! it sits in.
//!
//! Cleaning rewrites text (it joins lines and hyphenated words, spells out
//! ligatures, drops footnote marks), so passage offsets cannot be traced back
//! through it. Instead both sides are reduced to their letters and digits,
//! lower case, where those rewrites leave no trace, and each passage's opening
//! is looked up in the extracted text after the previous passage's.

use footnote_index::NewPassage;
use unicode_normalization::UnicodeNormalization;

use crate::extract::{Extracted, Region};
use crate::source::is_stray_control;

/// Characters of a passage's opening that are looked up; long enough to be
/// unique in a document, short enough to end before a repair changes the text.
const PROBE: usize = 32;

/// Gives each passage the page and section of the region its opening is found
/// in.
pub fn place(text: &str, regions: &[Region], passages: &mut [NewPassage]) {
    let found = regions_of(text, regions, passages.iter().map(|p| p.text.as_str()));
    for (passage, region) in passages.iter_mut().zip(found) {
        if let Some(region) = region.and_then(|r| regions.get(r)) {
            passage.page = region.page;
            passage.section = region.section.clone();
        }
    }
}

/// Which of the cleaned paragraphs open a new section, so that splitting does
/// not join the end of one section to the start of the next. Empty when the
/// format marks no sections (pages are no such boundary: a paragraph runs on).
pub fn section_starts(text: &str, regions: &[Region], paragraphs: &[String]) -> Vec<bool> {
    if !regions.iter().any(|r| r.section.is_some()) {
        return Vec::new();
    }
    let found = regions_of(text, regions, paragraphs.iter().map(String::as_str));
    let sections: Vec<Option<&str>> = found.iter().map(|r| r.and_then(|r| regions[r].section.as_deref())).collect();
    (0..sections.len()).map(|i| i > 0 && sections[i] != sections[i - 1]).collect()
}

/// The region each of `pieces` (in document order) starts in. A piece whose
/// opening cannot be found (cleaning rewrote it) takes the region where the
/// previous one was found.
fn regions_of<'a>(text: &str, regions: &[Region], pieces: impl Iterator<Item = &'a str>) -> Vec<Option<usize>> {
    if regions.is_empty() {
        return pieces.map(|_| None).collect();
    }
    let (stream, starts) = letters_and_digits(text, regions);
    let mut cursor = 0;
    let mut region = region_at(&starts, 0);
    pieces
        .map(|piece| {
            let wanted: String = piece.nfkc().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
            if let Some(found) = find_opening(&stream, cursor, &wanted) {
                cursor = found;
                region = region_at(&starts, found);
            }
            region
        })
        .collect()
}

/// The first place at or after `cursor` where the opening of `wanted` (or,
/// when its first characters were rewritten, a later stretch of it) occurs.
fn find_opening(stream: &str, cursor: usize, wanted: &str) -> Option<usize> {
    let boundaries: Vec<usize> = wanted.char_indices().map(|(i, _)| i).chain([wanted.len()]).collect();
    let chars = boundaries.len() - 1;
    if chars == 0 {
        return None;
    }
    let probe = PROBE.min(chars);
    for skip in [0, PROBE / 2, PROBE, 2 * PROBE, 4 * PROBE] {
        if skip + probe > chars {
            break;
        }
        let needle = &wanted[boundaries[skip]..boundaries[skip + probe]];
        if let Some(at) = stream[cursor..].find(needle) {
            // Where the skipped characters stood cannot be told (cleaning may
            // have added them, or removed more), so the match is where it starts.
            return Some(cursor + at);
        }
    }
    None
}

/// The text reduced to lower-case letters and digits, with the offset in it
/// where each region starts.
fn letters_and_digits(text: &str, regions: &[Region]) -> (String, Vec<usize>) {
    let mut stream = String::with_capacity(text.len());
    let mut starts = Vec::with_capacity(regions.len());
    let mut next = regions.iter().map(|r| r.start).peekable();
    for (offset, c) in text.char_indices() {
        while next.peek().is_some_and(|&start| start <= offset) {
            next.next();
            starts.push(stream.len());
        }
        stream.extend(std::iter::once(c).nfkc().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase));
    }
    starts.extend(next.map(|_| stream.len()));
    (stream, starts)
}

/// The index of the last region starting at or before `offset`.
fn region_at(starts: &[usize], offset: usize) -> Option<usize> {
    starts.partition_point(|&start| start <= offset).checked_sub(1)
}

/// The extracted text without stray control characters, its regions moved to match.
pub fn without_stray_controls(extracted: Extracted) -> Extracted {
    if !extracted.text.chars().any(is_stray_control) {
        return extracted;
    }
    let mut text = String::with_capacity(extracted.text.len());
    let mut moved = Vec::with_capacity(extracted.regions.len());
    let mut regions = extracted.regions.into_iter().peekable();
    for (offset, c) in extracted.text.char_indices() {
        while let Some(region) = regions.next_if(|r| r.start <= offset) {
            moved.push(Region { start: text.len(), ..region });
        }
        if !is_stray_control(c) {
            text.push(c);
        }
    }
    moved.extend(regions.map(|region| Region { start: text.len(), ..region }));
    Extracted { text, regions: moved, ..extracted }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(text: &str) -> NewPassage {
        NewPassage { text: text.into(), position: 0, span: (0, 0), page: None, section: None }
    }

    fn page(start: usize, page: u32) -> Region {
        Region { start, page: Some(page), section: None }
    }

    #[test]
    fn passages_find_their_pages_through_the_repairs_cleaning_made() {
        let text = "The ﬁrst page tells of the harbour.\n\nIt was demo-\ncratised in 1911 when the board\n\nThe third page: a lighthouse lit in 1927.";
        let second = text.find("It was").unwrap();
        let third = text.find("The third").unwrap();
        let regions = [page(0, 1), page(second, 2), page(third, 3)];
        let mut passages = [
            passage("The first page tells of the harbour."),
            passage("It was democratised in 1911 when the board"),
            passage("The third page: a lighthouse lit in 1927."),
        ];
        place(text, &regions, &mut passages);
        let pages: Vec<_> = passages.iter().map(|p| p.page).collect();
        assert_eq!(pages, [Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn a_passage_whose_opening_was_rewritten_is_found_by_what_follows() {
        let text = "Page one.\n\n[12] Kestrel Point lighthouse was first lit on 9 November 1927 and seen far out.";
        let regions = [page(0, 1), page(text.find("[12]").unwrap(), 2)];
        let mut passages = [passage("Page one."), passage("Kestrel Point lighthouse was first lit on 9 November 1927 and seen far out.")];
        passages[1].text.insert_str(0, "Footnote-less: ");
        place(text, &regions, &mut passages);
        assert_eq!(passages[1].page, Some(2));
    }

    #[test]
    fn a_new_section_starts_where_its_heading_is() {
        let text = "Ferries\n\nTwo ferries.\n\nFares\n\nPaid on board.";
        let section = |start: usize, name: &str| Region { start, page: None, section: Some(name.into()) };
        let regions = [section(0, "Ferries"), section(text.find("Fares").unwrap(), "Ferries › Fares")];
        let paragraphs: Vec<String> = text.split("\n\n").map(str::to_string).collect();
        assert_eq!(section_starts(text, &regions, &paragraphs), [false, false, true, false]);
        assert!(section_starts(text, &[page(0, 1), page(9, 2)], &paragraphs).is_empty());
    }

    #[test]
    fn control_characters_go_and_regions_stay_on_their_text() {
        let text = "a\u{0}b\n\nc\u{1b}d".to_string();
        let extracted = Extracted { regions: vec![page(0, 1), page(5, 2)], text, ..Default::default() };
        let cleaned = without_stray_controls(extracted);
        assert_eq!(cleaned.text, "ab\n\ncd");
        assert_eq!(&cleaned.text[cleaned.regions[1].start..], "cd");
    }
}
