//! Plain-text segmentation shared by ingestion (cutting passages) and answering
//! (picking sentences to cite).

use std::ops::Range;

/// The key two passages share when they differ only in case, whitespace or
/// punctuation: ingestion keeps one paragraph per key within a document, and
/// retrieval shows one passage per key across documents.
pub fn duplicate_key(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Words after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "eg", "ie", "no", "nos", "vol",
    "fig", "p", "pp", "ed", "eds", "cf", "approx", "dept", "gen", "gov", "sen", "rep", "inc", "ltd", "co", "corp",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "al",
    "lt", "col", "capt", "sgt", "rev", "hon", "est", "ca", "c",
];

/// Byte ranges of the sentences in `text`. A sentence ends at `.`, `!`, `?` or
/// `…` (with any closing quotes or brackets) before white space and a capital,
/// digit or opening quote; not after a known abbreviation or a lone initial
/// ("E. T. Seylekhanov"). A blank line always ends a sentence.
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = skip_space(text, 0);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\n' && chars.get(i + 1).is_some_and(|&(_, n)| n == '\n') {
            if at > start {
                push_span(text, &mut spans, start, at);
            }
            start = start.max(skip_space(text, at));
            i += 1;
            continue;
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | '»' | ')' | ']') {
            j += 1;
        }
        let end = chars.get(j).map_or(text.len(), |&(b, _)| b);
        let followed_by_space = j >= chars.len() || chars[j].1.is_whitespace();
        let mut k = j;
        while k < chars.len() && chars[k].1.is_whitespace() {
            k += 1;
        }
        let next_starts = k >= chars.len()
            || chars[k].1.is_uppercase()
            || chars[k].1.is_ascii_digit()
            || matches!(chars[k].1, '"' | '\'' | '“' | '‘' | '«' | '(' | '[');
        if followed_by_space && next_starts && !(c == '.' && is_abbreviation(&text[start..at])) {
            push_span(text, &mut spans, start, end);
            start = chars.get(k).map_or(text.len(), |&(b, _)| b);
        }
        i = j.max(i + 1);
    }
    push_span(text, &mut spans, start, text.len());
    spans
}

fn skip_space(text: &str, from: usize) -> usize {
    text[from..].find(|c: char| !c.is_whitespace()).map_or(text.len(), |o| from + o)
}

fn push_span(text: &str, spans: &mut Vec<Range<usize>>, start: usize, end: usize) {
    let trimmed_end = start + text[start..end].trim_end().len();
    if trimmed_end > start {
        spans.push(start..trimmed_end);
    }
}

fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let single_initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    single_initial || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_respect_abbreviations_initials_and_quotes() {
        let text = "See E. T. Seylekhanov, p. 62 of the U.S. report. “It was early,” he said. Then 2019 came!\n\nNew one";
        let sentences: Vec<&str> = sentence_spans(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            sentences,
            ["See E. T. Seylekhanov, p. 62 of the U.S. report.", "“It was early,” he said.", "Then 2019 came!", "New one"]
        );
    }

}
