//! Answers made of the passages' own sentences, each footnoted.
//!
//! Every sentence of the top passages is scored by how much of the question it
//! covers (question terms weighted by how rare they are among the candidates,
//! stemmed and stop-word-free by the same analyser as BM25), by the rank of its
//! passage, and by whether it holds what the question asks for (a date for
//! "when", a number for "how many", a name for "who"). The best sentence anchors
//! the answer; close runners-up join it, preferring its own passage, so that
//! few passages are cited and each citation is strong.
//!
//! With the answer judge, the judge's verdict on each sentence it read is added
//! to that score, so that a sentence which shares the question's words but
//! does not answer it loses to one that does; a sentence the judge finds
//! unsupported joins no answer as a runner-up. The answer
//! abstains when the judge finds no sentence that answers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use footnote_index::{Bm25Params, Index, Passage, ScoredPassage, SparseEncoder, sentence_spans};
use footnote_judge::Judge;

use crate::{Answer, AnswerBody, AnswerEvent, AnswerSentence, Answerer, AskError, Citation, Confidence, Judged, Signals, Turn};

/// How the extractive answerer composes and when it abstains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Sentences in an answer at most.
    pub max_sentences: usize,
    /// Passages an answer may cite at most.
    pub max_passages: usize,
    /// Top passages whose sentences are candidates.
    pub candidate_passages: usize,
    /// A sentence from a passage not yet cited joins the answer when it scores
    /// at least this share of the best sentence (from a cited passage: 0.7).
    pub new_passage_ratio: f32,
    /// Below this confidence ([`Confidence::score`]) the answer abstains.
    pub min_confidence: f32,
    /// Below this cosine similarity of the question and the closest passage the
    /// answer abstains whatever the word overlap: small talk ("thanks, that's
    /// all") can share a word with a passage but is far from all of them.
    pub min_dense: f32,
    /// With the judge: when no judged sentence has at least this support
    /// ([`Confidence::sentence_support`]), the answer abstains (in place of
    /// `min_confidence`).
    pub min_support: f32,
    /// With the judge: the top passages whose sentences it judges.
    pub judged_passages: usize,
    /// With the judge: sentences it judges per question at most (at least one
    /// per judged passage).
    pub judged_sentences: usize,
}

impl Default for Settings {
    /// Chosen on the seed development set and squad2-dev; see docs/benchmarks.md.
    fn default() -> Self {
        Settings {
            max_sentences: 3,
            max_passages: 3,
            candidate_passages: 4,
            new_passage_ratio: 0.75,
            min_confidence: 0.38,
            min_dense: 0.30,
            min_support: 0.15,
            judged_passages: 3,
            judged_sentences: 5,
        }
    }
}

pub const ABSTENTION: &str = "The documents don't cover this, so I can't answer it from them.";

pub struct ExtractiveAnswerer {
    terms: SparseEncoder,
    settings: Settings,
    judge: Option<Arc<Judge>>,
    /// Passages already cut into sentences and analysed, by passage id. A
    /// passage's id covers its document's content, so an id always names the
    /// same text. Analysis (tokenising and stemming every word) was the costliest
    /// part of choosing sentences, and the same passages answer many questions.
    analysed: quick_cache::sync::Cache<String, Arc<PassageAnalysis>>,
}

/// Passages whose analyses are kept: all of a collection of this size, and the
/// most asked-about ones of a larger collection. Each takes a few KiB.
const ANALYSES_KEPT: usize = 4096;

/// A passage cut into sentences, with the terms of each as BM25 sees them.
struct PassageAnalysis {
    sentences: Vec<AnalysedSentence>,
    /// The terms of all its sentences.
    terms: HashSet<u32>,
}

struct AnalysedSentence {
    /// Byte range in the passage text.
    span: std::ops::Range<usize>,
    terms: HashSet<u32>,
    /// Headings and titles inside a passage are not statements to cite.
    statement: bool,
}

impl ExtractiveAnswerer {
    /// An answerer for `index`, judging sentences with `judge` when there is one.
    pub fn new(index: &Index, settings: Settings, judge: Option<Arc<Judge>>) -> Self {
        Self::with_bm25(index.manifest().bm25, settings, judge)
    }

