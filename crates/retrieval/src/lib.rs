//! Ranking passages for a question.
//!
//! A question is embedded twice, as a dense vector and as BM25 terms; Qdrant
//! ranks the passages by each and fuses the two rankings in one query (prefetch
//! plus fusion), so no candidate list crosses the process boundary. Passages that
//! repeat across documents are shown once.

use std::collections::HashSet;
use std::str::FromStr;

use footnote_index::{Fusion, HybridQuery, Index, Ranking, ScoredPassage, duplicate_key};

/// Candidates each ranking contributes to fusion. Fusion can only promote what
/// one of its parts found, and DBSF normalises each part by the spread of its
/// candidates' scores, so the depth shapes the ranking; chosen on squad2-dev.
pub const DEFAULT_PREFETCH: usize = 50;

/// The fusion used unless configured otherwise: distribution-based score fusion,
/// chosen on squad2-dev (docs/benchmarks.md has the comparison and the command).
pub const DEFAULT_RANKING: Ranking = Ranking::Fused(Fusion::Dbsf);

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub question: String,
    pub limit: usize,
    /// Only passages of these documents; empty for all.
    pub documents: Vec<String>,
}

impl Query {
    pub fn new(question: impl Into<String>, limit: usize) -> Self {
        Query { question: question.into(), limit, documents: Vec::new() }
    }
}

pub struct Retriever<'a> {
    index: &'a Index,
    ranking: Ranking,
    prefetch: usize,
}

impl<'a> Retriever<'a> {
    pub fn new(index: &'a Index) -> Self {
        Retriever { index, ranking: DEFAULT_RANKING, prefetch: DEFAULT_PREFETCH }
    }

    pub fn with_prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    pub fn with_ranking(mut self, ranking: Ranking) -> Self {
        self.ranking = ranking;
        self
    }

    pub fn search(&self, query: &Query) -> footnote_index::Result<Vec<ScoredPassage>> {
        let dense = self.index.embedder().embed_query(&query.question)?;
        self.search_embedded(query, dense)
    }

    /// Like [`Retriever::search`] with the dense question vector already made,
    /// so one embedding can be ranked several ways.
    pub fn search_embedded(&self, query: &Query, dense: Vec<f32>) -> footnote_index::Result<Vec<ScoredPassage>> {
        // Ask for a few more than needed: duplicates across documents are dropped below.
        let limit = query.limit + query.limit / 2 + 2;
        let hits = self.index.query(&HybridQuery {
            dense,
            sparse: self.index.sparse().encode_query(&query.question),
            ranking: self.ranking,
            prefetch_limit: self.prefetch.max(limit),
            limit,
            documents: query.documents.clone(),
        })?;
        let mut seen = HashSet::new();
        Ok(hits
            .into_iter()
            .filter(|hit| seen.insert(duplicate_key(&hit.passage.text)))
            .take(query.limit)
            .collect())
    }
}

impl Retriever<'_> {
    /// Cosine similarity of the question vector and the closest passage (within
    /// the query's documents): how near the collection comes to the question at
    /// all, whatever the fused ranking says. Zero when there are no passages.
    pub fn closest_dense_score(&self, query: &Query, dense: Vec<f32>) -> footnote_index::Result<f32> {
        let hits = self.index.query(&HybridQuery {
            dense,
            sparse: Default::default(),
            ranking: Ranking::Dense,
            prefetch_limit: 1,
            limit: 1,
            documents: query.documents.clone(),
        })?;
        Ok(hits.first().map_or(0.0, |h| h.score))
    }
}

/// A ranking written as text, for the command line and configuration:
/// `dense`, `bm25`, `dbsf`, `rrf` or `rrf:K:DENSE_WEIGHT:BM25_WEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingSpec(pub Ranking);

impl FromStr for RankingSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let number = |i: usize, default: f32| -> Result<f32, String> {
            parts.get(i).map_or(Ok(default), |p| p.parse().map_err(|_| format!("{p:?} in ranking {s:?} is not a number")))
        };
        let ranking = match parts[0] {
            "dense" => Ranking::Dense,
            "bm25" | "sparse" => Ranking::Sparse,
            "dbsf" => Ranking::Fused(Fusion::Dbsf),
            "rrf" => Ranking::Fused(Fusion::Rrf {
                k: number(1, 60.0)? as usize,
                dense_weight: number(2, 1.0)?,
                sparse_weight: number(3, 1.0)?,
            }),
            other => return Err(format!("unknown ranking {other:?}: use dense, bm25, dbsf or rrf[:K:DENSE:BM25]")),
        };
        Ok(RankingSpec(ranking))
    }
}

impl std::fmt::Display for RankingSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ranking::Dense => write!(f, "dense"),
            Ranking::Sparse => write!(f, "bm25"),
            Ranking::Fused(Fusion::Dbsf) => write!(f, "dbsf"),
            Ranking::Fused(Fusion::Rrf { k, dense_weight, sparse_weight }) => {
                write!(f, "rrf:{k}:{dense_weight}:{sparse_weight}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_specs_round_trip() {
        for text in ["dense", "bm25", "dbsf", "rrf:60:1:1", "rrf:20:0.5:1.5"] {
            assert_eq!(text.parse::<RankingSpec>().unwrap().to_string(), text);
        }
        assert_eq!("rrf".parse::<RankingSpec>().unwrap().to_string(), "rrf:60:1:1");
        assert!("rrf:x".parse::<RankingSpec>().unwrap_err().contains("not a number"));
        assert!("cosine".parse::<RankingSpec>().unwrap_err().contains("unknown ranking"));
    }
}
