//! Cutting cleaned paragraphs into passages the embedding model reads whole.

use std::collections::HashSet;
use std::ops::Range;

use footnote_index::{NewPassage, duplicate_key, sentence_spans};

/// Passages shorter than this (in word pieces) are joined to a neighbour: a
/// heading or a one-line quote says little on its own and retrieves badly.
const MIN_WORD_PIECES: usize = 48;

/// A document cut into passages, with the cleaned text their spans point into.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub text: String,
    pub passages: Vec<NewPassage>,
    pub duplicates: usize,
    pub word_pieces: usize,
}

/// Splits paragraphs into passages of at most `max_word_pieces` as counted by
/// `count`: a paragraph is one passage when it fits, otherwise it is cut at
/// sentence boundaries (and a sentence longer than the limit at word boundaries).
/// Repeated paragraphs are kept once. A paragraph marked in `section_starts`
/// (a heading, for formats that mark them) always starts a passage.
pub fn split(paragraphs: &[String], section_starts: &[bool], count: &dyn Fn(&str) -> usize, max_word_pieces: usize) -> Split {
    let mut seen = HashSet::new();
    let mut text = String::new();
    let mut duplicates = 0;
    let mut units: Vec<(Range<usize>, usize)> = Vec::new();
    // Byte offsets in `text` where a section starts.
    let mut boundaries: HashSet<usize> = HashSet::new();
    for (index, paragraph) in paragraphs.iter().enumerate() {
        if !seen.insert(duplicate_key(paragraph)) {
            duplicates += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let start = text.len();
        text.push_str(paragraph);
        if section_starts.get(index).copied().unwrap_or(false) {
            boundaries.insert(start);
        }
        // A short unit before this paragraph (a heading) must be able to join the
        // first piece, so leave room for it when the paragraph has to be cut.
        let budget = match units.last() {
            Some((_, pieces)) if *pieces < MIN_WORD_PIECES => max_word_pieces.saturating_sub(*pieces).max(max_word_pieces / 2),
            _ => max_word_pieces,
        };
        for piece in fit(paragraph, count, budget) {
            let range = start + piece.start..start + piece.end;
            units.push((range.clone(), count(&text[range])));
        }
    }
    let ranges = merge_short(&text, units, &boundaries, count, max_word_pieces);
    let mut word_pieces = 0;
    let passages = ranges
        .into_iter()
        .enumerate()
        .map(|(position, (range, pieces))| {
            word_pieces += pieces;
            let start = text[..range.start].chars().count();
            let passage = text[range].to_string();
            let end = start + passage.chars().count();
            NewPassage { text: passage, position, span: (start, end), page: None, section: None }
        })
        .collect();
    Split { text, passages, duplicates, word_pieces }
}

/// Byte ranges of `paragraph`, each within the limit.
fn fit(paragraph: &str, count: &dyn Fn(&str) -> usize, max: usize) -> Vec<Range<usize>> {
    if count(paragraph) <= max {
        return vec![0..paragraph.len()];
    }
    let mut pieces: Vec<Range<usize>> = Vec::new();
    for sentence in sentence_spans(paragraph) {
        let sentences = if count(&paragraph[sentence.clone()]) > max {
            cut_at_words(paragraph, sentence, count, max)
        } else {
            vec![sentence]
        };
        for sentence in sentences {
            match pieces.last_mut() {
                Some(last) if count(&paragraph[last.start..sentence.end]) <= max => last.end = sentence.end,
                _ => pieces.push(sentence),
            }
        }
    }
    pieces
}

fn cut_at_words(text: &str, range: Range<usize>, count: &dyn Fn(&str) -> usize, max: usize) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = range.start;
    let mut end = range.start;
    for (offset, word) in text[range.clone()].split_inclusive(char::is_whitespace).scan(range.start, |at, w| {
        let here = *at;
        *at += w.len();
        Some((here, w))
    }) {
        let word_end = offset + word.trim_end().len();
        if end > start && count(&text[start..word_end]) > max {
            pieces.push(start..end);
            start = offset;
        }
        end = word_end;
    }
    if end > start {
        pieces.push(start..end);
    }
    pieces
}

