//! Answers as Slack messages (Block Kit): the answer as mrkdwn with its
//! footnote markers, the cited sources as a context block, and the feedback
//! buttons. Text from documents and users is escaped, and every message stays
//! inside Slack's limits, so a long answer is shortened rather than refused.

use footnote_answer::{AnswerBody, Citation};
use serde::Serialize;
use serde_json::{Value, json};

use crate::conversations::Rating;

/// Characters in one text object (section or context element).
pub const TEXT_LIMIT: usize = 3000;
/// Blocks in one message.
pub const BLOCK_LIMIT: usize = 50;
/// Elements in one context block.
pub const CONTEXT_ELEMENT_LIMIT: usize = 10;
/// Characters of a source's title shown before it is cut.
const TITLE_CHARS: usize = 150;

/// The `action_id`s of the feedback buttons; their `value` is the message id.
pub const VOTE_UP: &str = "feedback_up";
pub const VOTE_DOWN: &str = "feedback_down";

/// A message as `chat.postMessage` and `response_url` take it: `text` is the
/// notification and screen-reader fallback of the blocks.
#[derive(Debug, Clone, Serialize)]
pub struct SlackMessage {
    pub text: String,
    pub blocks: Vec<Value>,
}

/// A vote shown on an answer.
pub struct Vote<'a> {
    pub rating: Rating,
    pub user: &'a str,
}

/// Renders a stored answer; `message_id` goes into the buttons' values.
pub fn answer(message_id: &str, answer: &AnswerBody, citations: &[Citation], vote: Option<Vote>) -> SlackMessage {
    let mut blocks = Vec::new();
    // Room for the sources, the buttons and the vote.
    let answer_blocks = BLOCK_LIMIT - 3;
    if answer.abstained {
        blocks.push(section(format!(":grey_question: {}", escape(&answer.text))));
    } else {
        let pieces = answer.sentences.iter().map(|sentence| {
            let markers: Vec<String> = sentence.citations.iter().map(|n| format!("[{n}]")).collect();
            format!("{} {}", escape(&sentence.text), markers.join(""))
        });
        let mut sections = pack(pieces, TEXT_LIMIT);
        if sections.len() > answer_blocks {
            sections.truncate(answer_blocks);
            let last = sections.last_mut().expect("at least one section");
            cut_to(last, TEXT_LIMIT - 1);
            last.push('…');
        }
        blocks.extend(sections.into_iter().map(section));
    }
    if !citations.is_empty() {
        blocks.push(json!({ "type": "context", "elements": sources(citations) }));
    }
    blocks.push(buttons(message_id, vote.as_ref().map(|v| v.rating)));
    if let Some(vote) = vote {
        let line = match vote.rating {
            Rating::Up => format!(":+1: <@{}> found this helpful.", escape(vote.user)),
            Rating::Down => format!(":-1: <@{}> found this unhelpful.", escape(vote.user)),
        };
        blocks.push(json!({ "type": "context", "elements": [mrkdwn(line)] }));
    }
    SlackMessage { text: fallback(&answer.text), blocks }
}

/// What is posted when a question could not be answered.
pub fn apology() -> SlackMessage {
    let text = "Sorry, something went wrong while answering this. Please try again in a moment.";
    SlackMessage { text: text.to_string(), blocks: vec![section(format!(":warning: {text}"))] }
}

/// Plain text for users, e.g. the reply to an empty mention.
pub fn notice(text: &str) -> SlackMessage {
    SlackMessage { text: fallback(text), blocks: vec![section(escape(text))] }
}

/// Escapes the three characters Slack's mrkdwn reserves for its own markup
/// (links, mentions), as Slack asks of text from users and documents.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut escaped, c);
    }
    escaped
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// Slack's escaping undone, for the text of incoming messages.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": mrkdwn(text) })
}

fn mrkdwn(text: String) -> Value {
    debug_assert!(text.chars().count() <= TEXT_LIMIT);
    json!({ "type": "mrkdwn", "text": text })
}

/// One element per source, `[n] <url|title>`, with the last element standing
/// for the rest when there are more sources than a context block holds.
fn sources(citations: &[Citation]) -> Vec<Value> {
    let shown = if citations.len() > CONTEXT_ELEMENT_LIMIT { CONTEXT_ELEMENT_LIMIT - 1 } else { citations.len() };
    let mut elements: Vec<Value> = citations[..shown]
        .iter()
        .map(|citation| {
            let title = escape(&shorten(&citation.title, TITLE_CHARS));
            let label = match citation.source.as_deref().filter(|url| linkable(url)) {
                Some(url) => format!("<{url}|{title}>"),
                None => title,
            };
            mrkdwn(format!("*[{}]* {label}", citation.n))
        })
        .collect();
    if shown < citations.len() {
        let rest: Vec<String> = citations[shown..].iter().map(|c| format!("[{}]", c.n)).collect();
        let mut line = format!("and {} more: {}", rest.len(), rest.join(" "));
        cut_to(&mut line, TEXT_LIMIT);
        elements.push(mrkdwn(line));
    }
    elements
}

