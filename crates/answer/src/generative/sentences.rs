//! Cuts a model's streamed text into sentences as they complete, so that each
//! can be verified and shown while the model is still writing.
//!
//! A sentence ends at `.`, `!` or `?` (with any closing quotes) followed by
//! white space, or at a line break; the citation markers right after its
//! full stop ("… in 2019. [1] Next …") belong to it. A sentence is complete
//! only once the text after it has begun, since more markers may follow.

use std::sync::LazyLock;

/// Words whose full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &["mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "no", "jr", "sr", "inc", "ltd", "co", "gen", "gov", "sen", "rep"];

static MARKERS: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"^\s*(\[\s*\d+(\s*[,;]\s*\d+)*\s*\]\s*)+").expect("valid regex"));

/// A marker still arriving: "[", "[1", "[1, 2".
static PARTIAL_MARKER: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"^\s*\[[\d\s,;]*$").expect("valid regex"));

#[derive(Debug, Default)]
pub struct SentenceStream {
    buffer: String,
}

impl SentenceStream {
    /// Adds a piece of text; returns the sentences it completed.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.buffer.push_str(piece);
        let mut sentences = Vec::new();
        while let Some(end) = complete_sentence_end(&self.buffer) {
            let sentence = self.buffer[..end].trim().to_string();
            self.buffer.drain(..end);
            if !sentence.is_empty() {
                sentences.push(sentence);
            }
        }
        sentences
    }

    /// The rest of the text, once the model has finished.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }
}

/// Where the first sentence of `text` ends, markers included, if the text
/// after it has begun.
fn complete_sentence_end(text: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let terminal = matches!(c, '.' | '!' | '?' | '…');
        if c == '\n' {
            if text[..at].trim().is_empty() {
                continue;
            }
            // A line ends a sentence unless only markers follow on the next line.
            let rest = &text[at..];
            let markers = MARKERS.find(rest).map_or(0, |m| m.end());
            let after = &rest[markers..];
            if after.trim().is_empty() {
                return None;
            }
            return Some(at + markers);
        }
        if !terminal {
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | '"' | '\'' | '”' | '’' | ')') {
            j += 1;
        }
        let Some(&(next_at, next)) = chars.get(j) else {
            return None; // the text may go on
        };
        if !(next.is_whitespace() || next == '[') || (c == '.' && is_abbreviation(&text[..at])) {
            continue;
        }
        let rest = &text[next_at..];
        let markers = MARKERS.find(rest).map_or(0, |m| m.end());
        let after = &rest[markers..];
        if after.trim().is_empty() || PARTIAL_MARKER.is_match(after) {
            return None; // more markers, or the next sentence, may follow
        }
        return Some(next_at + markers);
    }
    None
}

fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let lower = word.to_lowercase();
    // An initial ("J. Smith") or a known abbreviation.
    (word.chars().count() == 1 && word.chars().all(char::is_uppercase)) || ABBREVIATIONS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&str]) -> Vec<String> {
        let mut stream = SentenceStream::default();
        let mut out: Vec<String> = pieces.iter().flat_map(|p| stream.push(p)).collect();
        out.extend(stream.finish());
        out
    }

    #[test]
    fn sentences_end_after_their_markers() {
        let text = "Tokayev took office on 20 March 2019. [1] He was elected in June [2]. Turnout was 77.5% [1][2]. Dr. Smith said so.";
        let expected = ["Tokayev took office on 20 March 2019. [1]", "He was elected in June [2].", "Turnout was 77.5% [1][2].", "Dr. Smith said so."];
        assert_eq!(split(&[text]), expected);
        // The same text arriving a few characters at a time.
        let chars: Vec<char> = text.chars().collect();
        let pieces: Vec<String> = chars.chunks(3).map(|c| c.iter().collect()).collect();
        assert_eq!(split(&pieces.iter().map(String::as_str).collect::<Vec<_>>()), expected);
    }

    #[test]
    fn a_sentence_waits_for_what_follows() {
        let mut stream = SentenceStream::default();
        assert!(stream.push("It was held in 2019.").is_empty());
        assert!(stream.push(" [1]").is_empty());
        assert_eq!(stream.push(" Then"), ["It was held in 2019. [1]"]);
        assert_eq!(stream.finish().as_deref(), Some("Then"));
    }

    #[test]
    fn lines_are_sentences() {
        assert_eq!(split(&["- first point [1]\n- second point\n[2]\n"]), ["- first point [1]", "- second point\n[2]"]);
    }
}
