//! `footnote eval`: measures retrieval on a question set through the same path
//! `footnote search` takes.
//!
//! A passage is gold for a question when it contains one of the question's
//! `evidence` strings, both normalised (Unicode NFKC, lower case, curly quotes to
//! straight, whitespace collapsed).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use footnote_index::{Index, Passage};
use footnote_ingest::{Ingestor, Silent};
use footnote_retrieval::{DEFAULT_RANKING, Query, RankingSpec, Retriever};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::Settings;

#[derive(Debug, Clone, Deserialize)]
pub struct QaItem {
    pub id: String,
    pub question: String,
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

/// Metrics of one ranking over a question set.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalMetrics {
    pub ranking: String,
    pub questions: usize,
    pub answerable: usize,
    pub recall_at_1: Option<f64>,
    pub recall_at_5: Option<f64>,
    pub recall_at_10: Option<f64>,
    pub mrr_at_10: Option<f64>,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub id: String,
    /// 1-based rank of the first gold passage within the top k, if any.
    pub rank: Option<usize>,
    pub passage_ids: Vec<String>,
}

/// Rank of the first gold passage (1-based), given normalised evidence strings.
pub fn first_gold_rank(passages: &[&Passage], evidence: &[String]) -> Option<usize> {
    passages.iter().position(|p| is_gold(&normalise(&p.text), evidence)).map(|i| i + 1)
}

fn is_gold(normalised_text: &str, evidence: &[String]) -> bool {
    evidence.iter().any(|e| !e.is_empty() && normalised_text.contains(e.as_str()))
}