/// A source address Slack can show as a link: http(s), and nothing in it that
/// would end the link markup early.
fn linkable(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 1000
        && !url.chars().any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '|'))
}

fn buttons(message_id: &str, chosen: Option<Rating>) -> Value {
    let button = |rating: Rating, action_id: &str, label: &str| {
        let mut button = json!({
            "type": "button",
            "action_id": action_id,
            "text": { "type": "plain_text", "text": label, "emoji": true },
            "value": message_id,
        });
        if chosen == Some(rating) {
            button["style"] = json!(if rating == Rating::Up { "primary" } else { "danger" });
        }
        button
    };
    json!({
        "type": "actions",
        "block_id": "footnote_feedback",
        "elements": [
            button(Rating::Up, VOTE_UP, ":+1: Helpful"),
            button(Rating::Down, VOTE_DOWN, ":-1: Not helpful"),
        ],
    })
}

/// The notification text: the answer, escaped, cut to one text object.
fn fallback(text: &str) -> String {
    let mut escaped = escape(&shorten(text, TEXT_LIMIT));
    cut_to(&mut escaped, TEXT_LIMIT);
    escaped
}

/// Joins escaped pieces with spaces into texts of at most `limit` characters;
/// a piece longer than that is split, at a space where there is one.
fn pack(pieces: impl Iterator<Item = String>, limit: usize) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for piece in pieces {
        for part in split_long(&piece, limit) {
            let chars = part.chars().count();
            let joined = if current.is_empty() { chars } else { current_chars + 1 + chars };
            if joined > limit {
                texts.push(std::mem::take(&mut current));
                current_chars = 0;
            }
            if !current.is_empty() {
                current.push(' ');
                current_chars += 1;
            }
            current.push_str(&part);
            current_chars += chars;
        }
    }
    if !current.is_empty() || texts.is_empty() {
        texts.push(current);
    }
    texts
}

