//! A model file's weights read once, for several sessions to share.
//!
//! ONNX Runtime gives every session its own copy of the weights it loads
//! from a file: about 90 MiB for all-MiniLM-L6-v2 in f32, held once per
//! session. Read here once and handed to each session through `AddInitializer`,
//! with one container for the copies ONNX Runtime repacks for its matrix
//! multiplications, they are held once (docs/benchmarks.md, "Serving memory").
//!
//! Only the fields needed to find and read the weights are described here;
//! everything else in the file (the graph's nodes, its metadata) is left to
//! ONNX Runtime, which reads the whole file itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::value::{DynValue, Tensor};

use crate::{Environment, Error};

/// One model file's weights, for sessions that share them.
pub struct SharedWeights {
    model: PathBuf,
    weights: Vec<(String, Arc<DynValue>)>,
    prepacked: PrepackedWeights,
}

impl SharedWeights {
    /// The weights of the ONNX file `model`, for `sessions` sessions. For one,
    /// none are read: a session that shares with nobody is smaller owning its
    /// weights, since ONNX Runtime frees its own copy of a matrix once it has
    /// repacked it, which it cannot do with a shared one (25 MiB for the f32
    /// embedding model).
    pub fn read(model: &Path, sessions: usize) -> Result<SharedWeights, Error> {
        let weights = if sessions > 1 {
            let bytes = std::fs::read(model).map_err(|e| Error::ModelFile { path: model.to_path_buf(), reason: e.to_string() })?;
            // The file's bytes are let go once the weights are read from them.
            initializers(&Bytes::from(bytes))
                .map_err(|reason| Error::ModelFile { path: model.to_path_buf(), reason })?
        } else {
            Vec::new()
        };
        Ok(SharedWeights { model: model.to_path_buf(), weights, prepacked: PrepackedWeights::new() })
    }

    /// A session of the model with the shared weights, on `threads` of ONNX
    /// Runtime's threads (all cores when `None`). ONNX Runtime reads the file
    /// itself, from disk: no copy of the whole file sits in memory while it
    /// loads.
    pub fn session(&self, environment: &Environment, threads: Option<usize>) -> Result<Session, Error> {
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let build = || -> ort::Result<Session> {
            let mut builder = Session::builder(environment)?
                .with_optimization_level(GraphOptimizationLevel::Level3)?
                .with_intra_threads(threads)?
                .with_prepacked_weights(&self.prepacked)?;
            for (name, value) in &self.weights {
                builder = builder.with_initializer(name, value.clone())?;
            }
            builder.commit_from_file(&self.model)
        };
        let failed = |reason: String| Error::ModelFile { path: self.model.clone(), reason };
        // ort panics when ONNX Runtime cannot start; report it as an error.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
            .map_err(|_| Error::Start("ONNX Runtime panicked while loading a model".into()))?
            .map_err(|e| failed(e.to_string()))
    }
}

/// `onnx.ModelProto`, its graph only.
#[derive(Clone, PartialEq, prost::Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

/// `onnx.GraphProto`, its initializers only.
#[derive(Clone, PartialEq, prost::Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
}

/// `onnx.TensorProto`: a tensor's shape, element type and data, which is
/// either `raw_data` (little-endian) or one of the typed fields.
#[derive(Clone, PartialEq, prost::Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "bytes", tag = "9")]
    raw_data: Bytes,
    /// 1: the data is in another file.
    #[prost(int32, tag = "14")]
    data_location: i32,
}

// `onnx.TensorProto.DataType` values of the element types read here.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;
const INT64: i32 = 7;

/// The model's initializers as ONNX Runtime values, by name. Tensors of
/// other element types, or stored outside the file, are left out: ONNX
/// Runtime reads those from the model as usual, one copy per session.
fn initializers(model: &Bytes) -> Result<Vec<(String, Arc<DynValue>)>, String> {
    // Decoding from `Bytes` keeps each `raw_data` a view of the file's buffer.
    let model = <ModelProto as prost::Message>::decode(model.clone()).map_err(|e| format!("not an ONNX model: {e}"))?;
    let tensors = model.graph.map(|graph| graph.initializer).unwrap_or_default();
    let mut values = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        if tensor.data_location == 1 {
            continue;
        }
        let value = match tensor.data_type {
            FLOAT => value(&tensor, |raw| raw.get_f32_le(), || tensor.float_data.clone())?,
            INT64 => value(&tensor, |raw| raw.get_i64_le(), || tensor.int64_data.clone())?,
            INT32 => value(&tensor, |raw| raw.get_i32_le(), || tensor.int32_data.clone())?,
            // ONNX keeps 8-bit elements of the typed form in `int32_data`.
            INT8 => value(&tensor, |raw| raw.get_i8(), || tensor.int32_data.iter().map(|&x| x as i8).collect())?,
            UINT8 => value(&tensor, |raw| raw.get_u8(), || tensor.int32_data.iter().map(|&x| x as u8).collect())?,
            _ => continue,
        };
        values.push((tensor.name, Arc::new(value)));
    }
    Ok(values)
}

/// One tensor as an ONNX Runtime value of element type `T`, from `raw_data`
/// when it has any, else from its typed field.
fn value<T>(tensor: &TensorProto, read: impl Fn(&mut Bytes) -> T, typed: impl FnOnce() -> Vec<T>) -> Result<DynValue, String>
where
    T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static,
{
    let data = if tensor.raw_data.is_empty() {
        typed()
    } else {
        let mut raw = tensor.raw_data.clone();
        let mut data = Vec::with_capacity(raw.len() / size_of::<T>());
        while raw.remaining() >= size_of::<T>() {
            data.push(read(&mut raw));
        }
        data
    };
    Tensor::from_array((tensor.dims.clone(), data))
        .map(Tensor::into_dyn)
        .map_err(|e| format!("weight {}: {e}", tensor.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn reads_raw_and_typed_weights_and_leaves_out_external_ones() {
        let tensor = |name: &str, data_type, dims: Vec<i64>| TensorProto { name: name.into(), data_type, dims, ..Default::default() };
        let raw: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let initializer = vec![
            TensorProto { raw_data: raw.into(), ..tensor("w", FLOAT, vec![2, 2]) },
            TensorProto { int64_data: vec![3, -4], ..tensor("shape", INT64, vec![2]) },
            TensorProto { int32_data: vec![-7, 9, 127], ..tensor("q", INT8, vec![3]) },
            TensorProto { data_location: 1, ..tensor("elsewhere", FLOAT, vec![4]) },
            // A string tensor: not shared.
            tensor("labels", 8, vec![1]),
        ];
        let model = ModelProto { graph: Some(GraphProto { initializer }) }.encode_to_vec();
        let values = initializers(&Bytes::from(model)).unwrap();
        let names: Vec<&str> = values.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["w", "shape", "q"]);
        let (shape, data) = values[0].1.try_extract_tensor::<f32>().unwrap();
        assert_eq!((&shape[..], data), (&[2i64, 2][..], &[1.5f32, -2.0, 0.25, 8.0][..]));
        assert_eq!(values[1].1.try_extract_tensor::<i64>().unwrap().1, [3, -4]);
        assert_eq!(values[2].1.try_extract_tensor::<i8>().unwrap().1, [-7, 9, 127]);
    }

    #[test]
    fn a_file_that_is_no_model_is_an_error_that_says_so() {
        let error = initializers(&Bytes::from_static(b"\xff\xff\xff not protobuf")).unwrap_err();
        assert!(error.contains("not an ONNX model"), "{error}");
    }
}
