//! Repairs the damage real documents arrive with, as general rules: text decoded
//! in the wrong code page, ligature glyphs mangled by PDF extraction, replacement
//! characters, letter-spaced headings, web chrome, reference lists, words
//! hyphenated across lines, hard-wrapped lines and paragraphs broken by page
//! furniture, and footnote numbers glued to words.
//!
//! The output is a list of paragraphs. Rules that must guess (is this a word?) ask
//! a [`Lexicon`]: the embedding model's vocabulary plus the document's own words.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

/// Known words, lower case. Used to choose between repairs, never to reject text.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    words: HashSet<String>,
}

impl Lexicon {
    pub fn new(words: impl IntoIterator<Item = String>) -> Self {
        Lexicon { words: words.into_iter().map(|w| w.to_lowercase()).collect() }
    }

    fn contains(&self, word: &str) -> bool {
        self.words.contains(&word.to_lowercase())
    }
}

/// What cleaning changed, for the ingest report and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repairs {
    pub mojibake_words: usize,
    pub glyphs: usize,
    pub replacement_chars: usize,
    pub hyphenations: usize,
    pub footnote_marks: usize,
    pub chrome_lines: usize,
    pub reference_entries: usize,
}

#[derive(Debug, Default, Clone)]
pub struct Cleaned {
    pub paragraphs: Vec<String>,
    pub repairs: Repairs,
}

/// The lexicon in force for one document: the shared one plus the document's words.
struct Known<'a> {
    lexicon: &'a Lexicon,
    document: HashSet<String>,
}

impl Known<'_> {
    fn contains(&self, word: &str) -> bool {
        self.lexicon.contains(word) || self.document.contains(&word.to_lowercase())
    }
}

pub fn clean(raw: &str, lexicon: &Lexicon) -> Cleaned {
    let mut repairs = Repairs::default();
    let text = normalise_characters(raw);
    let text = repair_mojibake(&text, &mut repairs);
    let known = Known { lexicon, document: document_words(&text) };
    let text = repair_glyphs(&text, &known, &mut repairs);
    repairs.replacement_chars = text.matches('\u{FFFD}').count();
    let text = text.replace('\u{FFFD}', " ");

    let blocks = blocks(&text);
    let blocks = drop_chrome(blocks, &mut repairs);
    let blocks = drop_references(blocks, &mut repairs);
    let mut paragraphs: Vec<String> = Vec::new();
    for block in blocks {
        paragraphs.extend(join_lines(&block, &known, &mut repairs));
    }
    let paragraphs = restore_drop_caps(paragraphs, &known, &mut repairs);
    let paragraphs = join_broken_paragraphs(paragraphs, &known, &mut repairs);
    let names = recurring_glued_numbers(&paragraphs);
    let paragraphs = paragraphs
        .into_iter()
        .map(|p| collapse_whitespace(&strip_footnote_marks(&p, &names, &mut repairs)))
        .filter(|p| p.chars().any(char::is_alphabetic))
        .collect();
    Cleaned { paragraphs, repairs }
}

/// Unicode spaces become spaces, invisible characters go, and the typographic
/// ligature code points (U+FB00–FB06) are spelled out.
fn normalise_characters(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => out.push(' '),
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            '\u{FB00}' => out.push_str("ff"),
            '\u{FB01}' => out.push_str("fi"),
            '\u{FB02}' => out.push_str("fl"),
            '\u{FB03}' => out.push_str("ffi"),
            '\u{FB04}' => out.push_str("ffl"),
            '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
            _ => out.push(c),
        }
    }
    out
}

/// Cyrillic text decoded as Latin-1 shows as words made only of `À`–`ÿ`
/// ("íîÿáðÿ"); re-encoding such a word as Latin-1 and decoding it as
/// Windows-1251 gives the original ("ноября"). Words that mix in ASCII letters,
/// like French "été", are left alone.
fn repair_mojibake(text: &str, repairs: &mut Repairs) -> String {
    static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\p{L}+").expect("valid regex"));
    let is_latin1_high = |c: char| matches!(c, '\u{00C0}'..='\u{00FF}' | '\u{00A8}' | '\u{00B8}');
    WORD.replace_all(text, |caps: &regex::Captures| {
        let word = &caps[0];
        if word.chars().count() >= 3 && word.chars().all(is_latin1_high) {
            let bytes: Vec<u8> = word.chars().map(|c| c as u32 as u8).collect();
            let (decoded, _, errors) = encoding_rs::WINDOWS_1251.decode(&bytes);
            if !errors && decoded.chars().all(|c| matches!(c, 'А'..='я' | 'Ё' | 'ё')) {
                repairs.mojibake_words += 1;
                return decoded.into_owned();
            }
        }
        word.to_string()
    })
    .into_owned()
}

