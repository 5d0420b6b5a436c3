//! Answers a language model writes, shown only as far as they are verified.
//!
//! The model gets the ranked passages numbered `[1]`, `[2]`, … ([`prompt`]) and
//! writes an answer that cites them. Its reply is cut into sentences as it
//! streams ([`sentences`]); each is checked against the passages it cites
//! ([`verify`]) and shown only if it passes, renumbered by first use as the
//! extractive answer's footnotes are. What fails is reported in
//! [`AnswerBody::unsupported`] with the reason. Verified sentences wait until
//! one of them answers the question, as the judge reads them together; if
//! none does, the answer is the extractive one.
//!
//! The extractive answer is composed first and stands behind the model's:
//! when it abstains, the model is not asked (the judge found nothing that
//! answers, and a model would only guess); when the model cannot be reached,
//! fails, declines, or writes nothing that passes, the extractive answer is
//! the reply, with a [`Warning`] saying why. A reply that breaks off after
//! verified sentences keeps them, with a warning: each was verified, and the
//! reader has already seen them.

mod prompt;
mod sentences;
mod verify;

use std::collections::HashMap;
use std::sync::Arc;

use footnote_index::{Bm25Params, Index, ScoredPassage, SparseEncoder};
use footnote_judge::Judge;

use crate::extractive::ExtractiveAnswerer;
use crate::{Answer, AnswerBody, AnswerEvent, AnswerMode, AnswerSentence, Answerer, AskError, Citation, Judged, Signals, Turn, UnsupportedSentence, Warning, WarningCode};
use sentences::SentenceStream;
use verify::{Outcome, Verified, Verifier};

pub use prompt::RULES as PROMPT_RULES;

/// How the generative answerer prompts and verifies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Ranked passages given to the model at most.
    pub prompt_passages: usize,
    /// The model's context window in tokens; the prompt is cut to fit it with
    /// room for the reply.
    pub context_tokens: usize,
    /// Tokens the model may write (the client's `max_tokens`).
    pub reply_tokens: usize,
    /// The judge's probability, at least, that a passage sentence supports a
    /// generated sentence for the sentence to be shown.
    pub min_support: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { prompt_passages: 5, context_tokens: 4096, reply_tokens: 256, min_support: 0.5 }
    }
}

pub struct GenerativeAnswerer {
    llm: Arc<footnote_llm::Client>,
    extractive: ExtractiveAnswerer,
    judge: Option<Arc<Judge>>,
    terms: SparseEncoder,
    settings: Settings,
    /// The support at which the extractive answer stops abstaining: a
    /// generated answer needs a sentence that answers at least as well.
    min_answer: f32,
}

impl GenerativeAnswerer {
    pub fn new(
        index: &Index,
        llm: Arc<footnote_llm::Client>,
        settings: Settings,
        extractive: crate::ExtractiveSettings,
        judge: Option<Arc<Judge>>,
    ) -> Self {
        Self::with_bm25(index.manifest().bm25, llm, settings, extractive, judge)
    }

    /// An answerer whose sentences are analysed with these BM25 parameters
    /// (the index's, for [`GenerativeAnswerer::new`]).
    pub fn with_bm25(
        bm25: Bm25Params,
        llm: Arc<footnote_llm::Client>,
        settings: Settings,
        extractive: crate::ExtractiveSettings,
        judge: Option<Arc<Judge>>,
    ) -> Self {
        GenerativeAnswerer {
            llm,
            extractive: ExtractiveAnswerer::with_bm25(bm25, extractive, judge.clone()),
            judge,
            terms: SparseEncoder::new(bm25).expect("the index's BM25 parameters are valid"),
            settings,
            min_answer: extractive.min_support,
        }
    }
}

impl Answerer for GenerativeAnswerer {
    /// The same judging and reranking as the extractive answer's, so that the
    /// model reads the passages in the judge's order.
    fn judge(&self, question: &str, conversation: &[Turn], passages: &mut Vec<ScoredPassage>) -> Result<Option<Judged>, AskError> {
        self.extractive.judge(question, conversation, passages)
    }

