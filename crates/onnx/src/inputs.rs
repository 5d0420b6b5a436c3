//! What a BERT-style model reads: a batch of tokenized texts as tensors.

use std::borrow::Cow;

use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use tokenizers::Encoding;

/// Named inputs of one run.
pub type Inputs = Vec<(Cow<'static, str>, SessionInputValue<'static>)>;

/// `input_ids`, `attention_mask` and, when the graph takes them,
/// `token_type_ids` of `encodings`, which the tokenizer padded to one length.
pub fn bert_inputs(session: &Session, encodings: &[Encoding]) -> ort::Result<Inputs> {
    let shape = [encodings.len(), encodings.first().map_or(0, Encoding::len)];
    let column = |field: fn(&Encoding) -> &[u32]| -> ort::Result<SessionInputValue<'static>> {
        let data: Vec<i64> = encodings.iter().flat_map(|e| field(e).iter().map(|&x| i64::from(x))).collect();
        Ok(Tensor::from_array((shape, data))?.into())
    };
    let mut inputs: Inputs =
        vec![("input_ids".into(), column(Encoding::get_ids)?), ("attention_mask".into(), column(Encoding::get_attention_mask)?)];
    // BERT-style graphs tell a pair's first text from its second by them.
    if session.inputs().iter().any(|input| input.name() == "token_type_ids") {
        inputs.push(("token_type_ids".into(), column(Encoding::get_type_ids)?));
    }
    Ok(inputs)
}
