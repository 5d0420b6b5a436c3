//! Follow-up questions ("and in 2019?") name nothing to search for; they borrow
//! the subject of the conversation.

use crate::Turn;

/// Words that open a question continuing the previous one.
const CONTINUATIONS: &[&str] = &["and", "but", "also", "what about", "how about", "so", "then", "or"];

/// Words that point back at something said before.
const REFERENCES: &[&str] = &["he", "she", "it", "they", "him", "her", "them", "his", "its", "their", "this", "that", "these", "those", "there", "then"];

/// The text to retrieve with: the question itself, or for a follow-up, the
/// previous question followed by this one.
pub fn retrieval_question(question: &str, conversation: &[Turn]) -> String {
    match conversation.last() {
        Some(previous) if is_follow_up(question) => format!("{} {}", previous.question.trim(), question.trim()),
        _ => question.trim().to_string(),
    }
}

/// A question that continues the conversation: it opens with a continuation
/// word, refers back with a pronoun, or is too short to stand alone.
pub fn is_follow_up(question: &str) -> bool {
    let lower = question.trim().to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let opens_with_continuation = CONTINUATIONS.iter().any(|c| lower.starts_with(&format!("{c} ")) || lower == *c);
    let refers_back = words.iter().any(|w| REFERENCES.contains(w));
    opens_with_continuation || refers_back || words.len() <= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(question: &str) -> Turn {
        Turn { question: question.into(), answer: String::new() }
    }

    #[test]
    fn follow_ups_borrow_the_previous_question() {
        let history = [turn("why did Tokayev call early elections?")];
        assert_eq!(retrieval_question("and in 2019?", &history), "why did Tokayev call early elections? and in 2019?");
        assert_eq!(retrieval_question("What did he promise?", &history), "why did Tokayev call early elections? What did he promise?");
        assert_eq!(retrieval_question("Who is Dariga Nazarbayeva?", &history), "Who is Dariga Nazarbayeva?");
        assert_eq!(retrieval_question("and in 2019?", &[]), "and in 2019?");
    }
}
