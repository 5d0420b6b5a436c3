//! The judge with the real cross-encoder (FOOTNOTE_RERANKER_DIR, set by
//! scripts/env.sh) and ONNX Runtime (ORT_DYLIB_PATH).

use std::path::PathBuf;

use footnote_judge::{Error, Judge, JudgeSource, Sessions};

fn model_dir() -> PathBuf {
    std::env::var_os("FOOTNOTE_RERANKER_DIR").expect("FOOTNOTE_RERANKER_DIR must be set (scripts/test.sh sets it)").into()
}

fn judge() -> Judge {
    Judge::load(&JudgeSource::Directory(model_dir()), Sessions::ONE_ON_ALL_CORES).expect("the judge loads")
}

/// The sentences of the issue that asked for a judge: word overlap picked the
/// one that shares the question's words; the judge must prefer the one that answers.
#[test]
fn a_sentence_that_answers_outscores_one_that_only_shares_words() {
    let judge = judge();
    let question = "When did Tokayev take office?";
    let texts = [
        "Tokayev said that his office would take the question of the capital's name to parliament.",
        "Kassym-Jomart Tokayev, who assumed office on March 20 after the resignation of Nursultan Nazarbayev, delivered his first address.",
        "Almaty is the largest city of Kazakhstan.",
    ];
    let scores = judge.score(question, &texts).unwrap();
    assert_eq!(scores.len(), 3);
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");
    assert!(scores[1] > 0.5 && scores[1] > scores[0] && scores[1] > scores[2], "{scores:?}");
    assert!(scores[2] < 0.1, "{scores:?}");

    // Scores come back in the order asked, from the cache or not.
    let reversed: Vec<&str> = texts.iter().rev().copied().collect();
    let again = judge.score(question, &reversed).unwrap();
    assert_eq!(again, scores.iter().rev().copied().collect::<Vec<_>>());
}

#[test]
fn a_missing_model_names_the_setting_that_fixes_it() {
    let error = Judge::load(&JudgeSource::Directory("/nonexistent/reranker".into()), Sessions::ONE_ON_ALL_CORES).unwrap_err();
    assert!(matches!(error, Error::ModelNotFound { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/reranker/model.onnx") && message.contains("FOOTNOTE_RERANKER_DIR"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
}

/// The embedding model has a model.onnx and a tokenizer too, but it is no
/// cross-encoder: loading it fails at once, saying what to set.
#[test]
fn an_embedding_model_is_refused_at_load() {
    let embedder = std::env::var_os("FOOTNOTE_MODEL_DIR").expect("FOOTNOTE_MODEL_DIR must be set (scripts/test.sh sets it)");
    let error = Judge::load(&JudgeSource::Directory(embedder.into()), Sessions::ONE_ON_ALL_CORES).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::ModelLoad { .. }), "{message}");
    assert!(message.contains("cross-encoder") && message.contains("FOOTNOTE_RERANKER_DIR"), "{message}");
}
