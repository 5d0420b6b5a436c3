//! A model's tokenizer, set up as fastembed sets it up for a user-defined
//! model, so that a session footnote builds itself reads the same word pieces
//! as one fastembed built.

use fastembed::TokenizerFiles;
use tokenizers::{AddedToken, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The tokenizer of `files`: padded to a batch's longest text with the
/// configured pad token, cut at `max_length` word pieces or the model's own
/// limit if lower, and the tokens of `special_tokens_map.json` marked special.
pub fn tokenizer(files: &TokenizerFiles, max_length: usize) -> Result<Tokenizer, String> {
    let json = |bytes: &[u8], file: &str| -> Result<serde_json::Value, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))
    };
    let config = json(&files.config_file, "config.json")?;
    let special_tokens = json(&files.special_tokens_map_file, "special_tokens_map.json")?;
    let tokenizer_config = json(&files.tokenizer_config_file, "tokenizer_config.json")?;
    let mut tokenizer = Tokenizer::from_bytes(&files.tokenizer_file).map_err(|e| format!("tokenizer.json: {e}"))?;
    let model_limit = tokenizer_config["model_max_length"].as_f64().unwrap_or(f64::MAX);
    let max_length = max_length.min(model_limit as usize);
    let pad_token = tokenizer_config["pad_token"]
        .as_str()
        .or_else(|| tokenizer_config["pad_token"]["content"].as_str())
        .ok_or("tokenizer_config.json has no pad_token")?
        .to_string();
    let pad_id = config["pad_token_id"]
        .as_u64()
        .map(|id| id as u32)
        .or_else(|| tokenizer.token_to_id(&pad_token))
        .unwrap_or(0);
    tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, pad_token, pad_id, ..Default::default() }));
    tokenizer
        .with_truncation(Some(TruncationParams { max_length, ..Default::default() }))
        .map_err(|e| e.to_string())?;
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
    tokenizer.add_special_tokens(special).map_err(|e| e.to_string())?;
    Ok(tokenizer)
}