    pub fn with_bm25(bm25: Bm25Params, settings: Settings, judge: Option<Arc<Judge>>) -> Self {
        let terms = SparseEncoder::new(bm25).expect("the index's BM25 parameters are valid");
        ExtractiveAnswerer { terms, settings, judge, analysed: quick_cache::sync::Cache::new(ANALYSES_KEPT) }
    }

    fn term_set(&self, text: &str) -> HashSet<u32> {
        self.terms.encode_query(text).indices.into_iter().collect()
    }

    fn analysis(&self, passage: &Passage) -> Arc<PassageAnalysis> {
        if let Some(analysis) = self.analysed.get(&passage.id) {
            return analysis;
        }
        let sentences: Vec<AnalysedSentence> = sentence_spans(&passage.text)
            .into_iter()
            .map(|span| {
                let sentence = &passage.text[span.clone()];
                AnalysedSentence { terms: self.term_set(sentence), statement: is_statement(sentence), span }
            })
            .collect();
        let terms = sentences.iter().flat_map(|s| s.terms.iter().copied()).collect();
        let analysis = Arc::new(PassageAnalysis { sentences, terms });
        self.analysed.insert(passage.id.clone(), analysis.clone());
        analysis
    }
}

/// A sentence of a candidate passage.
struct Candidate<'a> {
    passage: usize,
    /// Byte range in the passage text.
    span: std::ops::Range<usize>,
    terms: &'a HashSet<u32>,
    /// What orders the candidates: the word-overlap score, plus the judge's
    /// verdict when it read the sentence.
    score: f32,
    /// The word-overlap score alone. A runner-up joins by comparing it with
    /// the anchor's, as without the judge, so that the judge's bonus to the
    /// anchor does not keep out sentences it did not read.
    overlap: f32,
    /// The judge's probability that the sentence answers the question, when
    /// it read the sentence.
    support: Option<f32>,
    /// For a why-question: the candidate right before this one, whose event
    /// this sentence gives the reason for; the two are cited together.
    completes: Option<usize>,
}

/// The candidate sentences of the first `window` passages, scored by the
/// word-overlap features.
struct Candidates<'a> {
    own_terms: HashSet<u32>,
    all_passage_terms: Vec<&'a HashSet<u32>>,
    list: Vec<Candidate<'a>>,
}

impl ExtractiveAnswerer {
    fn candidates<'a>(
        &self,
        question: &str,
        context: &str,
        passages: &[ScoredPassage],
        analyses: &'a [Arc<PassageAnalysis>],
        window: usize,
    ) -> Candidates<'a> {
        let own_terms = self.term_set(question);
        let query_terms = self.term_set(context);
        let wanted = Wanted::of(question);
        let all_passage_terms: Vec<&HashSet<u32>> = analyses.iter().map(|a| &a.terms).collect();
        let passages = &passages[..passages.len().min(window)];
        let mut list: Vec<Candidate> = Vec::new();
        for (p, analysis) in analyses[..passages.len()].iter().enumerate() {
            for sentence in analysis.sentences.iter().filter(|s| s.statement) {
                list.push(Candidate {
                    passage: p,
                    span: sentence.span.clone(),
                    terms: &sentence.terms,
                    score: 0.0,
                    overlap: 0.0,
                    support: None,
                    completes: None,
                });
            }
        }
        let weights = term_weights(&query_terms, &own_terms, &list);
        let total_weight: f32 = weights.values().sum();
        let top_score = passages.first().map_or(1.0, |h| h.score.max(f32::EPSILON));
        let passage_terms = &all_passage_terms[..passages.len()];
        for c in &mut list {
            let text = &passages[c.passage].passage.text[c.span.clone()];
            let covered: f32 = weights.iter().filter(|(t, _)| c.terms.contains(t)).map(|(_, w)| w).sum();
            let in_passage: f32 = weights.iter().filter(|(t, _)| passage_terms[c.passage].contains(t)).map(|(_, w)| w).sum();
            let coverage = covered / total_weight.max(f32::EPSILON);
            let passage_coverage = in_passage / total_weight.max(f32::EPSILON);
            let prior = (passages[c.passage].score / top_score).clamp(0.0, 1.0);
            c.score = 0.45 * coverage + 0.2 * passage_coverage + 0.2 * prior + 0.15 * wanted.found_in(text, question);
            c.overlap = c.score;
        }
        Candidates { own_terms, all_passage_terms, list }
    }

    /// Reasons are often given in other words than the question's ("the
    /// extraordinary elections rationale" for "why early elections"), so a
    /// why-question looks a little further down the ranking.
    fn window(&self, wanted: Wanted) -> usize {
        if wanted == Wanted::Reason { self.settings.candidate_passages + 2 } else { self.settings.candidate_passages }
    }
}

