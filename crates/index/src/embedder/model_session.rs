//! Model sessions footnote builds itself for a server, all sharing one copy of
//! the model's weights.
//!
//! fastembed loads every session from the model file on its own, so each
//! holds its own copy of the weights: about 90 MiB for the f32 file, which two
//! serving sessions held twice ([`footnote_onnx::SharedWeights`]).
//!
//! The text goes in and the vector comes out as fastembed does it for the
//! model directory: its tokenizer ([`footnote_onnx::tokenizer`]) padded to a
//! batch's longest text and cut at [`MAX_WORD_PIECES`], the model's last
//! hidden state averaged over the real word pieces, scaled to length 1. A
//! server's vectors match those the commands store (tested to cosine > 0.9999).

use std::path::Path;

use footnote_onnx::{Environment, SharedWeights};
use footnote_onnx::Session;
use tokenizers::Tokenizer;

use super::{MAX_WORD_PIECES, tokenizer_files};
use crate::{Error, Result};

/// A single-threaded session with the model's tokenizer.
pub(super) struct ModelSession {
    session: Session,
    tokenizer: Tokenizer,
    /// The output that holds each word piece's vector.
    output: String,
}

/// `count` single-threaded sessions of `onnx_file` in `dir`, sharing its weights.
pub(super) fn load(environment: &Environment, dir: &Path, onnx_file: &str, count: usize) -> Result<Vec<ModelSession>> {
    let tokenizer = footnote_onnx::tokenizer(&tokenizer_files(dir)?, MAX_WORD_PIECES)
        .map_err(|e| Error::ModelLoad(format!("tokenizer in {}: {e}", dir.display())))?;
    let model = dir.join(onnx_file);
    if !model.is_file() {
        return Err(Error::ModelNotFound { path: model, reason: "no such file".into() });
    }
    let weights = SharedWeights::read(&model, count)?;
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let session = weights.session(environment, Some(1))?;
        let output = match session.outputs() {
            [only] => only.name().to_string(),
            outputs => outputs
                .iter()
                .map(|output| output.name())
                .find(|&name| name == "last_hidden_state")
                .ok_or_else(|| Error::ModelLoad(format!("{onnx_file} has no last_hidden_state output")))?
                .to_string(),
        };
        sessions.push(ModelSession { session, tokenizer: tokenizer.clone(), output });
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
        let inputs = footnote_onnx::bert_inputs(&self.session, &encodings).map_err(|e| failed(e.to_string()))?;
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
