//! The rules a request must meet, stated once for every adapter.

use super::AppError;

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 2000;
/// Passages a request may ask to rank at most.
pub const MAX_TOP_K: usize = 100;
/// Passages a search returns unless asked for another number.
pub const DEFAULT_SEARCH_K: usize = 5;
/// Longest conversation title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest feedback comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 4000;

/// The question as it will be asked, or why it cannot be: control characters
/// (a NUL, an escape; never part of a question) are dropped and the rest
/// trimmed. The length is counted as sent, as the API's schema counts it.
pub fn question(question: &str) -> Result<String, AppError> {
    let chars = question.chars().count();
    if chars > MAX_QUESTION_CHARS {
        return Err(AppError::InvalidQuestion(format!(
            "the question is {chars} characters long; the limit is {MAX_QUESTION_CHARS}"
        )));
    }
    let visible: String = question.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    let trimmed = visible.trim();
    if trimmed.is_empty() {
        return Err(AppError::InvalidQuestion("the question is empty".into()));
    }
    Ok(trimmed.to_string())
}

/// A number of passages to rank, named `field` in the message.
pub fn passage_count(field: &str, k: usize) -> Result<usize, AppError> {
    if (1..=MAX_TOP_K).contains(&k) {
        Ok(k)
    } else {
        Err(AppError::Invalid(format!("{field} must be between 1 and {MAX_TOP_K}, not {k}")))
    }
}

/// A conversation's new title as it will be stored: one line, trimmed.
/// Blank means none (the conversation is titled by its first question again).
pub fn conversation_title(title: &str) -> Result<Option<String>, AppError> {
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(AppError::Invalid(format!("the title is {chars} characters long; the limit is {MAX_TITLE_CHARS}")));
    }
    let line: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((!line.is_empty()).then_some(line))
}

pub fn comment(comment: Option<&str>) -> Result<(), AppError> {
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(AppError::Invalid(format!("the comment is over {MAX_COMMENT_CHARS} characters")));
    }
    Ok(())
}

/// A document id that is safe as a file name and in a URL path. Surrounding
/// spaces are dropped; the length is counted as given, as the API's schema does.
pub fn document_id(given: &str) -> Result<String, AppError> {
    let id = given.trim_matches(' ');
    let fine = !id.is_empty()
        && given.chars().count() <= 200
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if fine {
        Ok(id.to_string())
    } else {
        Err(AppError::Invalid(format!("{id:?} is not a usable document id (letters, digits, - _ . and spaces)")))
    }
}

/// The id a document gets from its title:
/// "Kazakhstan's 2022 reform" → "kazakhstan-s-2022-reform". A title with no
/// letters or digits ("!!!") gets `doc-` and a hash of the title instead, so
/// every title gives an id its routes can reach, and two such titles two ids.
pub fn slug(title: &str) -> String {
    let words: Vec<String> =
        title.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let slug: String = words.join("-").chars().take(80).collect();
    if slug.is_empty() { format!("doc-{}", &blake3::hash(title.as_bytes()).to_hex()[..16]) } else { slug }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_trimmed_and_bounded() {
        assert_eq!(question("  why?  ").unwrap(), "why?");
        assert_eq!(question("wh\0y?\u{1b}").unwrap(), "why?");
        assert!(matches!(question("\0 \u{7f}"), Err(AppError::InvalidQuestion(_))));
        assert!(matches!(question(" \n "), Err(AppError::InvalidQuestion(_))));
        assert!(question(&"a".repeat(MAX_QUESTION_CHARS)).is_ok());
        let long = question(&"a".repeat(MAX_QUESTION_CHARS + 1)).unwrap_err().to_string();
        assert!(long.contains("2001") && long.contains("2000"), "{long}");
    }

    #[test]
    fn passage_counts_and_ids_follow_the_rules() {
        assert_eq!(passage_count("k", 100).unwrap(), 100);
        assert!(passage_count("top_k", 0).unwrap_err().to_string().starts_with("top_k must be between 1 and 100"));
        assert_eq!(slug("Kazakhstan's 2022 reform"), "kazakhstan-s-2022-reform");
        let (bangs, queries) = (slug("!!!"), slug("???"));
        assert!(bangs.starts_with("doc-") && bangs != queries && bangs == slug("!!!"), "{bangs} {queries}");
        assert_eq!(document_id(&bangs).unwrap(), bangs);
        assert_eq!(document_id(" notes.md ").unwrap(), "notes.md");
        assert!(document_id("../etc/passwd").is_err() && document_id(".hidden").is_err());
        assert!(document_id("\tnotes.md").is_err() && document_id(&"a".repeat(201)).is_err());
    }
}
