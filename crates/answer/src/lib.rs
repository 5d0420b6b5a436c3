//! Answers with footnotes.
//!
//! [`Asker::ask`] is the whole path from a question to an answer: the question
//! (with the conversation, for follow-ups) is ranked against the index by
//! [`footnote_retrieval::Retriever`], then an [`Answerer`] composes the answer
//! from the ranked passages and reports it as a stream of [`AnswerEvent`]s:
//! the sources first, then the answer text sentence by sentence.
//!
//! One answer type serves every reader: [`Answer`] is what an answerer
//! composes; [`AskResponse`] wraps it with the question and the timings, and
//! the server wraps that in turn with where it was stored, never restating it.
//! [`ExtractiveAnswerer`] is the implementation without a language model: it
//! cites whole sentences of the passages and abstains when the evidence is weak.
//!
//! With an answer [`Judge`] (a cross-encoder), the answerer first judges the
//! most promising sentences of the top passages ([`Answerer::judge`]); the
//! passages are reranked by their best judged sentence, and the answer is
//! chosen and abstains by the judge's verdicts.
//!
//! [`GenerativeAnswerer`] has a language model write the answer, through any
//! OpenAI-compatible chat-completions API ([`footnote_llm`]), and shows only
//! the sentences it verifies against the passages they cite; the extractive
//! answer stands behind it.

mod context;
mod extractive;
mod generative;

use std::sync::Arc;
use std::time::Instant;

use footnote_index::{Index, ScoredPassage};
pub use footnote_judge::Judge;
use footnote_retrieval::{Query, Retriever};
use serde::{Deserialize, Serialize};

use context::retrieval_question;
pub use extractive::{ExtractiveAnswerer, Settings as ExtractiveSettings};
pub use generative::{GenerativeAnswerer, PROMPT_RULES, Settings as GenerativeSettings};

/// One earlier exchange of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

/// A passage the answer cites, numbered by first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    pub n: usize,
    pub passage_id: String,
    pub doc_id: String,
    pub title: String,
    pub source: Option<String>,
    pub text: String,
    pub score: f32,
    /// The answer judge's probability that the sentences citing this passage
    /// answer the question (the best of them); absent when the judge is off
    /// or read none of them.
    #[serde(default)]
    pub support: Option<f32>,
    /// Position of the passage in its document.
    pub position: usize,
    /// The page the passage starts on (1-based); `null` for formats without pages.
    /// Stored conversations from before pages were recorded read as `null`.
    #[serde(default)]
    pub page: Option<u32>,
    /// Character ranges of `text` that the answer uses, each `[start, end]`
    /// (end exclusive). Described to OpenAPI as pairs of integers: a tuple's
    /// schema (`prefixItems` with `items: false`) is more than generators read.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<usize>>))]
    pub highlights: Vec<(usize, usize)>,
}

impl Citation {
    /// The passage of `hit` as footnote `n`, nothing of it highlighted yet.
    pub fn of(hit: &ScoredPassage, n: usize) -> Citation {
        Citation {
            n,
            passage_id: hit.passage.id.clone(),
            doc_id: hit.passage.doc_id.clone(),
            title: hit.passage.title.clone(),
            source: hit.passage.source.clone(),
            text: hit.passage.text.clone(),
            score: hit.score,
            support: None,
            position: hit.passage.position,
            page: hit.passage.page,
            highlights: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerSentence {
    pub text: String,
    pub citations: Vec<usize>,
}

impl AnswerSentence {
    /// The sentence as read, with its footnote markers: "… in 2019. [1]".
    pub fn marked(&self) -> String {
        let markers: String = self.citations.iter().map(|n| format!("[{n}]")).collect();
        format!("{} {markers}", self.text)
    }
}

/// Who wrote the answer's sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnswerMode {
    /// Sentences of the passages themselves.
    #[default]
    Extractive,
    /// Sentences a language model wrote, each verified against what it cites.
    Generative,
}

/// Which check a generated sentence failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// It cites a passage the model was not given.
    UnknownCitation,
    /// It cites nothing, and no passage supports it.
    NoCitation,
    /// The answer judge finds no cited passage supporting it.
    Unsupported,
    /// It states a number, month or name the passages it cites do not hold.
    Facts,
}

/// A sentence the model wrote that was not shown, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnsupportedSentence {
    /// The sentence without its markers.
    pub text: String,
    pub check: Check,
    pub reason: String,
}