impl Answerer for ExtractiveAnswerer {
    /// Judges the sentences most likely to answer: the best sentence by word
    /// overlap of each of the first `judged_passages` passages, then the next
    /// best of them all, `judged_sentences` in all. The judge costs about half
    /// a millisecond per word piece on one core, so it reads a few sentences
    /// rather than whole passages. Those passages are then reordered by their
    /// best judged sentence.
    fn judge(&self, question: &str, conversation: &[Turn], passages: &mut Vec<ScoredPassage>) -> Result<Option<Judged>, AskError> {
        let Some(judge) = &self.judge else {
            return Ok(None);
        };
        let context = crate::retrieval_question(question, conversation);
        let depth = self.settings.judged_passages.min(passages.len());
        let analyses: Vec<Arc<PassageAnalysis>> = passages.iter().map(|hit| self.analysis(&hit.passage)).collect();
        let candidates = self.candidates(question, &context, passages, &analyses, depth).list;
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| candidates[b].score.total_cmp(&candidates[a].score));
        let mut chosen: Vec<usize> = (0..depth).filter_map(|p| order.iter().copied().find(|&i| candidates[i].passage == p)).collect();
        for &i in &order {
            if chosen.len() >= self.settings.judged_sentences.max(depth) {
                break;
            }
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        let texts: Vec<&str> = chosen.iter().map(|&i| &passages[candidates[i].passage].passage.text[candidates[i].span.clone()]).collect();
        let support = judge.score(&context, &texts)?;
        let mut best = vec![0.0f32; depth];
        for (&i, &s) in chosen.iter().zip(&support) {
            best[candidates[i].passage] = best[candidates[i].passage].max(s);
        }
        let sentences = chosen
            .iter()
            .zip(&support)
            .map(|(&i, &s)| (passages[candidates[i].passage].passage.id.clone(), candidates[i].span.clone(), s))
            .collect();
        // The judge's verdicts crowd near 0 and 1, where a small difference
        // in probability is a large one in log-odds: passages are compared in
        // log-odds, with a handicap per place in the fused ranking, which
        // also keeps the fused order between passages the judge cannot tell apart.
        let key = |p: usize, support: f32| log_odds(support) - RANK_HANDICAP * p as f32;
        let mut reordered: Vec<(f32, f32, ScoredPassage)> =
            best.iter().copied().zip(passages.drain(..depth)).enumerate().map(|(p, (s, hit))| (key(p, s), s, hit)).collect();
        reordered.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut passage_support: Vec<f32> = reordered.iter().map(|(_, s, _)| *s).collect();
        passage_support.resize(passages.len() + depth, 0.0);
        let rest = std::mem::take(passages);
        passages.extend(reordered.into_iter().map(|(_, _, hit)| hit));
        passages.extend(rest);
        Ok(Some(Judged { passage_support, sentences }))
    }