/// Recall at each cut-off and MRR@10 from first-gold ranks of the eligible questions.
pub fn metrics(ranking: String, questions: usize, ranks: &[Option<usize>], latencies_ms: &mut [f64]) -> RetrievalMetrics {
    let n = ranks.len();
    let rate = |hit: &dyn Fn(usize) -> bool| {
        (n > 0).then(|| ranks.iter().filter(|r| r.is_some_and(hit)).count() as f64 / n as f64)
    };
    let mrr = (n > 0).then(|| {
        ranks.iter().map(|r| r.filter(|&r| r <= 10).map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>() / n as f64
    });
    latencies_ms.sort_by(f64::total_cmp);
    RetrievalMetrics {
        ranking,
        questions,
        answerable: n,
        recall_at_1: rate(&|r| r <= 1),
        recall_at_5: rate(&|r| r <= 5),
        recall_at_10: rate(&|r| r <= 10),
        mrr_at_10: mrr,
        latency_ms_p50: percentile(latencies_ms, 0.50),
        latency_ms_p95: percentile(latencies_ms, 0.95),
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

pub fn run(
    settings: &Settings,
    qa: &Path,
    docs: Option<&Path>,
    k: usize,
    rankings: &[RankingSpec],
    prefetch: usize,
    json: bool,
) -> anyhow::Result<()> {
    let items = read_qa(qa)?;
    let temporary;
    let index = match docs {
        Some(docs) => {
            temporary = tempfile::tempdir().context("cannot create a temporary index")?;
            let index = Index::open(temporary.path(), &settings.model_source())?;
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
        None => Index::open(&settings.data_dir, &settings.model_source())?,
    };
    let rankings: Vec<RankingSpec> =
        if rankings.is_empty() { vec![RankingSpec(DEFAULT_RANKING)] } else { rankings.to_vec() };
    let k = k.max(10);

    let all_passages = index.store().passages(None)?;
    let normalised_passages: Vec<String> = all_passages.iter().map(|p| normalise(&p.text)).collect();
    let evidence: Vec<Vec<String>> = items.iter().map(|q| q.evidence.iter().map(|e| normalise(e)).collect()).collect();
    let eligible: Vec<usize> = (0..items.len()).filter(|&i| items[i].answerable && !evidence[i].is_empty()).collect();
    let unmatched = eligible
        .iter()
        .filter(|&&i| !normalised_passages.iter().any(|p| is_gold(p, &evidence[i])))
        .count();

    let mut ranks: Vec<Vec<Option<usize>>> = vec![Vec::new(); rankings.len()];
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); rankings.len()];
    let mut per_question = Vec::new();
    for &i in &eligible {
        let item = &items[i];
        let query = Query::new(item.question.clone(), k);
        let embed_started = Instant::now();
        let dense = index.embedder().embed_query(&item.question)?;
        let embed_ms = embed_started.elapsed().as_secs_f64() * 1e3;
        for (r, RankingSpec(ranking)) in rankings.iter().enumerate() {
            let started = Instant::now();
            let hits = Retriever::new(&index).with_ranking(*ranking).with_prefetch(prefetch).search_embedded(&query, dense.clone())?;
            latencies[r].push(embed_ms + started.elapsed().as_secs_f64() * 1e3);
            let passages: Vec<&Passage> = hits.iter().map(|h| &h.passage).collect();
            let rank = first_gold_rank(&passages, &evidence[i]);
            ranks[r].push(rank);
            if r == 0 {
                per_question.push(QuestionResult {
                    id: item.id.clone(),
                    rank,
                    passage_ids: hits.iter().map(|h| h.passage.id.clone()).collect(),
                });
            }
        }
    }
    let results: Vec<RetrievalMetrics> = rankings
        .iter()
        .zip(ranks.iter())
        .zip(latencies.iter_mut())
        .map(|((spec, ranks), lat)| metrics(spec.to_string(), items.len(), ranks, lat))
        .collect();

    if json {
        let head = &results[0];
        let output = serde_json::json!({
            "questions": head.questions,
            "answerable": head.answerable,
            "recall_at_1": head.recall_at_1,
            "recall_at_5": head.recall_at_5,
            "recall_at_10": head.recall_at_10,
            "mrr_at_10": head.mrr_at_10,
            "latency_ms_p50": head.latency_ms_p50,
            "latency_ms_p95": head.latency_ms_p95,
            "evidence_not_in_index": unmatched,
            "rankings": results,
            "per_question": per_question,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    println!("{} questions, {} with evidence; {} whose evidence no stored passage contains", items.len(), eligible.len(), unmatched);
    println!("{:<22} {:>6} {:>6} {:>6} {:>7} {:>8} {:>8}", "ranking", "R@1", "R@5", "R@10", "MRR@10", "p50 ms", "p95 ms");
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    for m in &results {
        println!(
            "{:<22} {:>6} {:>6} {:>6} {:>7} {:>8} {:>8}",
            m.ranking,
            show(m.recall_at_1),
            show(m.recall_at_5),
            show(m.recall_at_10),
            show(m.mrr_at_10),
            m.latency_ms_p50.map_or("-".into(), |v| format!("{v:.2}")),
            m.latency_ms_p95.map_or("-".into(), |v| format!("{v:.2}")),
        );
    }
    let misses: Vec<&QuestionResult> = per_question.iter().filter(|q| q.rank.is_none()).take(10).collect();
    if !misses.is_empty() {
        println!("\nmisses (no gold passage in the top {k}), first {}:", misses.len());
        for miss in misses {
            if let Some(item) = items.iter().find(|q| q.id == miss.id) {
                println!("  {}  {}", item.id, item.question);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_quotes_width_and_space() {
        assert_eq!(normalise("  The “Quoted”\n  Ｗord’s "), "the \"quoted\" word's");
    }

    #[test]
    fn metrics_on_a_hand_checked_fixture() {
        // Ranks 1, 3, none, 7, 12: R@1 = 1/5, R@5 = 2/5, R@10 = 3/5,
        // MRR@10 = (1 + 1/3 + 0 + 1/7 + 0) / 5.
        let ranks = [Some(1), Some(3), None, Some(7), Some(12)];
        let mut latencies = [5.0, 1.0, 4.0, 2.0, 3.0];
        let m = metrics("x".into(), 6, &ranks, &mut latencies);
        assert_eq!((m.questions, m.answerable), (6, 5));
        assert_eq!(m.recall_at_1, Some(0.2));
        assert_eq!(m.recall_at_5, Some(0.4));
        assert_eq!(m.recall_at_10, Some(0.6));
        assert!((m.mrr_at_10.unwrap() - (1.0 + 1.0 / 3.0 + 1.0 / 7.0) / 5.0).abs() < 1e-12);
        assert_eq!((m.latency_ms_p50, m.latency_ms_p95), (Some(3.0), Some(5.0)));
        let empty = metrics("x".into(), 0, &[], &mut []);
        assert_eq!((empty.recall_at_1, empty.mrr_at_10, empty.latency_ms_p50), (None, None, None));
    }
}