/// Why a generated answer is not what the model wrote, or not all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    LlmUnreachable,
    LlmTimeout,
    /// The model server answered with an HTTP error status.
    LlmStatus,
    /// Its reply was not a chat completion.
    LlmMalformed,
    /// Its reply broke off.
    LlmCut,
    /// The model said the passages do not answer.
    LlmDeclined,
    /// None of the model's sentences passed verification.
    NothingVerified,
    /// The model's verified sentences are true to the passages but none of
    /// them answers the question.
    NotAnswering,
    /// The answer judge failed while verifying.
    VerificationFailed,
}

impl WarningCode {
    /// The code as it is serialized, for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::LlmUnreachable => "llm_unreachable",
            WarningCode::LlmTimeout => "llm_timeout",
            WarningCode::LlmStatus => "llm_status",
            WarningCode::LlmMalformed => "llm_malformed",
            WarningCode::LlmCut => "llm_cut",
            WarningCode::LlmDeclined => "llm_declined",
            WarningCode::NothingVerified => "nothing_verified",
            WarningCode::NotAnswering => "not_answering",
            WarningCode::VerificationFailed => "verification_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    /// A failure of the model server; `kept` when sentences verified before it stay.
    fn llm(error: &footnote_llm::Error, kept: bool) -> Warning {
        use footnote_llm::Error as E;
        let code = match error {
            E::Unreachable { .. } | E::BadUrl { .. } => WarningCode::LlmUnreachable,
            E::Timeout(_) => WarningCode::LlmTimeout,
            E::Status { .. } => WarningCode::LlmStatus,
            E::Malformed(_) => WarningCode::LlmMalformed,
            E::Cut(_) => WarningCode::LlmCut,
        };
        let outcome = if kept { "the answer holds the sentences verified before it" } else { "this is the extractive answer" };
        Warning { code, message: format!("{error}; {outcome}") }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerBody {
    /// The answer as read, footnote markers included.
    pub text: String,
    pub abstained: bool,
    pub sentences: Vec<AnswerSentence>,
    /// Who wrote the sentences: `generative` only when a language model did
    /// and at least one of its sentences was verified.
    #[serde(default)]
    pub mode: AnswerMode,
    /// Sentences the language model wrote that failed verification and are
    /// not shown; empty for an extractive answer the model had no part in.
    #[serde(default)]
    pub unsupported: Vec<UnsupportedSentence>,
    /// Set when the language model failed, declined, or was cut off, and the
    /// answer is therefore extractive or shorter than written.
    #[serde(default)]
    pub warning: Option<Warning>,
}

/// What the answer rests on, and how strongly.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Confidence {
    /// Cosine similarity of the question and the closest passage in the index.
    pub dense: f32,
    /// Share of the question's terms found in the best passage.
    pub coverage: f32,
    /// The answer judge's probability that the best passage answers the
    /// question; absent when the judge is off.
    #[serde(default)]
    pub passage_support: Option<f32>,
    /// The answer judge's probability that the best sentence answers it.
    #[serde(default)]
    pub sentence_support: Option<f32>,
    /// The combination compared with the abstention threshold.
    pub score: f32,
}

/// An answer as composed: its text, the passages it cites, and how strongly
/// they support it. Serialized, the text is the field `answer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    #[serde(rename = "answer")]
    pub body: AnswerBody,
    pub citations: Vec<Citation>,
    pub confidence: Confidence,
}

/// An answer as it is produced, for streaming.
#[derive(Debug)]
pub enum AnswerEvent<'a> {
    /// The cited passages, before any text that cites them. A generated
    /// answer sends them again, with the earlier ones unchanged, before a
    /// sentence that cites a passage not yet listed.
    Sources(&'a [Citation]),
    /// The next piece of answer text (a sentence with its marker).
    Text(&'a str),
}

/// What an answerer gets beside the passages.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Cosine similarity of the question and the closest passage in the index.
    pub dense_best: f32,
    /// What the judge found; `None` when it is off.
    pub judged: Option<Judged>,
}

/// The judge's verdicts for one question.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// For each passage, in the (reranked) order of the passages, the
    /// probability that its best judged sentence answers the question; 0 for
    /// a passage none of whose sentences was judged.
    pub passage_support: Vec<f32>,
    /// Each judged sentence: its passage's id, its byte range there, and the
    /// probability that it answers the question.
    pub sentences: Vec<(String, std::ops::Range<usize>, f32)>,
}

/// Why a question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Index(#[from] footnote_index::Error),
    #[error(transparent)]
    Judge(#[from] footnote_judge::Error),
}

/// Composes an answer from ranked passages. A generative model can be another implementation.
pub trait Answerer: Send + Sync {
    /// Lets the answer judge read the passages before the answer is composed,
    /// reordering them by its verdicts; `None` without a judge.
    fn judge(
        &self,
        _question: &str,
        _conversation: &[Turn],
        _passages: &mut Vec<ScoredPassage>,
    ) -> Result<Option<Judged>, AskError> {
        Ok(None)
    }

