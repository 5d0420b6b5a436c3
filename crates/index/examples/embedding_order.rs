//! Why footnote sorts passages by word pieces before batching them
//! (docs/benchmarks.md, "Ingest throughput"). Times the same passages three
//! ways, batches of 32: a bare ONNX Runtime session with the passages sorted by
//! characters (what footnote did), the same sorted by word pieces, and, with
//! `embedder` last (in a process of its own: ONNX Runtime allows one
//! environment per process), footnote's embedder.
//!
//!     footnote --data-dir /tmp/sq passages --json > /tmp/sq-passages.json
//!     cargo run --release -p footnote-index --example embedding_order -- \
//!         /tmp/sq-passages.json "$FOOTNOTE_MODEL_DIR" model-int8-per-channel.onnx [embedder]

use std::path::PathBuf;
use std::time::Instant;

use footnote_index::{Embedder, ModelSource};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (passages, dir, file) = match &args[1..] {
        [passages, dir, file] | [passages, dir, file, _] => (passages, PathBuf::from(dir), file),
        _ => panic!("usage: embedding_order PASSAGES_JSON MODEL_DIR ONNX_FILE [embedder]"),
    };
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(passages).unwrap()).unwrap();
    let texts: Vec<&str> = json["passages"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap()).collect();
    if args.len() == 5 {
        let embedder = Embedder::load(&ModelSource::Directory { path: dir, onnx_file: file.clone() }).unwrap();
        let started = Instant::now();
        embedder.embed_passages(&texts).unwrap();
        println!("footnote's embedder: {:.2} s", started.elapsed().as_secs_f64());
        return;
    }

    let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_truncation(Some(TruncationParams { max_length: 256, ..Default::default() })).unwrap();
    let pieces: Vec<usize> = texts.iter().map(|t| tokenizer.encode(*t, true).unwrap().len()).collect();
    println!("{} passages, {} word pieces", texts.len(), pieces.iter().sum::<usize>());
    tokenizer.with_padding(Some(PaddingParams::default()));

    let environment = ort::init().build().unwrap();
    let mut session = Session::builder(&environment)
        .unwrap()
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .unwrap()
        .with_intra_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .unwrap()
        .commit_from_file(dir.join(file))
        .unwrap();
    let by_characters = sorted(texts.len(), |i| texts[i].len());
    let by_word_pieces = sorted(texts.len(), |i| pieces[i]);
    for (name, order) in [("sorted by characters", &by_characters), ("sorted by word pieces", &by_word_pieces)] {
        let started = Instant::now();
        for chunk in order.chunks(32) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let encodings = tokenizer.encode_batch(batch, true).unwrap();
            let shape = [encodings.len(), encodings[0].len()];
            let column = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| {
                let data: Vec<i64> = encodings.iter().flat_map(|e| f(e).iter().map(|&x| i64::from(x))).collect();
                Tensor::from_array((shape, data)).unwrap()
            };
            session
                .run(ort::inputs![
                    "input_ids" => column(&|e| e.get_ids()),
                    "attention_mask" => column(&|e| e.get_attention_mask()),
                    "token_type_ids" => column(&|e| e.get_type_ids()),
                ])
                .unwrap();
        }
        println!("bare session, {name}: {:.2} s", started.elapsed().as_secs_f64());
    }
}

fn sorted(count: usize, key: impl Fn(usize) -> usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| key(i));
    order
}
