//! `footnote eval`: measures retrieval and answers on a question set, running
//! every question through the same path as `footnote ask`.
//!
//! A passage is gold for a question when it contains one of the question's
//! `evidence` strings; an answer hits when its text contains one of the
//! `answers` strings; both after normalising (Unicode NFKC, lower case, curly
//! quotes to straight, whitespace collapsed).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use footnote_answer::{AnswerMode, AskRequest, AskResponse, Confidence, WarningCode};
use footnote_index::{Index, Location, Passage};
use footnote_ingest::{Ingestor, Silent};
use footnote_retrieval::{Query, RankingSpec, Retriever};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::cli::{AnswerArgs, Settings};
use footnote_judge::Sessions;

#[derive(Debug, Clone, Deserialize)]
pub struct QaItem {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub answers: Vec<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default = "answerable_by_default")]
    pub answerable: bool,
}

fn answerable_by_default() -> bool {
    true
}

pub fn normalise(text: &str) -> String {
    let folded: String = text
        .nfkc()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '‘' | '’' | '‚' | '‛' | '′' => '\'',
            '“' | '”' | '„' | '‟' | '″' => '"',
            other => other,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What one question produced, reduced to what the metrics need.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub id: String,
    #[serde(skip)]
    pub answerable: bool,
    /// Whether the question has evidence, answers (answerable questions only).
    #[serde(skip)]
    pub has_evidence: bool,
    #[serde(skip)]
    pub has_answers: bool,
    /// 1-based rank of the first gold passage within the top k, if any.
    pub rank: Option<usize>,
    pub answer_hit: bool,
    pub abstained: bool,
    /// The answerer's confidence and its parts, for calibrating abstention.
    pub confidence: Confidence,
    pub cited_passage_ids: Vec<String>,
    /// The ids of the ranked passages, best first, for studying the ranking.
    pub ranked_passage_ids: Vec<String>,
    /// How many of the cited passages are gold.
    #[serde(skip)]
    pub cited_gold: usize,
    #[serde(skip)]
    pub latency_ms: f64,
    /// Who wrote the answer.
    pub mode: AnswerMode,
    /// Generated sentences shown (verified) and not shown.
    pub verified_sentences: usize,
    pub unsupported_sentences: usize,
    /// Why the answer is not (all) the model's, if so.
    pub warning: Option<WarningCode>,
    /// Milliseconds to the first sentence shown.
    pub first_sentence_ms: f64,
}

impl QuestionResult {
    /// Whether a language model was asked: it wrote the answer, or it failed
    /// or declined and the answer fell back.
    fn model_asked(&self) -> bool {
        self.mode == AnswerMode::Generative || self.warning.is_some()
    }
}

/// The pinned metrics of `footnote eval --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub questions: usize,
    pub answerable: usize,
    pub recall_at_1: Option<f64>,
    pub recall_at_5: Option<f64>,
    pub recall_at_10: Option<f64>,
    pub mrr_at_10: Option<f64>,
    pub answer_hit: Option<f64>,
    pub citation_hit: Option<f64>,
    pub citation_precision: Option<f64>,
    pub abstain_rate_unanswerable: Option<f64>,
    pub abstain_rate_answerable: Option<f64>,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    /// With a language model: share of the questions it was asked (those the
    /// judge did not abstain on) whose answer is extractive, it having failed,
    /// declined or written nothing verifiable.
    pub llm_fallback_rate: Option<f64>,
    /// With a language model: share of the sentences it wrote that passed verification.
    pub generated_verified_rate: Option<f64>,
    /// Milliseconds to the first sentence shown.
    pub first_sentence_ms_p50: Option<f64>,
    pub first_sentence_ms_p95: Option<f64>,
}