/// Splits escaped text into parts of at most `limit` characters without
/// cutting an entity (`&amp;`) in two, preferring to break at a space.
fn split_long(text: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.chars().count() > limit {
        let mut end = entity_safe_end(rest, rest.char_indices().nth(limit).map_or(rest.len(), |(i, _)| i));
        // Prefer the last space in the final fifth.
        let floor = rest.char_indices().nth(limit * 4 / 5).map_or(0, |(i, _)| i);
        if floor < end
            && let Some(space) = rest[floor..end].rfind(' ')
        {
            end = floor + space;
        }
        parts.push(rest[..end].trim_end().to_string());
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

/// `end`, or the start of the entity it would cut: in escaped text every `&`
/// begins an entity that its `;` closes.
fn entity_safe_end(text: &str, end: usize) -> usize {
    match text[..end].rfind('&') {
        Some(amp) if !text[amp..end].contains(';') => amp,
        _ => end,
    }
}

/// The first `limit` characters of `text`, with `…` when it was longer.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut short: String = text.chars().take(limit - 1).collect();
    short.push('…');
    short
}

/// Cuts escaped text to at most `limit` characters, not inside an entity.
fn cut_to(text: &mut String, limit: usize) {
    if let Some((end, _)) = text.char_indices().nth(limit) {
        let end = entity_safe_end(text, end);
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use footnote_answer::AnswerSentence;

    fn citation(n: usize, title: &str, source: Option<&str>) -> Citation {
        Citation {
            n,
            passage_id: format!("doc{n}#0"),
            doc_id: format!("doc{n}"),
            title: title.into(),
            source: source.map(Into::into),
            text: "passage".into(),
            score: 0.5,
            support: Some(0.9),
            position: 0,
            page: None,
            highlights: Vec::new(),
        }
    }

    fn body(sentences: &[(&str, usize)]) -> AnswerBody {
        AnswerBody {
            text: sentences.iter().map(|(s, n)| format!("{s} [{n}]")).collect::<Vec<_>>().join(" "),
            abstained: false,
            sentences: sentences.iter().map(|(s, n)| AnswerSentence { text: s.to_string(), citations: vec![*n] }).collect(),
            ..AnswerBody::default()
        }
    }

    fn texts(message: &SlackMessage) -> Vec<String> {
        let mut texts = Vec::new();
        for block in &message.blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                texts.push(text.to_string());
            }
            for element in block["elements"].as_array().into_iter().flatten() {
                if let Some(text) = element["text"].as_str() {
                    texts.push(text.to_string());
                }
            }
        }
        texts
    }

    fn assert_within_limits(message: &SlackMessage) {
        assert!(message.blocks.len() <= BLOCK_LIMIT, "{} blocks", message.blocks.len());
        for text in texts(message) {
            assert!(text.chars().count() <= TEXT_LIMIT, "{} characters", text.chars().count());
            // No entity cut in two.
            for (i, _) in text.match_indices('&') {
                assert!(["&amp;", "&lt;", "&gt;"].iter().any(|e| text[i..].starts_with(e)), "broken entity in {text:?}");
            }
        }
        for block in &message.blocks {
            if block["type"] == "context" {
                assert!(block["elements"].as_array().unwrap().len() <= CONTEXT_ELEMENT_LIMIT);
            }
        }
        assert!(message.text.chars().count() <= TEXT_LIMIT);
    }

    #[test]
    fn markup_characters_from_documents_are_escaped() {
        let message = answer(
            "m1",
            &body(&[("Profits rose <sharply> & fast.", 1)]),
            &[citation(1, "Q&A <draft>", Some("https://example.com/q?a=1&b=2"))],
            None,
        );
        assert_eq!(message.blocks[0]["text"]["text"], "Profits rose &lt;sharply&gt; &amp; fast. [1]");
        assert_eq!(message.blocks[1]["elements"][0]["text"], "*[1]* <https://example.com/q?a=1&b=2|Q&amp;A &lt;draft&gt;>");
        assert_eq!(message.text, "Profits rose &lt;sharply&gt; &amp; fast. [1]");
        let up = &message.blocks[2]["elements"][0];
        assert_eq!((up["action_id"].as_str(), up["value"].as_str()), (Some(VOTE_UP), Some("m1")));
    }

    #[test]
    fn sources_without_a_usable_url_show_their_title() {
        let message = answer(
            "m1",
            &body(&[("One.", 1), ("Two.", 2)]),
            &[citation(1, "Local notes", None), citation(2, "Odd", Some("javascript:alert(1)"))],
            None,
        );
        let sources: Vec<&str> = message.blocks[1]["elements"].as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap()).collect();
        assert_eq!(sources, ["*[1]* Local notes", "*[2]* Odd"]);
    }

    #[test]
    fn an_answer_over_every_limit_is_shortened_not_refused() {
        let long_sentence = "word & ".repeat(2000);
        let many: Vec<(String, usize)> = (1..=400).map(|n| (format!("{long_sentence}{n}."), n)).collect();
        let many: Vec<(&str, usize)> = many.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        let citations: Vec<Citation> =
            (1..=400).map(|n| citation(n, &"A very long title <with markup> ".repeat(20), Some("https://example.com/doc"))).collect();
        let message = answer("m1", &body(&many), &citations, Some(Vote { rating: Rating::Down, user: "U1" }));
        assert_within_limits(&message);
        assert_eq!(message.blocks.len(), BLOCK_LIMIT);
        let sources = &message.blocks[BLOCK_LIMIT - 3]["elements"];
        assert_eq!(sources.as_array().unwrap().len(), CONTEXT_ELEMENT_LIMIT);
        assert!(sources[9]["text"].as_str().unwrap().starts_with("and 391 more: [10] [11]"));
        assert!(message.blocks[BLOCK_LIMIT - 4]["text"]["text"].as_str().unwrap().ends_with('…'));
        assert_eq!(message.blocks[BLOCK_LIMIT - 2]["elements"][1]["style"], "danger");
        assert_eq!(message.blocks[BLOCK_LIMIT - 1]["elements"][0]["text"], ":-1: <@U1> found this unhelpful.");
    }

    #[test]
    fn one_sentence_longer_than_a_text_object_is_split_at_spaces_and_never_inside_an_entity() {
        for filler in ["a&b ", "<<<<", "x", "&"] {
            let sentence = filler.repeat(4000);
            let message = answer("m1", &body(&[(&sentence, 1)]), &[citation(1, "T", None)], None);
            assert_within_limits(&message);
            let joined: String = message.blocks.iter().filter_map(|b| b["text"]["text"].as_str()).collect::<Vec<_>>().join(" ");
            let expected = format!("{} [1]", escape(&sentence));
            assert_eq!(
                joined.split_whitespace().collect::<String>(),
                expected.split_whitespace().collect::<String>(),
                "nothing lost for {filler:?}"
            );
        }
    }

    #[test]
    fn an_abstention_reads_as_one_and_keeps_the_buttons() {
        let abstention =
            AnswerBody { text: "The documents don't cover this.".into(), abstained: true, ..AnswerBody::default() };
        let message = answer("m2", &abstention, &[], None);
        assert_eq!(message.blocks.len(), 2);
        assert!(message.blocks[0]["text"]["text"].as_str().unwrap().contains("don't cover this"));
        assert_eq!(message.blocks[1]["type"], "actions");
    }

    #[test]
    fn incoming_text_is_unescaped() {
        assert_eq!(unescape("a &lt;b&gt; &amp;amp;"), "a <b> &amp;");
    }
}