/// A character that cannot be part of a word in running text: a noncharacter or
/// private-use code point, or an upper-case non-ASCII letter inside a lower-case
/// ASCII word. PDF extractors emit these for ligature glyphs they cannot map.
fn is_suspect_glyph(c: char) -> bool {
    let cp = c as u32;
    (0xFDD0..=0xFDEF).contains(&cp)
        || (cp & 0xFFFE) == 0xFFFE
        || (0xE000..=0xF8FF).contains(&cp)
        || cp >= 0xF0000
}

fn is_misplaced_capital(prev: Option<char>, c: char, next: Option<char>) -> bool {
    !c.is_ascii() && c.is_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase()) && next.is_some_and(|n| n.is_ascii_lowercase())
}

const LIGATURES: [&str; 5] = ["fi", "fl", "ff", "ffi", "ffl"];

/// Finds, for each mangled glyph in the document, the ligature that turns the most
/// words containing it into known words, then substitutes it everywhere. A glyph
/// that no ligature explains is removed rather than left in the text.
fn repair_glyphs(text: &str, known: &Known, repairs: &mut Repairs) -> String {
    let chars: Vec<char> = text.chars().collect();
    let glyph_at = |i: usize| {
        let c = chars[i];
        is_suspect_glyph(c) || is_misplaced_capital(i.checked_sub(1).map(|j| chars[j]), c, chars.get(i + 1).copied())
    };
    let word_char = |c: char| c.is_alphabetic() || is_suspect_glyph(c);
    // Words containing each glyph.
    let mut words: HashMap<char, HashSet<String>> = HashMap::new();
    let mut i = 0;
    while i < chars.len() {
        if !word_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && word_char(chars[i]) {
            i += 1;
        }
        for j in start..i {
            if glyph_at(j) {
                words.entry(chars[j]).or_default().insert(chars[start..i].iter().collect());
            }
        }
    }
    let mut mapping: HashMap<char, &str> = HashMap::new();
    for (glyph, words) in &words {
        let best = LIGATURES
            .iter()
            .map(|lig| (words.iter().filter(|w| known.contains(&w.replace(*glyph, lig))).count(), *lig))
            .max_by_key(|(hits, _)| *hits);
        match best {
            Some((hits, lig)) if hits > 0 => {
                mapping.insert(*glyph, lig);
            }
            _ if is_suspect_glyph(*glyph) => {
                mapping.insert(*glyph, "");
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        match mapping.get(&c) {
            Some(replacement) if glyph_at(i) => {
                repairs.glyphs += 1;
                out.push_str(replacement);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Lower-cased words of the document that stand whole (not broken at a line end).
fn document_words(text: &str) -> HashSet<String> {
    static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\p{L}{2,}(?:[^\p{L}\-\n]|$)").expect("valid regex"));
    WORD.find_iter(text)
        .map(|m| m.as_str().trim_end_matches(|c: char| !c.is_alphabetic()).to_lowercase())
        .collect()
}

/// Blocks of consecutive non-blank lines, trimmed, letter-spaced headings closed
/// up. An indented line after a sentence end also starts a block: that is how
/// PDF text marks a new paragraph without a blank line.
fn blocks(text: &str) -> Vec<Vec<String>> {
    static SPACED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:\p{L} ){3,}\p{L}$").expect("valid regex"));
    let mut blocks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for raw_line in text.lines() {
        let line = collapse_whitespace(raw_line);
        let indented = raw_line.starts_with(char::is_whitespace);
        let paragraph_starts = indented && current.last().is_some_and(|l| ends_sentence(l));
        if line.is_empty() || paragraph_starts {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            if line.is_empty() {
                continue;
            }
        }
        let line = if SPACED.is_match(&line) { line.replace(' ', "") } else { line };
        current.push(line);
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// Lines that are page furniture wherever they appear.
fn is_chrome_line(line: &str) -> bool {
    static MENU: &[&str] = &[
        "skip to main content", "skip to content", "skip navigation", "search", "menu", "home", "top",
        "back to top", "to top", "reports", "share", "print", "subscribe", "sign in", "log in", "login",
        "register", "read more", "more", "next", "previous", "related", "tags", "comments", "video url",
        "legal footer", "cookie settings", "accept cookies", "rus", "eng", "en", "ru", "kaz", "de", "fr",
        "facebook", "twitter", "linkedin", "telegram", "email", "contact us", "about us", "newsletter",
    ];
    static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        [
            r"(?i)^(ph|tel|phone|fax|mob|mobile)\b[./: ]",
            r"^\+?[\d\s().\-/]{7,}$",
            r"(?i)^e-?mail\s*:",
            r"^[\w.+-]+@[\w-]+\.[\w.]+$",
            r"(?i)©|\bcopyright\b|\ball rights reserved\b|\brights\b.*\b(reserved|reside)\b|\breprint of materials\b",
            r"(?i)^(photo|image|picture|credit)s?\s*:",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("valid regex"))
        .collect()
    });
    let lower = line.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    if !line.chars().any(char::is_alphabetic) {
        return true;
    }
    MENU.contains(&lower.as_str()) || PATTERNS.iter().any(|re| re.is_match(line)) || is_address(line)
}

/// A postal address: a street-ish word, a number and at least two commas.
fn is_address(line: &str) -> bool {
    static STREET: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(str|st|ave|bldg|blvd|floor|suite|office|road|rd|street|avenue|premise)\b\.?").expect("valid regex")
    });
    line.matches(',').count() >= 2 && line.chars().any(|c| c.is_ascii_digit()) && STREET.is_match(line) && line.split_whitespace().count() <= 25
}

/// A short line that is not a sentence: menus and footers are made of these.
fn is_short_fragment(line: &str) -> bool {
    line.split_whitespace().count() <= 4 && !ends_sentence(line)
}

/// Drops chrome lines, and whole blocks that are mostly chrome (a footer block
/// takes its company name and address with it).
fn drop_chrome(blocks: Vec<Vec<String>>, repairs: &mut Repairs) -> Vec<Vec<String>> {
    blocks
        .into_iter()
        .filter_map(|block| {
            let chrome = block.iter().filter(|l| is_chrome_line(l)).count();
            let furniture = block.iter().filter(|l| is_chrome_line(l) || is_short_fragment(l)).count();
            if chrome > 0 && block.len() >= 2 && furniture * 2 >= block.len() {
                repairs.chrome_lines += block.len();
                return None;
            }
            let kept: Vec<String> = block.into_iter().filter(|l| !is_chrome_line(l)).collect();
            repairs.chrome_lines += chrome;
            (!kept.is_empty()).then_some(kept)
        })
        .collect()
}

/// Drops reference lists and footnote blocks: numbered entries that cite (a URL,
/// "See:", "Ibid", page numbers), and the citation tails that page breaks split off them.
fn drop_references(blocks: Vec<Vec<String>>, repairs: &mut Repairs) -> Vec<Vec<String>> {
    static ENTRY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:\[?\d{1,3}[\].)]?\s+(?:see\b|ibid|quoted from|cited in|cf\.|\[?https?://|.*https?://)|see:|ibid)").expect("valid regex")
    });
    static CITATION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)https?://|\bpp?\.\s*\d|\d\s*pp\.|\bibid|\b(19|20)\d\d\.?$|\bpublishers?\b").expect("valid regex")
    });
    let mut kept = Vec::new();
    let mut after_reference = false;
    for block in blocks {
        let text = block.join(" ");
        let is_entry = ENTRY.is_match(&block[0]) || (text.split_whitespace().count() <= 2 && text.starts_with("http"));
        let is_tail = after_reference && CITATION.is_match(&text) && text.split_whitespace().count() < 40;
        if is_entry || is_tail {
            repairs.reference_entries += 1;
            after_reference = true;
        } else {
            after_reference = false;
            kept.push(block);
        }
    }
    kept
}