    fn answer(
        &self,
        question: &str,
        conversation: &[Turn],
        passages: &[ScoredPassage],
        signals: Signals,
        events: &mut dyn FnMut(AnswerEvent),
    ) -> Answer {
        let context = crate::retrieval_question(question, conversation);
        let wanted = Wanted::of(question);
        let window = self.window(wanted);
        let analyses: Vec<Arc<PassageAnalysis>> = passages.iter().map(|hit| self.analysis(&hit.passage)).collect();
        let Candidates { own_terms, all_passage_terms, list: mut candidates } =
            self.candidates(question, &context, passages, &analyses, window);
        let passages = &passages[..passages.len().min(window)];

        let mut confidence = confidence(&own_terms, &all_passage_terms, &signals);
        if let Some(judged) = &signals.judged {
            for c in &mut candidates {
                let id = &passages[c.passage].passage.id;
                c.support = judged.sentences.iter().find(|(p, span, _)| p == id && *span == c.span).map(|j| j.2);
                c.score += JUDGE_WEIGHT * c.support.unwrap_or(0.0);
            }
            confidence = judged_confidence(confidence, &judged.passage_support, &candidates);
        }

        if wanted == Wanted::Reason {
            carry_relevance_to_stated_reasons(&mut candidates, passages);
        }

        for c in &candidates {
            tracing::trace!(passage = c.passage, score = c.score, support = c.support.unwrap_or(f32::NAN), sentence = &passages[c.passage].passage.text[c.span.clone()], "candidate");
        }
        let judged = signals.judged.is_some();
        let weak = if judged {
            confidence.score < self.settings.min_support || confidence.dense < self.settings.min_dense
        } else {
            confidence.score < self.settings.min_confidence || confidence.dense < self.settings.min_dense
        };
        if weak || candidates.is_empty() {
            return abstain(confidence, events);
        }
        let chosen = self.select(&candidates, wanted, passages);
        compose(passages, &candidates, &chosen, confidence, events)
    }
}

/// Weight of the judge's verdict (0 to 1) added to a sentence's word-overlap
/// score (also 0 to 1). Letting the verdict decide alone, with the word
/// overlap only breaking ties, cited fewer gold passages and hit fewer answers
/// on both squad2-dev and the seeds (docs/benchmarks.md, answer judge): the
/// judge scores a sentence alone, without the neighbours it leans on.
const JUDGE_WEIGHT: f32 = 0.3;

/// A runner-up the judge read joins an answer only with at least this
/// support: a sentence the judge finds unrelated is not cited. One it did not
/// read joins by the word-overlap rules alone, and so does a reason stated
/// outright for a why-question: read alone, "three factors stand out: …"
/// does not say what they are the reasons for, and the judge cannot tell.
const JOIN_SUPPORT: f32 = 0.1;

/// Log-odds a passage loses per place further down the fused ranking when the
/// judge reorders passages: chosen on squad2-dev's even lines (0.25 to 1.0
/// did about equally well, no handicap worse; docs/benchmarks.md).
const RANK_HANDICAP: f32 = 0.5;

fn log_odds(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// The confidence with the judge: the support of the best judged sentence.
/// A logistic combination with the dense similarity and the coverage, fitted
/// on squad2-dev's even lines, leaned on the dense similarity and declined
/// fewer of the seeds' on-topic questions that the documents do not answer
/// (docs/benchmarks.md, answer judge); the dense floor (`min_dense`) stays.
fn judged_confidence(confidence: Confidence, passage_support: &[f32], candidates: &[Candidate]) -> Confidence {
    let passage = passage_support.iter().copied().fold(0.0, f32::max);
    let sentence = candidates.iter().filter_map(|c| c.support).fold(0.0, f32::max);
    Confidence { passage_support: Some(passage), sentence_support: Some(sentence), score: sentence, ..confidence }
}

impl ExtractiveAnswerer {
    /// The anchor (best sentence) and the runners-up that join it.
    ///
    /// A why-question is answered reason by reason: a sentence that gives the
    /// reason for the one before it is cited with it, and a further passage
    /// joins only when it names a reason outright ("the reasons for …",
    /// "because …"), so that a second account of the same event ("early
    /// elections are a vital necessity") does not crowd out a different
    /// occasion's reasons. Such a reason joins at a lower share of the best
    /// score, and the sentence that completes it may exceed `max_sentences` by one.
    fn select(&self, candidates: &[Candidate], wanted: Wanted, passages: &[ScoredPassage]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| candidates[b].score.total_cmp(&candidates[a].score));
        let anchor = order[0];
        let best = candidates[anchor].overlap;
        let mut chosen = vec![anchor];
        let mut cited: Vec<usize> = vec![candidates[anchor].passage];
        let why = wanted == Wanted::Reason;
        let completion = |i: usize, chosen: &[usize]| {
            (0..candidates.len()).find(|&j| candidates[j].completes == Some(i) && !chosen.contains(&j))
        };
        if why && let Some(j) = completion(anchor, &chosen) {
            chosen.push(j);
        }
        for &i in &order[1..] {
            if chosen.len() >= self.settings.max_sentences {
                break;
            }
            if chosen.contains(&i) {
                continue;
            }
            let c = &candidates[i];
            let same_passage = cited.contains(&c.passage);
            let text = &passages[c.passage].passage.text[c.span.clone()];
            let outright_reason = why && STATED_REASON.is_match(text);
            let ratio = match (same_passage, outright_reason) {
                (true, _) => 0.7,
                (false, true) => OUTRIGHT_REASON_RATIO,
                (false, false) if why => continue,
                (false, false) => self.settings.new_passage_ratio,
            };
            let good_enough = c.overlap >= ratio * best && (outright_reason || c.support.is_none_or(|s| s >= JOIN_SUPPORT || c.completes.is_some()));
            let room = same_passage || cited.len() < self.settings.max_passages;
            let redundant = chosen.iter().any(|&j| jaccard(candidates[j].terms, c.terms) > 0.6);
            if good_enough && room && !redundant && !c.terms.is_empty() {
                chosen.push(i);
                if !same_passage {
                    cited.push(c.passage);
                }
                if why && let Some(j) = completion(i, &chosen) {
                    chosen.push(j);
                }
            }
        }
        chosen
    }
}

