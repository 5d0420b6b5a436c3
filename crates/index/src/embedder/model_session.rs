//! Model sessions footnote builds itself for a server, all sharing one copy of
//! the model's weights.
//!
//! fastembed loads every session from the model file on its own, so each
//! holds its own copy of the weights: about 90 MiB for the f32 file, which two
//! serving sessions held twice. Here the weights are read from the file once
//! and given to every session through ONNX Runtime's `AddInitializer`, with
//! one container for the weights ONNX Runtime repacks for its matrix
//! multiplications (docs/benchmarks.md, "Serving memory").
//!
//! The text goes in and the vector comes out as fastembed does it for the
//! model directory: its tokenizer padded to a batch's longest text and cut at
//! [`MAX_WORD_PIECES`], the model's last hidden state averaged over the real
//! word pieces, scaled to length 1. A server's vectors match those the commands
//! store (tested to cosine > 0.9999).

use std::path::Path;

use bytes::Bytes;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::value::Tensor;
use tokenizers::{AddedToken, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{MAX_WORD_PIECES, onnx_weights, read};
use crate::{Error, Result};

/// A single-threaded session with the model's tokenizer.
pub(super) struct ModelSession {
    session: Session,
    tokenizer: Tokenizer,
    /// Whether the graph takes `token_type_ids` (BERT-style models do).
    token_type_ids: bool,
    /// The output that holds each word piece's vector.
    output: String,
}

/// `count` single-threaded sessions of `onnx_file` in `dir`, sharing its weights.
pub(super) fn load(environment: &ort::environment::Environment, dir: &Path, onnx_file: &str, count: usize) -> Result<Vec<ModelSession>> {
    let tokenizer = tokenizer(dir)?;
    // The file's bytes are let go once the weights are read from them: ONNX
    // Runtime reads the file itself, from disk, without a second copy of it
    // in memory during each load.
    // One session shares with nobody, and ONNX Runtime frees its own copy of a
    // matrix once it has repacked it, which it cannot do with a shared one:
    // 25 MiB less, alone.
    let weights = if count > 1 { onnx_weights::initializers(&Bytes::from(read(dir, onnx_file)?))? } else { Vec::new() };
    let model = dir.join(onnx_file);
    let prepacked = PrepackedWeights::new();
    let failed = |e: ort::Error| Error::ModelLoad(format!("{}: {e}", model.display()));
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let build = || -> ort::Result<Session> {
            let mut builder = Session::builder(environment)?
                .with_optimization_level(GraphOptimizationLevel::Level3)?
                .with_intra_threads(1)?
                .with_prepacked_weights(&prepacked)?;
            for (name, value) in &weights {
                builder = builder.with_initializer(name, value.clone())?;
            }
            builder.commit_from_file(&model)
        };
        // ort panics when ONNX Runtime cannot start; report it as an error.
        let session = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
            .map_err(|_| Error::ModelLoad("ONNX Runtime failed to start".into()))?
            .map_err(failed)?;
        let token_type_ids = session.inputs().iter().any(|input| input.name() == "token_type_ids");
        let output = match session.outputs() {
            [only] => only.name().to_string(),
            outputs => outputs
                .iter()
                .map(|output| output.name())
                .find(|&name| name == "last_hidden_state")
                .ok_or_else(|| Error::ModelLoad(format!("{onnx_file} has no last_hidden_state output")))?
                .to_string(),
        };
        sessions.push(ModelSession { session, tokenizer: tokenizer.clone(), token_type_ids, output });
    }
    Ok(sessions)
}

