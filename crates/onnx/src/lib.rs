//! The ONNX Runtime footnote's models run on: the process's one environment,
//! and sessions footnote builds itself that share one copy of a model's
//! weights ([`SharedWeights`], read from a scratch file on disk whose pages
//! go back to the kernel once read: [`return_weight_pages`]), with the
//! tokenizer fastembed would give them.
//!
//! ONNX Runtime allows one environment per process, for the life of the
//! process. fastembed makes its own when given none, and then a session footnote
//! builds itself could not have one. So the embedder, the judge and fastembed's
//! sessions all take theirs from [`environment`].

mod inputs;
mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use inputs::{Inputs, bert_inputs};
pub use ort::environment::Environment;
pub use tokenizer::tokenizer;
pub use weights::{Session, SharedWeights, return_weight_pages};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "ONNX Runtime library not found{}: set ORT_DYLIB_PATH to libonnxruntime.so (scripts/setup.sh installs it under .cache/onnxruntime)",
        .0.as_ref().map(|p| format!(" at {}", p.display())).unwrap_or_default()
    )]
    NotFound(Option<PathBuf>),

    #[error("ONNX Runtime failed to start: {0}")]
    Start(String),

    #[error("could not load the model {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },
}

/// The process's ONNX Runtime environment, started on first use from the
/// library `ORT_DYLIB_PATH` names. Checked up front: ort panics when it cannot
/// load the library, and the user should be told which variable to set.
pub fn environment() -> Result<Environment, Error> {
    static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(path) if Path::new(&path).is_file() => {}
        Some(path) => return Err(Error::NotFound(Some(path.into()))),
        None => return Err(Error::NotFound(None)),
    }
    let mut environment = ENVIRONMENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(environment) = environment.as_ref() {
        return Ok(environment.clone());
    }
    let started = std::panic::catch_unwind(|| ort::init().build()).map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the library could not be loaded".into());
        Error::Start(reason)
    })?;
    let started = started.map_err(|e| Error::Start(e.to_string()))?;
    *environment = Some(started.clone());
    Ok(started)
}