/// Share of the best score at which a passage not yet cited joins a
/// why-answer with a reason it names outright.
const OUTRIGHT_REASON_RATIO: f32 = 0.55;

/// How strongly the passages bear on the question: the dense similarity of the
/// closest passage, and the share of the question's own terms that the
/// best-covering passage contains, each term weighted by how rare it is among
/// the ranked passages (a term none of them holds, like "football" in a question
/// about Kazakh politics, weighs most). A question with no terms of its own
/// ("hello") has no coverage.
fn confidence(own_terms: &HashSet<u32>, passage_terms: &[&HashSet<u32>], signals: &Signals) -> Confidence {
    let n = passage_terms.len() as f32;
    let weight = |t: &u32| {
        let df = passage_terms.iter().filter(|terms| terms.contains(t)).count() as f32;
        (1.0 + (n + 1.0) / (df + 1.0)).ln()
    };
    let total: f32 = own_terms.iter().map(weight).sum();
    let coverage = if own_terms.is_empty() {
        0.0
    } else {
        passage_terms
            .iter()
            .map(|terms| own_terms.iter().filter(|t| terms.contains(t)).map(weight).sum::<f32>() / total)
            .fold(0.0, f32::max)
    };
    let score = if coverage == 0.0 { 0.0 } else { 0.5 * signals.dense_best + 0.5 * coverage };
    Confidence { dense: signals.dense_best, coverage, passage_support: None, sentence_support: None, score }
}

/// Weights of the question's terms: rarer among the candidate sentences counts
/// more; the current question's own terms count double against borrowed context.
fn term_weights(query_terms: &HashSet<u32>, own_terms: &HashSet<u32>, candidates: &[Candidate]) -> HashMap<u32, f32> {
    let n = candidates.len() as f32;
    query_terms
        .iter()
        .map(|&t| {
            let df = candidates.iter().filter(|c| c.terms.contains(&t)).count() as f32;
            let idf = (1.0 + (n + 1.0) / (df + 1.0)).ln();
            (t, if own_terms.contains(&t) { 2.0 * idf } else { idf })
        })
        .collect()
}

/// A cause is usually stated right after the event it explains ("… called an
/// early presidential election for June 9. “In order to ensure concord … we must
/// eliminate all uncertainty.”"), in words the question does not use. For a
/// why-question, a sentence with a causal cue that directly follows a sentence of
/// the same passage inherits most of that sentence's score.
fn carry_relevance_to_stated_reasons(candidates: &mut [Candidate], passages: &[ScoredPassage]) {
    for i in 1..candidates.len() {
        let (before, after) = candidates.split_at_mut(i);
        let (previous, current) = (&before[i - 1], &mut after[0]);
        let text = &passages[current.passage].passage.text[current.span.clone()];
        if previous.passage == current.passage && REASON.is_match(text) {
            current.score = current.score.max(0.95 * previous.score);
            current.overlap = current.overlap.max(0.95 * previous.overlap);
            current.completes = Some(i - 1);
        }
    }
}

