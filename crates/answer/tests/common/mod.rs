//! What the answerer's integration tests share: the real answer judge and
//! hand-made passages.
#![allow(dead_code)]

use std::sync::Arc;

use footnote_answer::Judge;
use footnote_index::{Passage, ScoredPassage};
use footnote_judge::{JudgeSource, Sessions};

/// The real judge (FOOTNOTE_RERANKER_DIR, ORT_DYLIB_PATH; scripts/test.sh sets both).
pub fn judge() -> Arc<Judge> {
    let dir = std::env::var_os("FOOTNOTE_RERANKER_DIR").expect("FOOTNOTE_RERANKER_DIR must be set (scripts/test.sh sets it)");
    Arc::new(Judge::load(&JudgeSource::Directory(dir.into()), Sessions::ONE_ON_ALL_CORES).expect("the judge loads"))
}

/// A ranked passage `id` of its own document.
pub fn hit(id: &str, text: &str, score: f32) -> ScoredPassage {
    let passage = Passage {
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
    };
    ScoredPassage { passage, score }
}