    fn answer(
        &self,
        question: &str,
        conversation: &[Turn],
        passages: &[ScoredPassage],
        signals: Signals,
        events: &mut dyn FnMut(AnswerEvent),
    ) -> Answer {
        let fallback = self.extractive.answer(question, conversation, passages, signals, &mut |_| {});
        if fallback.body.abstained {
            crate::replay(&fallback, events);
            return fallback;
        }
        let offered = &passages[..passages.len().min(self.settings.prompt_passages)];
        let (messages, included) = prompt::messages(question, conversation, offered, self.settings.context_tokens, self.settings.reply_tokens);
        let offered = &offered[..included];
        let context = crate::retrieval_question(question, conversation);
        let verifier = Verifier::new(&context, offered, self.judge.as_deref(), &self.terms, self.settings.min_support, self.min_answer);
        let mut writer = Writer::new(offered);
        let mut stream = SentenceStream::default();
        let result = self.llm.stream(&messages, &mut |piece| {
            for sentence in stream.push(piece) {
                writer.take(&verifier, &sentence, events);
            }
        });
        if result.is_ok()
            && let Some(rest) = stream.finish()
        {
            writer.take(&verifier, &rest, events);
        }
        let warning = match (&result, &writer.judge_failed) {
            (Err(error), _) => {
                tracing::warn!(model = self.llm.model(), url = self.llm.base_url(), "{error}");
                Some(Warning::llm(error, !writer.sentences.is_empty()))
            }
            (Ok(_), Some(error)) => {
                tracing::error!("verifying a generated answer: {error}");
                Some(Warning { code: WarningCode::VerificationFailed, message: format!("the answer judge failed: {error}; this is the extractive answer") })
            }
            (Ok(_), None) if writer.sentences.is_empty() && !writer.held.is_empty() => Some(Warning {
                code: WarningCode::NotAnswering,
                message: format!(
                    "the model's {} verified sentences do not answer the question; this is the extractive answer",
                    writer.held.len()
                ),
            }),
            (Ok(_), None) if writer.sentences.is_empty() && writer.declined => Some(Warning {
                code: WarningCode::LlmDeclined,
                message: "the model found no answer in the passages; this is the extractive answer".into(),
            }),
            (Ok(_), None) if writer.sentences.is_empty() => Some(Warning {
                code: WarningCode::NothingVerified,
                message: format!("none of the model's {} sentences could be verified; this is the extractive answer", writer.unsupported.len()),
            }),
            (Ok(_), None) => None,
        };
        if writer.sentences.is_empty() || writer.judge_failed.is_some() {
            crate::replay(&fallback, events);
            let body = AnswerBody { unsupported: writer.unsupported, warning, ..fallback.body };
            return Answer { body, ..fallback };
        }
        let body = AnswerBody {
            text: writer.pieces.join(" "),
            abstained: false,
            sentences: writer.sentences,
            mode: AnswerMode::Generative,
            unsupported: writer.unsupported,
            warning,
        };
        Answer { body, citations: writer.citations, confidence: fallback.confidence }
    }
}

/// The answer as verified sentences arrive: citations numbered by first use.
struct Writer<'a> {
    offered: &'a [ScoredPassage],
    /// Footnote number of each offered passage cited so far.
    numbers: HashMap<usize, usize>,
    citations: Vec<Citation>,
    sentences: Vec<AnswerSentence>,
    pieces: Vec<String>,
    unsupported: Vec<UnsupportedSentence>,
    /// Verified sentences waiting for one that answers the question.
    held: Vec<Verified>,
    declined: bool,
    judge_failed: Option<footnote_judge::Error>,
}

impl<'a> Writer<'a> {
    fn new(offered: &'a [ScoredPassage]) -> Self {
        Writer {
            offered,
            numbers: HashMap::new(),
            citations: Vec::new(),
            sentences: Vec::new(),
            pieces: Vec::new(),
            unsupported: Vec::new(),
            held: Vec::new(),
            declined: false,
            judge_failed: None,
        }
    }

    /// Verifies one sentence of the model's and shows it if it passes: the
    /// sources it adds first, then its text.
    fn take(&mut self, verifier: &Verifier, raw: &str, events: &mut dyn FnMut(AnswerEvent)) {
        if self.judge_failed.is_some() {
            return;
        }
        match verifier.check(raw) {
            Ok(Outcome::Verified(verified)) if !self.sentences.is_empty() => self.show(verified, events),
            Ok(Outcome::Verified(verified)) => match verifier.answers(&verified.text) {
                Ok(true) => {
                    for earlier in std::mem::take(&mut self.held) {
                        self.show(earlier, events);
                    }
                    self.show(verified, events);
                }
                Ok(false) => self.held.push(verified),
                Err(error) => self.judge_failed = Some(error),
            },
            Ok(Outcome::Rejected(unsupported)) => {
                tracing::debug!(sentence = unsupported.text, reason = unsupported.reason, "generated sentence not shown");
                self.unsupported.push(unsupported);
            }
            Ok(Outcome::Declined) => self.declined = true,
            Ok(Outcome::Empty) => {}
            Err(error) => self.judge_failed = Some(error),
        }
    }

    fn show(&mut self, verified: Verified, events: &mut dyn FnMut(AnswerEvent)) {
        let before = self.citations.len();
        let mut markers = Vec::new();
        for backing in &verified.backing {
            let hit = &self.offered[backing.passage];
            let citations = &mut self.citations;
            let n = *self.numbers.entry(backing.passage).or_insert_with(|| {
                citations.push(Citation::of(hit, citations.len() + 1));
                citations.len()
            });
            let citation = &mut self.citations[n - 1];
            let text = &hit.passage.text;
            for span in &backing.spans {
                let start = text[..span.start].chars().count();
                let range = (start, start + text[span.clone()].chars().count());
                if !citation.highlights.contains(&range) {
                    citation.highlights.push(range);
                }
            }
            citation.highlights.sort();
            citation.support = Some(citation.support.map_or(backing.support, |s| s.max(backing.support)));
            markers.push(n);
        }
        let sentence = AnswerSentence { text: verified.text, citations: markers };
        let piece = sentence.marked();
        if self.citations.len() > before {
            events(AnswerEvent::Sources(&self.citations));
        }
        events(AnswerEvent::Text(&piece));
        self.pieces.push(piece);
        self.sentences.push(sentence);
    }
}