    fn answer(
        &self,
        question: &str,
        conversation: &[Turn],
        passages: &[ScoredPassage],
        signals: Signals,
        events: &mut dyn FnMut(AnswerEvent),
    ) -> Answer;
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AskRequest {
    pub question: String,
    pub conversation: Vec<Turn>,
    /// Passages to consider; the default when `None`.
    pub top_k: Option<usize>,
    /// Only these documents; empty for all.
    pub documents: Vec<String>,
}

/// Where the time of one question went, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timings {
    pub embed: f64,
    pub search: f64,
    /// Reranking the passages with the answer judge; 0 when it is off.
    #[serde(default)]
    pub rerank: f64,
    pub compose: f64,
    pub total: f64,
    /// From the question to its first answer sentence shown: with a language
    /// model, the first verified sentence.
    #[serde(default)]
    pub first_sentence: f64,
}

/// A question with its answer: the `ask --json` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AskResponse {
    pub question: String,
    #[serde(flatten)]
    pub answer: Answer,
    pub timings_ms: Timings,
    /// The ranked passages the answer was composed from, for evaluation.
    #[serde(skip)]
    pub ranked: Vec<ScoredPassage>,
}

/// Passages ranked for each question unless the request says otherwise.
const DEFAULT_TOP_K: usize = 10;

/// Asks questions of an index. Cheap to clone: a server shares one among its
/// requests.
#[derive(Clone)]
pub struct Asker {
    index: Arc<Index>,
    answerer: Arc<dyn Answerer>,
}

impl Asker {
    /// Answers with the [`ExtractiveAnswerer`], judged by `judge` when there is one.
    pub fn extractive(index: Arc<Index>, settings: ExtractiveSettings, judge: Option<Arc<Judge>>) -> Self {
        let answerer = Arc::new(ExtractiveAnswerer::new(&index, settings, judge));
        Asker { index, answerer }
    }

    /// Answers with the [`GenerativeAnswerer`]: `llm` writes, `judge` (when
    /// there is one) verifies, and the extractive answer stands behind it.
    pub fn generative(
        index: Arc<Index>,
        llm: Arc<footnote_llm::Client>,
        settings: GenerativeSettings,
        extractive: ExtractiveSettings,
        judge: Option<Arc<Judge>>,
    ) -> Self {
        let answerer = Arc::new(GenerativeAnswerer::new(&index, llm, settings, extractive, judge));
        Asker { index, answerer }
    }

    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    pub fn ask(&self, request: &AskRequest, events: &mut dyn FnMut(AnswerEvent)) -> Result<AskResponse, AskError> {
        let started = Instant::now();
        let query_text = retrieval_question(&request.question, &request.conversation);
        let dense = self.index.embedder().embed_query(&query_text)?;
        let embedded = Instant::now();
        let retriever = Retriever::new(&self.index);
        let query = Query {
            question: query_text,
            limit: request.top_k.unwrap_or(DEFAULT_TOP_K),
            documents: request.documents.clone(),
        };
        let mut passages = retriever.search_embedded(&query, dense.clone())?;
        let dense_best = retriever.closest_dense_score(&query, dense)?;
        let searched = Instant::now();
        let judged = self.answerer.judge(&request.question, &request.conversation, &mut passages)?;
        let reranked = Instant::now();
        let signals = Signals { dense_best, judged };
        let mut first_sentence = None;
        let answer = self.answerer.answer(&request.question, &request.conversation, &passages, signals, &mut |event| {
            if matches!(event, AnswerEvent::Text(_)) {
                first_sentence.get_or_insert_with(Instant::now);
            }
            events(event)
        });
        let done = Instant::now();
        let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1e3;
        Ok(AskResponse {
            question: request.question.clone(),
            answer,
            timings_ms: Timings {
                embed: ms(started, embedded),
                search: ms(embedded, searched),
                rerank: ms(searched, reranked),
                compose: ms(reranked, done),
                total: ms(started, done),
                first_sentence: ms(started, first_sentence.unwrap_or(done)),
            },
            ranked: passages,
        })
    }
}

/// The events of an answer composed without streaming them.
fn replay(answer: &Answer, events: &mut dyn FnMut(AnswerEvent)) {
    events(AnswerEvent::Sources(&answer.citations));
    if answer.body.abstained {
        events(AnswerEvent::Text(&answer.body.text));
    }
    for sentence in &answer.body.sentences {
        events(AnswerEvent::Text(&sentence.marked()));
    }
}