fn fraction(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

pub fn metrics(results: &[QuestionResult]) -> Metrics {
    let answerable: Vec<&QuestionResult> = results.iter().filter(|r| r.answerable).collect();
    let with_evidence: Vec<&&QuestionResult> = answerable.iter().filter(|r| r.has_evidence).collect();
    let with_answers = answerable.iter().filter(|r| r.has_answers).count();
    let unanswerable = results.len() - answerable.len();
    let recall = |k: usize| fraction(with_evidence.iter().filter(|r| r.rank.is_some_and(|r| r <= k)).count(), with_evidence.len());
    let mrr = (!with_evidence.is_empty()).then(|| {
        with_evidence.iter().map(|r| r.rank.filter(|&r| r <= 10).map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>()
            / with_evidence.len() as f64
    });
    let cited: usize = with_evidence.iter().map(|r| r.cited_passage_ids.len()).sum();
    let cited_gold: usize = with_evidence.iter().map(|r| r.cited_gold).sum();
    let mut latencies: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut first: Vec<f64> = results.iter().map(|r| r.first_sentence_ms).collect();
    first.sort_by(f64::total_cmp);
    let asked: Vec<&QuestionResult> = results.iter().filter(|r| r.model_asked()).collect();
    let verified: usize = asked.iter().map(|r| r.verified_sentences).sum();
    let written: usize = verified + asked.iter().map(|r| r.unsupported_sentences).sum::<usize>();
    Metrics {
        questions: results.len(),
        answerable: answerable.len(),
        recall_at_1: recall(1),
        recall_at_5: recall(5),
        recall_at_10: recall(10),
        mrr_at_10: mrr,
        answer_hit: fraction(answerable.iter().filter(|r| r.has_answers && r.answer_hit).count(), with_answers),
        citation_hit: fraction(with_evidence.iter().filter(|r| r.cited_gold > 0).count(), with_evidence.len()),
        citation_precision: fraction(cited_gold, cited),
        abstain_rate_unanswerable: fraction(results.iter().filter(|r| !r.answerable && r.abstained).count(), unanswerable),
        abstain_rate_answerable: fraction(answerable.iter().filter(|r| r.abstained).count(), answerable.len()),
        latency_ms_p50: percentile(&latencies, 0.50),
        latency_ms_p95: percentile(&latencies, 0.95),
        llm_fallback_rate: fraction(asked.iter().filter(|r| r.mode == AnswerMode::Extractive).count(), asked.len()),
        generated_verified_rate: fraction(verified, written),
        first_sentence_ms_p50: percentile(&first, 0.50),
        first_sentence_ms_p95: percentile(&first, 0.95),
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn is_gold(passage: &Passage, evidence: &[String]) -> bool {
    let text = normalise(&passage.text);
    evidence.iter().any(|e| !e.is_empty() && text.contains(e.as_str()))
}

/// Scores one answered question against its gold data.
pub fn score_question(item: &QaItem, response: &AskResponse, k: usize, latency_ms: f64) -> QuestionResult {
    let evidence: Vec<String> = item.evidence.iter().map(|e| normalise(e)).collect();
    let answers: Vec<String> = item.answers.iter().map(|a| normalise(a)).filter(|a| !a.is_empty()).collect();
    let rank = response.ranked.iter().take(k).position(|h| is_gold(&h.passage, &evidence)).map(|i| i + 1);
    let answer_text = normalise(&response.answer.body.text);
    let abstained = response.answer.body.abstained;
    let cited_gold = response
        .answer
        .citations
        .iter()
        .filter(|c| response.ranked.iter().any(|h| h.passage.id == c.passage_id && is_gold(&h.passage, &evidence)))
        .count();
    QuestionResult {
        id: item.id.clone(),
        answerable: item.answerable,
        has_evidence: !evidence.is_empty(),
        has_answers: !answers.is_empty(),
        rank,
        answer_hit: !abstained && answers.iter().any(|a| answer_text.contains(a.as_str())),
        abstained,
        confidence: response.answer.confidence,
        cited_passage_ids: response.answer.citations.iter().map(|c| c.passage_id.clone()).collect(),
        ranked_passage_ids: response.ranked.iter().take(k).map(|h| h.passage.id.clone()).collect(),
        cited_gold,
        latency_ms,
        mode: response.answer.body.mode,
        verified_sentences: if response.answer.body.mode == AnswerMode::Generative { response.answer.body.sentences.len() } else { 0 },
        unsupported_sentences: response.answer.body.unsupported.len(),
        warning: response.answer.body.warning.as_ref().map(|w| w.code),
        first_sentence_ms: response.timings_ms.first_sentence,
    }
}

pub fn read_qa(path: &Path) -> anyhow::Result<Vec<QaItem>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| format!("{} line {}: not a QA item", path.display(), i + 1))
        })
        .collect()
}

pub struct EvalOptions<'a> {
    pub qa: &'a Path,
    pub docs: Option<&'a Path>,
    pub k: usize,
    /// Extra rankings to compare on retrieval alone.
    pub rankings: &'a [RankingSpec],
    pub prefetch: usize,
    pub answer: &'a AnswerArgs,
    pub json: bool,
}