/// A sentence that ends as one (full stop, question or exclamation mark,
/// possibly inside closing quotes), as opposed to a heading.
fn is_statement(sentence: &str) -> bool {
    let trimmed = sentence.trim_end_matches(|c: char| matches!(c, '"' | '\'' | '”' | '’' | '»' | ')') || c.is_whitespace());
    trimmed.ends_with(['.', '!', '?', '…', ';', ':']) && sentence.split_whitespace().count() >= 4
}

fn jaccard(a: &HashSet<u32>, b: &HashSet<u32>) -> f32 {
    let union = a.union(b).count();
    if union == 0 { 0.0 } else { a.intersection(b).count() as f32 / union as f32 }
}

fn abstain(confidence: Confidence, events: &mut dyn FnMut(AnswerEvent)) -> Answer {
    events(AnswerEvent::Sources(&[]));
    events(AnswerEvent::Text(ABSTENTION));
    Answer {
        body: AnswerBody { text: ABSTENTION.to_string(), abstained: true, ..AnswerBody::default() },
        citations: Vec::new(),
        confidence,
    }
}

/// Orders the chosen sentences to read well (by the rank of their passage, then
/// in document order), numbers the passages by first use, and emits the events.
fn compose(
    passages: &[ScoredPassage],
    candidates: &[Candidate],
    chosen: &[usize],
    confidence: Confidence,
    events: &mut dyn FnMut(AnswerEvent),
) -> Answer {
    let mut chosen = chosen.to_vec();
    let anchor_passage = candidates[chosen[0]].passage;
    chosen.sort_by_key(|&i| (candidates[i].passage != anchor_passage, candidates[i].passage, candidates[i].span.start));

    let mut numbers: HashMap<usize, usize> = HashMap::new();
    let mut citations: Vec<Citation> = Vec::new();
    let mut sentences = Vec::new();
    for &i in &chosen {
        let c = &candidates[i];
        let hit = &passages[c.passage];
        let n = *numbers.entry(c.passage).or_insert_with(|| {
            citations.push(Citation::of(hit, citations.len() + 1));
            citations.len()
        });
        let text = &hit.passage.text;
        let start = text[..c.span.start].chars().count();
        let end = start + text[c.span.clone()].chars().count();
        citations[n - 1].highlights.push((start, end));
        if let Some(support) = c.support {
            let best = citations[n - 1].support.get_or_insert(support);
            *best = best.max(support);
        }
        sentences.push(AnswerSentence { text: text[c.span.clone()].split_whitespace().collect::<Vec<_>>().join(" "), citations: vec![n] });
    }
    for citation in &mut citations {
        citation.highlights.sort();
    }
    events(AnswerEvent::Sources(&citations));
    let mut pieces = Vec::new();
    for sentence in &sentences {
        let piece = sentence.marked();
        events(AnswerEvent::Text(&piece));
        pieces.push(piece);
    }
    Answer { body: AnswerBody { text: pieces.join(" "), abstained: false, sentences, ..AnswerBody::default() }, citations, confidence }
}

/// What kind of thing the question asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wanted {
    Date,
    Number,
    Name,
    Reason,
    Anything,
}

// The patterns match English cue words at ASCII word boundaries (`(?-u)`): a
// Unicode `\b` sends the regex engine from its DFA to a far slower one on any
// text with curly quotes or dashes, which cost about a tenth of a loaded
// server's CPU (docs/benchmarks.md, serving load).
static YEAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?-u)\b(1[0-9]{3}|20[0-9]{2})\b|\b(January|February|March|April|May|June|July|August|September|October|November|December)\b|\bcentury\b").expect("valid regex")
});
static REASON: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i-u)\b(because|since|due to|in order to|so that|so as to|reasons?|factors?|rationale|caused?|led to|motive|aim(ed)? (at|to)|necessity|needed|must|the need)\b").expect("valid regex")
});
/// Causal wording that names a reason outright, as opposed to a purpose or a
/// need ("must", "in order to"), which [`REASON`] also accepts.
static STATED_REASON: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i-u)\b(because|due to|owing to|reasons?|factors?|rationale|caused?|led to|motives?|driven by)\b").expect("valid regex")
});
static NUMBER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?i-u)\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half)\b").expect("valid regex")
});