impl ModelSession {
    pub(super) fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The texts' vectors, in order, from one run of the model.
    pub(super) fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let failed = |e: String| Error::Embedding(e);
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| failed(e.to_string()))?;
        let shape = [encodings.len(), encodings[0].len()];
        let column = |field: fn(&tokenizers::Encoding) -> &[u32]| {
            let data: Vec<i64> = encodings.iter().flat_map(|e| field(e).iter().map(|&x| i64::from(x))).collect();
            Tensor::from_array((shape, data)).map_err(|e| failed(e.to_string()))
        };
        let mut inputs =
            ort::inputs!["input_ids" => column(|e| e.get_ids())?, "attention_mask" => column(|e| e.get_attention_mask())?];
        if self.token_type_ids {
            inputs.push(("token_type_ids".into(), column(|e| e.get_type_ids())?.into()));
        }
        let outputs = self.session.run(inputs).map_err(|e| failed(e.to_string()))?;
        let (hidden_shape, hidden) = outputs[self.output.as_str()].try_extract_tensor::<f32>().map_err(|e| failed(e.to_string()))?;
        match hidden_shape[..] {
            // Already one vector a text.
            [_, width] => Ok(hidden.chunks(width as usize).map(normalized).collect()),
            [_, pieces, width] => {
                let (pieces, width) = (pieces as usize, width as usize);
                Ok(encodings
                    .iter()
                    .zip(hidden.chunks(pieces * width))
                    .map(|(encoding, text)| {
                        let mut sum = vec![0f32; width];
                        let mask = encoding.get_attention_mask();
                        for (vector, _) in text.chunks(width).zip(mask).filter(|(_, real)| **real == 1) {
                            sum.iter_mut().zip(vector).for_each(|(s, x)| *s += x);
                        }
                        let real = mask.iter().filter(|&&m| m == 1).count().max(1) as f32;
                        normalized(&sum.iter().map(|s| s / real).collect::<Vec<_>>())
                    })
                    .collect())
            }
            _ => Err(failed(format!("unexpected output shape {hidden_shape:?}"))),
        }
    }
}

/// Scaled to length 1, as fastembed does (the small term keeps a zero vector finite).
fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.iter().map(|x| x / (norm + 1e-12)).collect()
}

/// The directory's tokenizer, set up as fastembed sets it up for a
/// user-defined model: padded to the batch's longest text with the
/// configured pad token, cut at [`MAX_WORD_PIECES`] or the model's own limit,
/// and the special tokens of `special_tokens_map.json` marked special.
fn tokenizer(dir: &Path) -> Result<Tokenizer> {
    let json = |file: &str| -> Result<serde_json::Value> {
        serde_json::from_slice(&read(dir, file)?)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", dir.join(file).display())))
    };
    let (config, special_tokens, tokenizer_config) =
        (json("config.json")?, json("special_tokens_map.json")?, json("tokenizer_config.json")?);
    let invalid = |e: String| Error::ModelLoad(format!("tokenizer in {}: {e}", dir.display()));
    let mut tokenizer = Tokenizer::from_bytes(read(dir, "tokenizer.json")?).map_err(|e| invalid(e.to_string()))?;
    let model_limit = tokenizer_config["model_max_length"].as_f64().unwrap_or(f64::MAX);
    let max_length = MAX_WORD_PIECES.min(model_limit as usize);
    let pad_token = tokenizer_config["pad_token"]
        .as_str()
        .or_else(|| tokenizer_config["pad_token"]["content"].as_str())
        .ok_or_else(|| invalid("tokenizer_config.json has no pad_token".into()))?
        .to_string();
    let pad_id = config["pad_token_id"]
        .as_u64()
        .map(|id| id as u32)
        .or_else(|| tokenizer.token_to_id(&pad_token))
        .unwrap_or(0);
    tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, pad_token, pad_id, ..Default::default() }));
    tokenizer
        .with_truncation(Some(TruncationParams { max_length, ..Default::default() }))
        .map_err(|e| invalid(e.to_string()))?;
    let special: Vec<AddedToken> = special_tokens
        .as_object()
        .into_iter()
        .flat_map(|tokens| tokens.values())
        .filter_map(|token| match token {
            serde_json::Value::String(content) => Some(AddedToken { content: content.clone(), special: true, ..Default::default() }),
            serde_json::Value::Object(_) => Some(AddedToken {
                content: token["content"].as_str()?.to_string(),
                special: true,
                single_word: token["single_word"].as_bool()?,
                lstrip: token["lstrip"].as_bool()?,
                rstrip: token["rstrip"].as_bool()?,
                normalized: token["normalized"].as_bool()?,
            }),
            _ => None,
        })
        .collect();
    tokenizer.add_special_tokens(special).map_err(|e| invalid(e.to_string()))?;
    Ok(tokenizer)
}
