//! Whether a model file ranks alike on CPUs of another kind
//! (docs/benchmarks.md, "Which file, per machine"). ONNX Runtime picks its
//! int8 matrix kernels by the CPU: with VNNI (or AMX) the products of 8-bit
//! values are summed exactly; with AVX2 alone, pairs of them are summed in 16
//! bits first, which can saturate. Valgrind presents a CPU without AVX-512 or
//! VNNI, so the same binary run under it takes the AVX2 kernels (slowly, hence
//! a few articles only):
//!
//!     footnote --data-dir /tmp/sq passages --json > /tmp/sq-passages.json
//!     cargo build --release -p footnote-index --example kernel_agreement
//!     K=target/release/examples/kernel_agreement
//!     ARGS="/tmp/sq-passages.json ../shared/benchmarks/squad2-dev/qa.jsonl $FOOTNOTE_MODEL_DIR"
//!     $K embed $ARGS model-int8-per-channel.onnx /tmp/here.json
//!     taskset -c 0 valgrind --tool=none $K embed $ARGS model-int8-per-channel.onnx /tmp/avx2.json
//!     $K compare /tmp/here.json /tmp/avx2.json
//!
//! `embed` embeds the passages of `ARTICLES` and the answerable questions about
//! them on the odd lines of the question file, writes the vectors, and prints
//! dense R@1 and MRR@10 over those passages alone (gold: a passage holding an
//! evidence sentence). `compare` prints how close two runs' vectors are.

use std::path::PathBuf;

use footnote_index::{Embedder, ModelSource, cpu_has_vnni};
use serde_json::{Value, json};

/// Three of squad2-dev's smaller articles: 82 passages, 161 questions.
const ARTICLES: [&str; 3] = ["1973 oil crisis", "Packet switching", "Harvard University"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["embed", passages, questions, dir, file, out] => embed(passages, questions, dir, file, out),
        ["compare", a, b] => compare(a, b),
        _ => panic!("usage: kernel_agreement embed PASSAGES_JSON QA_JSONL MODEL_DIR ONNX_FILE OUT_JSON | compare A_JSON B_JSON"),
    }
}

fn embed(passages: &str, questions: &str, dir: &str, file: &str, out: &str) {
    let passages: Value = serde_json::from_str(&std::fs::read_to_string(passages).unwrap()).unwrap();
    let passages: Vec<(&str, &str)> = passages["passages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ARTICLES.contains(&p["title"].as_str().unwrap()))
        .map(|p| (p["id"].as_str().unwrap(), p["text"].as_str().unwrap()))
        .collect();
    let questions: Vec<Value> = std::fs::read_to_string(questions)
        .unwrap()
        .lines()
        .step_by(2)
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|q| q["answerable"] == true && ARTICLES.contains(&q["document"].as_str().unwrap()))
        .collect();

    let embedder = Embedder::load(&ModelSource::Directory { path: PathBuf::from(dir), onnx_file: file.into() }).unwrap();
    let texts: Vec<&str> = passages.iter().map(|(_, text)| *text).collect();
    let passage_vectors = embedder.embed_passages(&texts).unwrap();
    let question_vectors: Vec<Vec<f32>> =
        questions.iter().map(|q| embedder.embed_query(q["question"].as_str().unwrap()).unwrap()).collect();

    let normalised: Vec<String> = texts.iter().map(|text| normalise(text)).collect();
    let mut hits_at_1 = 0;
    let mut reciprocal_ranks = 0.0;
    for (question, vector) in questions.iter().zip(&question_vectors) {
        let evidence: Vec<String> = question["evidence"].as_array().unwrap().iter().map(|e| normalise(e.as_str().unwrap())).collect();
        let mut order: Vec<usize> = (0..passage_vectors.len()).collect();
        order.sort_by(|&a, &b| dot(vector, &passage_vectors[b]).total_cmp(&dot(vector, &passage_vectors[a])));
        let gold = order.iter().take(10).position(|&i| evidence.iter().any(|e| !e.is_empty() && normalised[i].contains(e)));
        hits_at_1 += usize::from(gold == Some(0));
        reciprocal_ranks += gold.map_or(0.0, |rank| 1.0 / (rank + 1) as f64);
    }
    let n = questions.len() as f64;
    println!(
        "{file} on this CPU (VNNI: {}): {} passages, {} questions, dense R@1 {:.3}, MRR@10 {:.3}",
        cpu_has_vnni(),
        passages.len(),
        questions.len(),
        hits_at_1 as f64 / n,
        reciprocal_ranks / n
    );
    let vectors = |ids: Vec<&str>, vectors: &[Vec<f32>]| -> Vec<Value> {
        ids.into_iter().zip(vectors).map(|(id, vector)| json!({"id": id, "vector": vector})).collect()
    };
    let written = json!({
        "passages": vectors(passages.iter().map(|(id, _)| *id).collect(), &passage_vectors),
        "questions": vectors(questions.iter().map(|q| q["id"].as_str().unwrap()).collect(), &question_vectors),
    });
    std::fs::write(out, written.to_string()).unwrap();
}

fn compare(a: &str, b: &str) {
    let read = |path: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };
    let (a, b) = (read(a), read(b));
    for kind in ["passages", "questions"] {
        let vector = |v: &Value| -> Vec<f32> { v["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect() };
        let mut cosines: Vec<f32> = a[kind]
            .as_array()
            .unwrap()
            .iter()
            .zip(b[kind].as_array().unwrap())
            .map(|(x, y)| {
                assert_eq!(x["id"], y["id"], "the two runs embedded different texts");
                let (x, y) = (vector(x), vector(y));
                dot(&x, &y) / (dot(&x, &x) * dot(&y, &y)).sqrt()
            })
            .collect();
        cosines.sort_by(f32::total_cmp);
        println!(
            "{kind}: {} vectors, cosine between the runs: lowest {:.6}, median {:.6}",
            cosines.len(),
            cosines[0],
            cosines[cosines.len() / 2]
        );
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Lower case, runs of white space as one space: `footnote eval`'s evidence
/// match without its Unicode folding, the same for every run compared.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}