/// Sentence-final punctuation, allowing closing quotes and brackets after it.
fn ends_sentence(text: &str) -> bool {
    let trimmed = text.trim_end_matches(|c: char| matches!(c, '"' | '\'' | '”' | '’' | '»' | ')' | ']') || c.is_whitespace());
    trimmed.ends_with(['.', '!', '?', '…', ':', ';'])
}

fn starts_lowercase(text: &str) -> bool {
    text.trim_start_matches(|c: char| matches!(c, '"' | '\'' | '“' | '‘' | '«' | '(') || c.is_whitespace())
        .chars()
        .next()
        .is_some_and(char::is_lowercase)
}

fn starts_uppercase(text: &str) -> bool {
    text.chars().next().is_some_and(char::is_uppercase)
}

/// A title-case line of a few words with no sentence punctuation.
fn is_heading_like(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() <= 8
        && !ends_sentence(line)
        && !line.ends_with([',', '-'])
        && words.first().is_some_and(|w| starts_uppercase(w))
        && words.iter().filter(|w| starts_uppercase(w)).count() * 2 >= words.len()
}

/// Joins the hard-wrapped lines of a block into paragraphs. A heading line at the
/// top of a block (as PDF page headers and section titles arrive) stays its own
/// paragraph.
fn join_lines(block: &[String], known: &Known, repairs: &mut Repairs) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for (i, line) in block.iter().enumerate() {
        let next_starts_upper = block.get(i + 1).is_some_and(|l| starts_uppercase(l));
        let at_paragraph_start = current.is_empty() || ends_sentence(&current);
        if block.len() > 1 && at_paragraph_start && next_starts_upper && is_heading_like(line) {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            paragraphs.push(line.clone());
            continue;
        }
        current = join_wrapped(&current, line, known, repairs);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// Joins two pieces of one paragraph, closing up a word hyphenated across the
/// break when the joined word is known or its halves are not both words
/// ("democrati-" + "zation"), and keeping the hyphen of a real compound
/// ("well-" + "balanced").
fn join_wrapped(left: &str, right: &str, known: &Known, repairs: &mut Repairs) -> String {
    if left.is_empty() {
        return right.to_string();
    }
    if let Some(stem) = left.strip_suffix('-') {
        let head: String = stem.chars().rev().take_while(|c| c.is_alphabetic()).collect::<Vec<_>>().into_iter().rev().collect();
        let tail: String = right.chars().take_while(|c| c.is_alphabetic()).collect();
        if !head.is_empty() && !tail.is_empty() && tail.starts_with(char::is_lowercase) {
            repairs.hyphenations += 1;
            let joined = format!("{head}{tail}");
            let compound = !known.contains(&joined) && known.contains(&head) && known.contains(&tail);
            return if compound { format!("{left}{right}") } else { format!("{stem}{right}") };
        }
    }
    format!("{left} {right}")
}

/// Whether `next` reads as the rest of a sentence that `previous` left open:
/// it starts in lower case, or with a number after a comma ("on 19 March," / "2019 he").
fn continues(previous: &str, next: &str) -> bool {
    starts_lowercase(next) || (previous.ends_with(',') && next.starts_with(|c: char| c.is_ascii_digit()))
}

/// PDF extraction loses a decorated initial ("azakhstan has been following"):
/// at the start of a document or section, a first word that is unknown but
/// becomes a known word with exactly one capital in front gets it back.
fn restore_drop_caps(mut paragraphs: Vec<String>, known: &Known, repairs: &mut Repairs) -> Vec<String> {
    for i in 0..paragraphs.len() {
        let after_heading = i == 0 || is_heading_like(&paragraphs[i - 1]);
        let word: String = paragraphs[i].chars().take_while(|c| c.is_alphabetic()).collect();
        if !after_heading || word.chars().count() < 3 || !word.starts_with(char::is_lowercase) || known.lexicon.contains(&word) {
            continue;
        }
        let candidates: Vec<char> = ('A'..='Z').filter(|c| known.contains(&format!("{c}{word}"))).collect();
        if let [capital] = candidates[..] {
            paragraphs[i].insert(0, capital);
            repairs.glyphs += 1;
        }
    }
    paragraphs
}

/// Joins a paragraph to the next when a page break or stray blank line split a
/// sentence: the first does not end a sentence and the next starts in lower case.
fn join_broken_paragraphs(paragraphs: Vec<String>, known: &Known, repairs: &mut Repairs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for paragraph in paragraphs {
        match out.last_mut() {
            Some(previous) if !ends_sentence(previous) && continues(previous, &paragraph) => {
                *previous = join_wrapped(previous, &paragraph, known, repairs);
            }
            _ => out.push(paragraph),
        }
    }
    out
}

static GLUED_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\p{Ll}{3,})\d{1,2}([\s,;:.)”’]|$)").expect("valid regex"));

