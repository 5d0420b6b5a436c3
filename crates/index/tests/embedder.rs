//! A server's embedding sessions give the vectors the commands' session gives,
//! to each caller its own, whether questions arrive alone or many at once.
//!
//! Uses the real model (`FOOTNOTE_MODEL_DIR`).

use std::sync::Arc;

use footnote_index::{Embedder, ModelSource};

fn model() -> ModelSource {
    let path = std::env::var_os("FOOTNOTE_MODEL_DIR")
        .map(Into::into)
        .expect("FOOTNOTE_MODEL_DIR names the model directory (scripts/test.sh sets it)");
    ModelSource::Directory { path, onnx_file: "model.onnx".into() }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Questions of different lengths, so that batches mix and split them.
const QUESTIONS: [&str; 12] = [
    "why did Tokayev call early elections?",
    "Who succeeded Nazarbayev?",
    "When was the capital renamed Astana again?",
    "How many seats does the Mazhilis have?",
    "What happened in January 2022 in Almaty, and how did the government respond to the protests over fuel prices?",
    "what is the Aral Sea",
    "Which party won the 2023 legislative election?",
    "capital",
    "What reforms did the constitutional referendum of June 2022 bring to the presidency and to parliament?",
    "Who is Karim Massimov?",
    "What does 'New Kazakhstan' mean?",
    "How long is the presidential term now?",
];

#[test]
fn serving_sessions_embed_each_caller_its_own_question_as_the_commands_do() {
    let shared = Embedder::load(&model()).expect("model loads");
    let serving = Arc::new(Embedder::load_serving(&model(), 2).expect("serving sessions load"));
    assert_eq!(serving.identity(), shared.identity());

    // Every question at once from its own thread, several rounds, so that the
    // sessions take them in batches.
    let threads: Vec<_> = QUESTIONS
        .iter()
        .map(|&question| {
            let serving = serving.clone();
            std::thread::spawn(move || (0..5).map(|_| serving.embed_query(question).expect("embedded")).collect::<Vec<_>>())
        })
        .collect();
    for (question, thread) in QUESTIONS.iter().zip(threads) {
        let expected = shared.embed_query(question).unwrap();
        for vector in thread.join().unwrap() {
            assert_eq!(vector.len(), expected.len());
            let similarity = cosine(&vector, &expected);
            assert!(similarity > 0.9999, "{question:?}: cosine {similarity} against the commands' vector");
        }
    }
}

#[test]
fn serving_sessions_embed_passages_in_order_between_questions() {
    let shared = Embedder::load(&model()).expect("model loads");
    let serving = Arc::new(Embedder::load_serving(&model(), 2).expect("serving sessions load"));
    let passages: Vec<String> = (0..30)
        .map(|i| format!("Report {i}: {}", "the district budget for schools and roads grew again. ".repeat(1 + i % 7)))
        .collect();
    let asking = {
        let serving = serving.clone();
        std::thread::spawn(move || (0..20).map(|_| serving.embed_query(QUESTIONS[0]).unwrap()).collect::<Vec<_>>())
    };
    let embedded = serving.embed_passages(&passages).expect("passages embedded");
    let expected = shared.embed_passages(&passages).unwrap();
    assert_eq!(embedded.len(), passages.len());
    for (i, (vector, expected)) in embedded.iter().zip(&expected).enumerate() {
        let similarity = cosine(vector, expected);
        assert!(similarity > 0.9999, "passage {i}: cosine {similarity} against the commands' vector");
    }
    let question = shared.embed_query(QUESTIONS[0]).unwrap();
    for vector in asking.join().unwrap() {
        assert!(cosine(&vector, &question) > 0.9999);
    }
}
