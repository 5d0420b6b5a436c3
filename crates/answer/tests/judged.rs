//! The extractive answerer with the real answer judge (FOOTNOTE_RERANKER_DIR,
//! ORT_DYLIB_PATH; scripts/test.sh sets both) on hand-made passages.

mod common;

use common::{hit, judge};
use footnote_answer::{Answerer, ExtractiveAnswerer, ExtractiveSettings, Signals};
use footnote_index::Bm25Params;

/// Word overlap ranks first the passage that repeats the question's words;
/// the judge moves the one that answers to the top, the answer leads with its
/// sentence and cites it first, with the judge's support, above that of
/// anything else cited.
#[test]
fn the_passage_that_answers_is_ranked_first_and_cited_first() {
    let answerer = ExtractiveAnswerer::with_bm25(Bm25Params::default(), ExtractiveSettings::default(), Some(judge()));
    let mut passages = vec![
        hit("talk", "Tokayev took office questions seriously. When Tokayev took the stage, he spoke about office politics at length.", 1.0),
        hit("fact", "Kassym-Jomart Tokayev assumed office on March 20, 2019, after the resignation of Nursultan Nazarbayev. He was sworn in before parliament.", 0.8),
        hit("other", "Almaty is the largest city of Kazakhstan and its commercial centre.", 0.5),
    ];
    let question = "When did Tokayev take office?";
    let judged = answerer.judge(question, &[], &mut passages).unwrap().expect("the judge is on");
    assert_eq!(passages[0].passage.id, "fact", "reranked: {:?}", passages.iter().map(|p| &p.passage.id).collect::<Vec<_>>());
    assert_eq!(judged.passage_support.len(), passages.len());
    assert!(judged.passage_support[0] > 0.5, "{:?}", judged.passage_support);

    let answer = answerer.answer(question, &[], &passages, Signals { dense_best: 0.6, judged: Some(judged) }, &mut |_| {});
    assert!(!answer.body.abstained);
    assert!(answer.body.sentences[0].text.contains("March 20"), "{}", answer.body.text);
    assert_eq!(answer.citations[0].passage_id, "fact", "{}", answer.body.text);
    assert!(answer.citations.iter().all(|c| c.passage_id != "other"), "{}", answer.body.text);
    let support = answer.citations[0].support.expect("a judged citation carries its support");
    assert!(support > 0.5 && support <= 1.0);
    assert!(answer.citations[1..].iter().all(|c| c.support.is_none_or(|s| s < support)), "{:#?}", answer.citations);
    assert!(answer.confidence.sentence_support.is_some() && answer.confidence.passage_support.is_some());
}

/// A question on the documents' subject that they do not answer: the passages
/// share its words, the judge finds no sentence that answers, and the answer
/// abstains without citations.
#[test]
fn an_on_topic_question_the_passages_do_not_answer_is_declined() {
    let answerer = ExtractiveAnswerer::with_bm25(Bm25Params::default(), ExtractiveSettings::default(), Some(judge()));
    let mut passages = vec![
        hit("a", "Putin is a lone wolf who divorced his wife several years ago. His daughters are absent from Russian politics.", 1.0),
        hit("b", "Tokayev won the early presidential election in June 2019 with 70 percent of the vote.", 0.9),
    ];
    let question = "What is the name of Tokayev's wife?";
    let judged = answerer.judge(question, &[], &mut passages).unwrap();
    let answer = answerer.answer(question, &[], &passages, Signals { dense_best: 0.5, judged }, &mut |_| {});
    assert!(answer.body.abstained, "answered: {}", answer.body.text);
    assert!(answer.citations.is_empty());
}