/// Words with a number glued on that occur more than once ("mp34", "web2"):
/// names, not footnote references, which a document numbers only once.
fn recurring_glued_numbers(paragraphs: &[String]) -> HashSet<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for paragraph in paragraphs {
        for caps in GLUED_NUMBER.captures_iter(paragraph) {
            let token = caps[0].trim_end_matches(|c: char| !c.is_alphanumeric()).to_string();
            *counts.entry(token).or_default() += 1;
        }
    }
    counts.into_iter().filter(|(_, n)| *n > 1).map(|(token, _)| token).collect()
}

/// Removes footnote references: bracketed numbers ("majority. [1]"), and one or
/// two digits glued to the end of a lower-case word or to sentence punctuation
/// ("parties1 or", "Kazakhstan.3"). Numbers after a space, inside or after
/// capitalised words, after digits, or glued to a word more than once in the
/// document ("COVID-19", "81.31%", "Internet2") are left alone.
fn strip_footnote_marks(paragraph: &str, names: &HashSet<String>, repairs: &mut Repairs) -> String {
    static BRACKETED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s?\[\d{1,3}\]").expect("valid regex"));
    static AFTER_PUNCT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"([\p{Ll})”’][.,;:])\d{1,2}(\s|$)").expect("valid regex"));
    let mut count = BRACKETED.find_iter(paragraph).count();
    let text = BRACKETED.replace_all(paragraph, "");
    let text = GLUED_NUMBER.replace_all(&text, |caps: &regex::Captures| {
        let token = caps[0].trim_end_matches(|c: char| !c.is_alphanumeric());
        if names.contains(token) {
            caps[0].to_string()
        } else {
            count += 1;
            format!("{}{}", &caps[1], &caps[2])
        }
    });
    count += AFTER_PUNCT.find_iter(&text).count();
    let text = AFTER_PUNCT.replace_all(&text, "$1$2");
    repairs.footnote_marks += count;
    text.into_owned()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let words = "influence conflict figure first five fit official specific the a of and president became \
                     central well balanced country political democratization elected regional";
        Lexicon::new(words.split_whitespace().map(String::from))
    }

    fn paragraphs(raw: &str) -> Vec<String> {
        clean(raw, &lexicon()).paragraphs
    }

    #[test]
    fn ligature_glyphs_are_learned_from_known_words() {
        let raw = "the multifaceted inÀuence of regional elites; a conÀict of interests; the central \u{3FFFF}gure, \
                   the \u{3FFFF}rst president and of\u{3FFFF}cial status.";
        let cleaned = clean(raw, &lexicon());
        assert_eq!(
            cleaned.paragraphs,
            ["the multifaceted influence of regional elites; a conflict of interests; the central figure, \
              the first president and official status."]
        );
        assert_eq!(cleaned.repairs.glyphs, 5);
    }

    #[test]
    fn accented_capitals_in_real_words_are_kept() {
        assert_eq!(paragraphs("À la carte, and Émile said ÀÉ."), ["À la carte, and Émile said ÀÉ."]);
    }

    #[test]
    fn replacement_characters_become_spaces() {
        assert_eq!(paragraphs("the\u{FFFD}president\u{FFFD}became\u{FFFD}central."), ["the president became central."]);
    }

    #[test]
    fn latin1_mojibake_of_cyrillic_is_decoded() {
        let cleaned = clean("22 íîÿáðÿ 2022 and café été", &lexicon());
        assert_eq!(cleaned.paragraphs, ["22 ноября 2022 and café été"]);
        assert_eq!(cleaned.repairs.mojibake_words, 1);
    }

    #[test]
    fn hyphenation_and_hard_wraps_are_joined() {
        let raw = "it did not opt for total democrati-\nzation as the president be-\ncame central; a well-\nbalanced\npolicy.";
        assert_eq!(
            paragraphs(raw),
            ["it did not opt for total democratization as the president became central; a well-balanced policy."]
        );
    }

    #[test]
    fn a_sentence_split_by_a_page_break_is_rejoined_around_footnotes() {
        let raw = "A new parliament was elec-\n\n1 See: E.T. Seylekhanov, Politicheskaia systema, Almaty, 2009, p. 62.\n\n\
                   2 See: R.N. Zhanguzhin, Kazakhstan postsovetskiy, Kiev, 2002, p. 129.\n2010, p. 199.\n\n\
                   zer, Research Institute at the Kazakh-German University, Almaty,\n2016, 248 pp.\n\n\
                   23 Quoted from: A. Ivanov, “Prezidentskie vybory” Kursiv, 4 April, 2019,\npp. 1, 2.\n\n ted at the same time.";
        let cleaned = clean(raw, &lexicon());
        assert_eq!(cleaned.paragraphs, ["A new parliament was elected at the same time."]);
        assert_eq!(cleaned.repairs.reference_entries, 4);
    }

    #[test]
    fn footnote_numbers_glued_to_words_are_removed() {
        let raw = "with the opposition parties1 or the legislature2 and a referendum.3 The clans9 locked; \
                   81% majority. [1] COVID-19 and G20 and 81.31% and Internet2 and web2, web2 stay.";
        assert_eq!(
            paragraphs(raw),
            ["with the opposition parties or the legislature and a referendum. The clans locked; \
              81% majority. COVID-19 and G20 and 81.31% and Internet2 and web2, web2 stay."]
        );
    }

    #[test]
    fn web_chrome_is_dropped() {
        let raw = "Skip to main content\n\nRUS\nGlobal perspective through the lens of regional issues\nRUS\nSearch\nReports\n\n\
                   The article text starts here.\n\n16+\n4 office, 5 floor, 2 Novodmitrovskaya Str., 2 bldg., Moscow, Russia 127015.\n\
                   Savyolovsky City Business Center, Davis Tower\nPh. +7 (495) 767-81-36\nE-mail: info@example.org\n\
                   © 2022-2024, Example Institute\ntop\n\nVideo URL\n\nThe article goes on.";
        let cleaned = clean(raw, &lexicon());
        assert_eq!(cleaned.paragraphs, ["The article text starts here.", "The article goes on."]);
    }

    #[test]
    fn reference_lists_are_dropped() {
        let raw = "Body text.\n\n1. CEC: Tokayev wins. RBC, 21.11.2022. https://www.rbc.ru/politics/21/11/2022/1\n\n\
                   2. «Fair Kazakhstan». 28.10.2022. https://example.org/2";
        assert_eq!(paragraphs(raw), ["Body text."]);
    }

    #[test]
    fn letter_spaced_headings_and_page_headings_become_paragraphs() {
        let raw = " A B S T R A C T\n\nC o n c l u s i o n\n\n Political Construction Kit\nRedistribution of power created a\nsystem.";
        assert_eq!(paragraphs(raw), ["ABSTRACT", "Conclusion", "Political Construction Kit", "Redistribution of power created a system."]);
    }

    #[test]
    fn an_indented_line_after_a_sentence_starts_a_paragraph() {
        let raw = "working hard to resolve the problem.\n In 2019, Tokayev won\nthe elections.";
        assert_eq!(paragraphs(raw), ["working hard to resolve the problem.", "In 2019, Tokayev won the elections."]);
    }

    #[test]
    fn a_lost_drop_cap_is_restored_from_known_words() {
        let raw = "A B S T R A C T\n\n  azakhstan has been following its own path.\n\nKazakhstan took time.";
        assert_eq!(paragraphs(raw), ["ABSTRACT", "Kazakhstan has been following its own path.", "Kazakhstan took time."]);
    }

    #[test]
    fn quotes_split_from_their_attribution_are_rejoined() {
        let raw = "“Political rights are secondary,”\n\nshe emphasized.\n\nAs she said,\n\n“in Kazakhstan, it works.”\n\non 19 March,\n\n2019 he stepped down.";
        assert_eq!(
            paragraphs(raw),
            ["“Political rights are secondary,” she emphasized.", "As she said, “in Kazakhstan, it works.”", "on 19 March, 2019 he stepped down."]
        );
    }
}