impl Wanted {
    fn of(question: &str) -> Wanted {
        let q = question.to_lowercase();
        let has = |w: &str| q.split(|c: char| !c.is_alphanumeric()).any(|x| x == w);
        if has("when") || q.contains("what year") || q.contains("which year") || q.contains("what date") || q.contains("what century") {
            Wanted::Date
        } else if q.contains("how many") || q.contains("how much") || q.contains("how long") || q.contains("how old") || q.contains("what percentage") || q.contains("what share") {
            Wanted::Number
        } else if has("who") || has("whom") || has("whose") || has("where") {
            Wanted::Name
        } else if has("why") || q.contains("what reason") || q.contains("what caused") || q.contains("what led") {
            Wanted::Reason
        } else {
            Wanted::Anything
        }
    }

    /// 1 when the sentence holds the kind of thing asked for, 0 when it does
    /// not, ½ when the question does not say.
    fn found_in(self, sentence: &str, question: &str) -> f32 {
        let found = match self {
            Wanted::Anything => return 0.5,
            Wanted::Date => YEAR.is_match(sentence),
            Wanted::Number => NUMBER.is_match(sentence),
            Wanted::Reason => REASON.is_match(sentence),
            Wanted::Name => {
                let asked: HashSet<String> = question.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).collect();
                sentence.split_whitespace().skip(1).any(|w| {
                    let w = w.trim_matches(|c: char| !c.is_alphanumeric());
                    w.starts_with(char::is_uppercase) && !asked.contains(&w.to_lowercase())
                })
            }
        };
        if found { 1.0 } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_kinds() {
        assert_eq!(Wanted::of("When was the vote held?"), Wanted::Date);
        assert_eq!(Wanted::of("How many agreements were signed?"), Wanted::Number);
        assert_eq!(Wanted::of("Who replaced Nazarbayev?"), Wanted::Name);
        assert_eq!(Wanted::of("Why did Tokayev call early elections?"), Wanted::Reason);
        assert_eq!(Wanted::of("What did the panel discuss?"), Wanted::Anything);
        assert_eq!(Wanted::Reason.found_in("In order to ensure concord, we must act.", "Why?"), 1.0);
        assert_eq!(Wanted::Date.found_in("It was held on 9 June 2019.", "When?"), 1.0);
        assert_eq!(Wanted::Name.found_in("Tokayev replaced him.", "Who replaced Nazarbayev?"), 0.0);
        assert_eq!(Wanted::Name.found_in("He was replaced by Tokayev.", "Who replaced Nazarbayev?"), 1.0);
    }
}

#[cfg(test)]
mod answer_tests {
    use footnote_index::{Passage, ScoredPassage};

    use super::*;

    fn hit(id: &str, text: &str, score: f32) -> ScoredPassage {
        ScoredPassage {
            passage: Passage {
                id: id.into(),
                doc_id: format!("{id}.txt"),
                title: format!("Title {id}"),
                source: None,
                date: None,
                text: text.into(),
                position: 0,
                start: 0,
                end: text.chars().count(),
                page: None,
                section: None,
            },
            score,
        }
    }

    fn answerer() -> ExtractiveAnswerer {
        ExtractiveAnswerer::with_bm25(Bm25Params::default(), Settings::default(), None)
    }