/// Joins passages under [`MIN_WORD_PIECES`] to the following one (a heading to
/// its section), or to the preceding one at the end of a document; never
/// across the start of a section.
fn merge_short(
    text: &str,
    units: Vec<(Range<usize>, usize)>,
    boundaries: &HashSet<usize>,
    count: &dyn Fn(&str) -> usize,
    max: usize,
) -> Vec<(Range<usize>, usize)> {
    let mut merged: Vec<(Range<usize>, usize)> = Vec::new();
    let mut pending: Option<(Range<usize>, usize)> = None;
    for unit in units {
        let current = match pending.take() {
            Some(short) if boundaries.contains(&unit.0.start) => {
                merged.push(short);
                unit
            }
            Some(short) => {
                let joined = short.0.start..unit.0.end;
                let pieces = count(&text[joined.clone()]);
                if pieces <= max {
                    (joined, pieces)
                } else {
                    merged.push(short);
                    unit
                }
            }
            None => unit,
        };
        if current.1 < MIN_WORD_PIECES {
            pending = Some(current);
        } else {
            merged.push(current);
        }
    }
    if let Some(short) = pending {
        match merged.last_mut() {
            Some(last) if !boundaries.contains(&short.0.start) && count(&text[last.0.start..short.0.end]) <= max => {
                last.0.end = short.0.end;
                last.1 = count(&text[last.0.clone()]);
            }
            _ => merged.push(short),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> usize {
        text.split_whitespace().count() + 2
    }

    #[test]
    fn long_paragraphs_are_cut_at_sentences_and_short_ones_joined() {
        let long = "One two three four five six. ".repeat(10);
        let paragraphs = vec!["Heading".to_string(), long.trim().to_string(), "Tail.".to_string()];
        let split = split(&paragraphs, &[], &words, 30);
        assert!(split.passages.iter().all(|p| words(&p.text) <= 30), "{:?}", split.passages);
        assert!(split.passages[0].text.starts_with("Heading\n\nOne two"));
        assert!(split.passages.last().unwrap().text.ends_with("Tail."));
        for p in &split.passages {
            let span: String = split.text.chars().skip(p.span.0).take(p.span.1 - p.span.0).collect();
            assert_eq!(span, p.text);
        }
        assert_eq!(split.passages.iter().map(|p| p.position).collect::<Vec<_>>(), (0..split.passages.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_heading_before_a_paragraph_that_fills_the_limit_still_joins_it() {
        let body = "One two three four five six seven. ".repeat(3);
        let paragraphs = vec!["A heading".to_string(), body.trim().to_string()];
        // The paragraph alone (3 × 7 words + 2) fits 30; with the heading it does not.
        let split = split(&paragraphs, &[], &words, 30);
        assert!(split.passages.iter().all(|p| words(&p.text) <= 30), "{:?}", split.passages);
        assert!(split.passages[0].text.starts_with("A heading\n\nOne two"), "{:?}", split.passages);
        assert!(split.passages.iter().all(|p| words(&p.text) > 4), "a heading stands alone: {:?}", split.passages);
    }

    #[test]
    fn short_sections_stay_apart() {
        let paragraphs: Vec<String> = ["Fares", "Paid on board.", "Safety", "Every passenger is counted."].map(String::from).to_vec();
        let split = split(&paragraphs, &[false, false, true, false], &words, 100);
        let texts: Vec<&str> = split.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Fares\n\nPaid on board.", "Safety\n\nEvery passenger is counted."]);
    }

    #[test]
    fn a_sentence_longer_than_the_limit_is_cut_at_words() {
        let sentence = "word ".repeat(100);
        let split = split(&[sentence.trim().to_string()], &[], &words, 30);
        assert!(split.passages.len() >= 4);
        assert!(split.passages.iter().all(|p| words(&p.text) <= 30));
    }

    #[test]
    fn near_duplicate_paragraphs_are_kept_once() {
        let paragraphs = ["The vote, on June 9.".to_string(), "the  vote on June 9".to_string(), "Other.".to_string()];
        let split = split(&paragraphs, &[], &words, 100);
        assert_eq!(split.duplicates, 1);
        assert!(!split.text.contains("the  vote"));
    }
}
