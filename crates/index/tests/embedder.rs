//! A server's embedding sessions give the vectors the commands' session gives,
//! to each caller its own, whether questions arrive alone or many at once, and
//! run below the threads that do the rest of each request, and still do once
//! the pages of their weights are handed back.
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

/// The nice value of a thread of this process, from `/proc` (field 19 of
/// `stat`, counted after the command name in parentheses, which may hold spaces).
#[cfg(target_os = "linux")]
fn nice_of(stat_path: &std::path::Path) -> i32 {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(16).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn serving_sessions_run_below_the_threads_that_answer() {
    let _serving = Embedder::load_serving(&model(), 2).expect("serving sessions load");
    let own = nice_of("/proc/thread-self/stat".as_ref());
    let mut sessions = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        if name.trim_end() == "embedder-0" || name.trim_end() == "embedder-1" {
            sessions.push(nice_of(&task.join("stat")));
        }
    }
    // Threads the sessions start (a tokenizer's pool) take their name and nice value.
    assert!(sessions.len() >= 2, "no session threads found: {sessions:?}");
    for nice in sessions {
        assert_eq!(nice, (own + 10).min(19), "a session thread runs at nice {nice}; this thread at {own}");
    }
}

/// The int8 file's weights are of other element types (int8 and uint8
/// matrices, f32 scales); the serving sessions share them too and give the
/// commands' vectors. Text by text: the file quantises each run's activations
/// by that run's range, so a text's vector moves a little with the texts it
/// is batched with (cosine about 0.996), in the commands as in a server.
#[test]
fn serving_sessions_of_the_int8_file_embed_as_the_commands_do() {
    let ModelSource::Directory { path, .. } = model() else { unreachable!() };
    let int8 = ModelSource::Directory { path, onnx_file: footnote_index::INT8_MODEL_FILE.into() };
    let shared = Embedder::load(&int8).expect("int8 model loads (scripts/setup.sh writes the file)");
    let serving = Embedder::load_serving(&int8, 2).expect("int8 serving sessions load");
    assert_eq!(serving.identity(), shared.identity());
    for text in QUESTIONS {
        let similarity = cosine(&serving.embed_query(text).unwrap(), &shared.embed_query(text).unwrap());
        assert!(similarity > 0.9999, "{text:?}: cosine {similarity} against the commands' vector");
    }
}

#[test]
fn serving_sessions_embed_alike_after_their_weights_pages_are_handed_back() {
    // A server's sessions read the weights from a scratch file whose pages it
    // hands back to the kernel after an ingest: they must come back as they were.
    let serving = Embedder::load_serving(&model(), 1).expect("serving session loads");
    let before: Vec<Vec<f32>> = QUESTIONS.iter().map(|text| serving.embed_query(text).unwrap()).collect();
    footnote_onnx::return_weight_pages();
    let after: Vec<Vec<f32>> = QUESTIONS.iter().map(|text| serving.embed_query(text).unwrap()).collect();
    assert_eq!(before, after);
}