pub fn run(settings: &Settings, options: EvalOptions) -> anyhow::Result<()> {
    let items = read_qa(options.qa)?;
    let temporary;
    let index = match options.docs {
        Some(docs) => {
            temporary = tempfile::tempdir().context("cannot create a temporary index")?;
            let location = Location::Embedded(temporary.path().to_path_buf());
            let index = Index::open(&location, &settings.model_source_for(&location))?;
            let started = Instant::now();
            let report = Ingestor::new(&index).ingest(&[docs.to_path_buf()], &Silent)?;
            eprintln!(
                "indexed {} passages from {} in {:.1} s",
                report.passages_written,
                docs.display(),
                started.elapsed().as_secs_f64()
            );
            index
        }
        None => Index::open(&settings.location(), &settings.model_source())?,
    };
    let k = options.k.max(10);
    let (asker, _) = options.answer.asker(std::sync::Arc::new(index), Sessions::one_per_core())?;
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let request = AskRequest { question: item.question.clone(), top_k: Some(k), ..Default::default() };
        let started = Instant::now();
        let response = asker.ask(&request, &mut |_| {})?;
        let latency = started.elapsed().as_secs_f64() * 1e3;
        results.push(score_question(item, &response, k, latency));
    }
    let head = metrics(&results);
    let comparisons = compare_rankings(asker.index(), &items, k, options.rankings, options.prefetch)?;

    if options.json {
        let mut output = serde_json::to_value(&head)?;
        output["per_question"] = serde_json::to_value(&results)?;
        if !comparisons.is_empty() {
            output["rankings"] = serde_json::to_value(&comparisons)?;
        }
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    print_report(&items, &results, &head, &comparisons);
    Ok(())
}

/// Retrieval metrics of other rankings on the same questions, each question
/// embedded once.
#[derive(Debug, Serialize)]
struct RankingRow {
    ranking: String,
    recall_at_1: Option<f64>,
    recall_at_5: Option<f64>,
    recall_at_10: Option<f64>,
    mrr_at_10: Option<f64>,
}

fn compare_rankings(index: &Index, items: &[QaItem], k: usize, rankings: &[RankingSpec], prefetch: usize) -> anyhow::Result<Vec<RankingRow>> {
    if rankings.is_empty() {
        return Ok(Vec::new());
    }
    let mut ranks: Vec<Vec<QuestionResult>> = (0..rankings.len()).map(|_| Vec::new()).collect();
    for item in items.iter().filter(|q| q.answerable && !q.evidence.is_empty()) {
        let evidence: Vec<String> = item.evidence.iter().map(|e| normalise(e)).collect();
        let dense = index.embedder().embed_query(&item.question)?;
        for (r, RankingSpec(ranking)) in rankings.iter().enumerate() {
            let hits = Retriever::new(index)
                .with_ranking(*ranking)
                .with_prefetch(prefetch)
                .search_embedded(&Query::new(item.question.clone(), k), dense.clone())?;
            let rank = hits.iter().position(|h| is_gold(&h.passage, &evidence)).map(|i| i + 1);
            ranks[r].push(QuestionResult {
                id: item.id.clone(),
                answerable: true,
                has_evidence: true,
                has_answers: false,
                rank,
                answer_hit: false,
                abstained: false,
                confidence: Confidence::default(),
                cited_passage_ids: Vec::new(),
                ranked_passage_ids: Vec::new(),
                cited_gold: 0,
                latency_ms: 0.0,
                mode: AnswerMode::Extractive,
                verified_sentences: 0,
                unsupported_sentences: 0,
                warning: None,
                first_sentence_ms: 0.0,
            });
        }
    }
    Ok(rankings
        .iter()
        .zip(ranks)
        .map(|(spec, results)| {
            let m = metrics(&results);
            RankingRow {
                ranking: spec.to_string(),
                recall_at_1: m.recall_at_1,
                recall_at_5: m.recall_at_5,
                recall_at_10: m.recall_at_10,
                mrr_at_10: m.mrr_at_10,
            }
        })
        .collect())
}