    #[test]
    fn markers_and_sources_match_one_to_one_and_events_come_in_order() {
        let passages = [
            hit("a", "The snap election was held on 9 June 2019. Tokayev won it with 70 percent of the vote.", 1.0),
            hit("b", "Tokayev called the early election to remove uncertainty. Turnout in the election was high.", 0.95),
            hit("c", "Almaty is the largest city.", 0.2),
        ];
        let mut events = Vec::new();
        let answer = answerer().answer(
            "When was the early election held and why did Tokayev call it?",
            &[],
            &passages,
            Signals { dense_best: 0.8, ..Signals::default() },
            &mut |e| events.push(match e {
                AnswerEvent::Sources(s) => format!("sources:{}", s.len()),
                AnswerEvent::Text(t) => format!("text:{t}"),
            }),
        );
        assert!(!answer.body.abstained);
        assert!(events[0].starts_with("sources:") && events[1..].iter().all(|e| e.starts_with("text:")));
        assert_eq!(events.iter().filter(|e| e.starts_with("text:")).count(), answer.body.sentences.len());

        // Markers in the text are exactly the citation numbers, numbered by first use.
        let markers: Vec<usize> = answer.body.text.match_indices('[').map(|(i, _)| {
            answer.body.text[i + 1..].split(']').next().unwrap().parse().unwrap()
        }).collect();
        let mut first_use: Vec<usize> = Vec::new();
        for m in &markers {
            if !first_use.contains(m) {
                first_use.push(*m);
            }
        }
        assert_eq!(first_use, (1..=answer.citations.len()).collect::<Vec<_>>());
        assert_eq!(answer.citations.iter().map(|c| c.n).collect::<Vec<_>>(), first_use);
        // Every sentence is a whole sentence of the passage it cites, and highlighted there.
        for sentence in &answer.body.sentences {
            let citation = &answer.citations[sentence.citations[0] - 1];
            assert!(citation.text.contains(&sentence.text));
            assert!(citation.highlights.iter().any(|&(s, e)| {
                citation.text.chars().skip(s).take(e - s).collect::<String>() == sentence.text
            }));
        }
        assert!(answer.citations.iter().all(|c| c.passage_id != "c"), "an unrelated passage was cited");
    }

    #[test]
    fn weak_evidence_abstains_without_citations() {
        let passages = [hit("a", "The snap election was held on 9 June 2019.", 1.0)];
        for (question, dense) in [("What is the capital of France?", 0.2), ("hello", 0.1), ("When was the snap election held?", 0.1)] {
            let answer = answerer().answer(question, &[], &passages, Signals { dense_best: dense, ..Signals::default() }, &mut |_| {});
            assert!(answer.body.abstained, "{question}");
            assert!(answer.citations.is_empty() && answer.body.sentences.is_empty());
            assert_eq!(answer.body.text, ABSTENTION);
        }
    }

    #[test]
    fn headings_are_never_cited() {
        let passages = [hit("a", "Early elections rationale\n\nThe early elections were needed to remove uncertainty.", 1.0)];
        let answer = answerer().answer("Why were early elections needed?", &[], &passages, Signals { dense_best: 0.7, ..Signals::default() }, &mut |_| {});
        assert!(answer.body.sentences.iter().all(|s| s.text != "Early elections rationale"));
    }

    /// Two occasions, each with its reason: the second account of the first
    /// occasion states no reason outright and stays out; the other occasion's
    /// reasons come in with the sentence that introduces them.
    #[test]
    fn a_why_answer_gives_each_occasion_its_reason() {
        let passages = [
            hit("a", "In April the president called an early election for June. In order to ensure concord, we must eliminate all uncertainty.", 1.0),
            hit("b", "On 9 April the president announced early elections: he believes early elections are a vital necessity.", 0.95),
            hit("c", "The weather in June was mild across the country and the harvest was good.", 0.9),
            hit("d", "We review the reasons behind the president's decision to hold the extraordinary election in 2022. Two factors stand out: the economy and foreign policy.", 0.8),
        ];
        let answer = answerer().answer(
            "Why did the president call early elections?",
            &[],
            &passages,
            Signals { dense_best: 0.8, ..Signals::default() },
            &mut |_| {},
        );
        let text = &answer.body.text;
        assert!(text.contains("eliminate all uncertainty"), "{text}");
        assert!(text.contains("Two factors stand out"), "{text}");
        let cited: Vec<&str> = answer.citations.iter().map(|c| c.passage_id.as_str()).collect();
        assert_eq!(cited, ["a", "d"], "{text}");
    }
}