fn print_report(items: &[QaItem], results: &[QuestionResult], m: &Metrics, comparisons: &[RankingRow]) {
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!("{} questions, {} answerable", m.questions, m.answerable);
    let rows = [
        ("recall@1", show(m.recall_at_1)),
        ("recall@5", show(m.recall_at_5)),
        ("recall@10", show(m.recall_at_10)),
        ("MRR@10", show(m.mrr_at_10)),
        ("answer hit", show(m.answer_hit)),
        ("citation hit", show(m.citation_hit)),
        ("citation precision", show(m.citation_precision)),
        ("abstained, unanswerable", show(m.abstain_rate_unanswerable)),
        ("abstained, answerable", show(m.abstain_rate_answerable)),
        ("latency p50 (ms)", m.latency_ms_p50.map_or("-".into(), |v| format!("{v:.2}"))),
        ("latency p95 (ms)", m.latency_ms_p95.map_or("-".into(), |v| format!("{v:.2}"))),
        ("first sentence p50 (ms)", m.first_sentence_ms_p50.map_or("-".into(), |v| format!("{v:.2}"))),
        ("first sentence p95 (ms)", m.first_sentence_ms_p95.map_or("-".into(), |v| format!("{v:.2}"))),
        ("LLM fell back", show(m.llm_fallback_rate)),
        ("generated verified", show(m.generated_verified_rate)),
    ];
    for (name, value) in rows {
        println!("  {name:<26} {value:>8}");
    }
    if !comparisons.is_empty() {
        println!("\n{:<22} {:>6} {:>6} {:>6} {:>7}", "ranking", "R@1", "R@5", "R@10", "MRR@10");
        for row in comparisons {
            println!(
                "{:<22} {:>6} {:>6} {:>6} {:>7}",
                row.ranking,
                show(row.recall_at_1),
                show(row.recall_at_5),
                show(row.recall_at_10),
                show(row.mrr_at_10)
            );
        }
    }
    let question = |id: &str| items.iter().find(|q| q.id == id).map_or("", |q| q.question.as_str());
    let misses: Vec<&QuestionResult> = results.iter().filter(|r| r.answerable && r.rank.is_none() && r.has_evidence).take(8).collect();
    let wrong: Vec<&QuestionResult> =
        results.iter().filter(|r| r.answerable && r.has_answers && !r.answer_hit).take(8).collect();
    let false_answers: Vec<&QuestionResult> = results.iter().filter(|r| !r.answerable && !r.abstained).take(8).collect();
    for (title, list) in [
        ("no gold passage retrieved", misses),
        ("answer misses the gold answer", wrong),
        ("answered though unanswerable", false_answers),
    ] {
        if !list.is_empty() {
            println!("\nworst misses: {title}");
            for r in list {
                println!("  {}  {}{}", r.id, question(&r.id), if r.abstained { "  (abstained)" } else { "" });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_quotes_width_and_space() {
        assert_eq!(normalise("  The “Quoted”\n  Ｗord’s "), "the \"quoted\" word's");
    }

    fn result(answerable: bool, rank: Option<usize>, hit: bool, abstained: bool, cited: usize, gold: usize, latency: f64) -> QuestionResult {
        QuestionResult {
            id: String::new(),
            answerable,
            has_evidence: answerable,
            has_answers: answerable,
            rank,
            answer_hit: hit,
            abstained,
            confidence: Confidence::default(),
            cited_passage_ids: vec![String::new(); cited],
            ranked_passage_ids: Vec::new(),
            cited_gold: gold,
            latency_ms: latency,
            mode: AnswerMode::Extractive,
            verified_sentences: 0,
            unsupported_sentences: 0,
            warning: None,
            first_sentence_ms: latency,
        }
    }

    #[test]
    fn metrics_on_a_hand_checked_fixture() {
        // Five answerable questions with first-gold ranks 1, 3, none, 7, 12, and
        // two unanswerable ones, one of which was (wrongly) answered.
        let results = [
            result(true, Some(1), true, false, 2, 1, 5.0),
            result(true, Some(3), false, false, 1, 1, 1.0),
            result(true, None, false, true, 0, 0, 4.0),
            result(true, Some(7), true, false, 2, 0, 2.0),
            result(true, Some(12), false, false, 1, 0, 3.0),
            result(false, None, false, true, 0, 0, 6.0),
            result(false, None, false, false, 1, 0, 7.0),
        ];
        let m = metrics(&results);
        assert_eq!((m.questions, m.answerable), (7, 5));
        assert_eq!(m.recall_at_1, Some(0.2));
        assert_eq!(m.recall_at_5, Some(0.4));
        assert_eq!(m.recall_at_10, Some(0.6));
        assert!((m.mrr_at_10.unwrap() - (1.0 + 1.0 / 3.0 + 1.0 / 7.0) / 5.0).abs() < 1e-12);
        assert_eq!(m.answer_hit, Some(0.4));
        // Questions with a gold citation: the first two. Cited passages of
        // answerable questions: 2 + 1 + 0 + 2 + 1 = 6, of which 2 gold.
        assert_eq!(m.citation_hit, Some(0.4));
        assert_eq!(m.citation_precision, Some(2.0 / 6.0));
        assert_eq!(m.abstain_rate_unanswerable, Some(0.5));
        assert_eq!(m.abstain_rate_answerable, Some(0.2));
        assert_eq!((m.latency_ms_p50, m.latency_ms_p95), (Some(4.0), Some(7.0)));
    }

    #[test]
    fn a_metric_with_no_eligible_question_is_null() {
        let m = metrics(&[result(false, None, false, true, 0, 0, 1.0)]);
        assert_eq!((m.recall_at_1, m.answer_hit, m.citation_precision, m.abstain_rate_answerable), (None, None, None, None));
        assert_eq!(m.abstain_rate_unanswerable, Some(1.0));
    }
}
