//! A model file's weights read once, for several sessions to share.
//!
//! ONNX Runtime gives every session its own copy of the weights it loads
//! from a file: about 90 MiB for all-MiniLM-L6-v2 in f32, held once per
//! session. Read here once and handed to each session through `AddInitializer`,
//! with one container for the copies ONNX Runtime repacks for its matrix
//! multiplications, they are held once (docs/benchmarks.md, "Serving memory").
//!
//! Shared weights are not ONNX Runtime's to free, so a matrix it has repacked
//! would be held twice: once as given, once repacked. They are therefore given
//! from a file: copied, aligned, into an unlinked scratch file on disk and
//! mapped from it. Once a session is built, the mapping's pages are handed
//! back to the kernel; the few still read (biases, the rows of the word-piece
//! table that texts use) come back from the file as they are touched, and the
//! rest stay on disk. Where no disk-backed scratch file can be had (a temporary
//! directory on tmpfs is memory too), they are kept on the heap.
//!
//! Only the fields needed to find and read the weights are described here;
//! everything else in the file (the graph's nodes, its metadata) is left to
//! ONNX Runtime, which reads the whole file itself.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use memmap2::{Mmap, UncheckedAdvice};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::value::{DynValue, Tensor, TensorElementType};

use crate::{Environment, Error};

/// Weights by name, as ONNX Runtime values.
type Weights = Vec<(String, Arc<DynValue>)>;

/// One model file's weights, for sessions that share them.
pub struct SharedWeights {
    model: PathBuf,
    /// Declared before `mapping`: values that point into it go first.
    weights: Weights,
    prepacked: PrepackedWeights,
    /// The scratch file the weights live in, when they live in one.
    mapping: Option<Arc<WeightFile>>,
}

/// A session built on shared weights. It keeps the file they are mapped from
/// mapped for as long as it lives; otherwise it is ONNX Runtime's session.
pub struct Session {
    session: ort::session::Session,
    _mapping: Option<Arc<WeightFile>>,
}

impl std::ops::Deref for Session {
    type Target = ort::session::Session;
    fn deref(&self) -> &Self::Target {
        &self.session
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.session
    }
}

impl SharedWeights {
    /// The weights of the ONNX file `model`, for `sessions` sessions. When
    /// they cannot be given from a scratch file and only one session is to
    /// use them, none are read: a session that shares with nobody is smaller
    /// owning its weights, since ONNX Runtime frees its own copy of a matrix
    /// once it has repacked it.
    pub fn read(model: &Path, sessions: usize) -> Result<SharedWeights, Error> {
        Self::read_into(model, sessions, scratch_file())
    }

    /// As `read`, the weights written to `scratch` when there is one, else
    /// kept on the heap.
    fn read_into(model: &Path, sessions: usize, scratch: Option<File>) -> Result<SharedWeights, Error> {
        let failed = |reason: String| Error::ModelFile { path: model.to_path_buf(), reason };
        let mut shared =
            SharedWeights { model: model.to_path_buf(), weights: Vec::new(), prepacked: PrepackedWeights::new(), mapping: None };
        if sessions <= 1 && scratch.is_none() {
            return Ok(shared);
        }
        let bytes = std::fs::read(model).map_err(|e| failed(e.to_string()))?;
        // The file's bytes are let go once the weights are copied out of them.
        let tensors = tensors(Bytes::from(bytes)).map_err(failed)?;
        match scratch.map(|file| mapped(file, &tensors)) {
            Some(Ok((weights, mapping))) => {
                shared.weights = weights;
                let mapping = Arc::new(mapping);
                live_mappings().push(Arc::downgrade(&mapping));
                shared.mapping = Some(mapping);
            }
            // A scratch file that could not be written: the heap will do.
            Some(Err(_)) | None => {
                shared.weights = tensors
                    .iter()
                    .map(|tensor| Ok((tensor.name.clone(), Arc::new(value(tensor)?))))
                    .collect::<Result<_, String>>()
                    .map_err(failed)?;
            }
        }
        Ok(shared)
    }

    /// A session of the model with the shared weights, on `threads` of ONNX
    /// Runtime's threads (all cores when `None`). ONNX Runtime reads the file
    /// itself, from disk: no copy of the whole file sits in memory while it
    /// loads.
    pub fn session(&self, environment: &Environment, threads: Option<usize>) -> Result<Session, Error> {
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let build = || -> ort::Result<ort::session::Session> {
            let mut builder = ort::session::Session::builder(environment)?
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
        let session = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
            .map_err(|_| Error::Start("ONNX Runtime panicked while loading a model".into()))?
            .map_err(|e| failed(e.to_string()))?;
        // Repacking read every matrix; the session will not read those again.
        if let Some(mapping) = &self.mapping {
            return_pages(mapping, false);
        }
        Ok(Session { session, _mapping: self.mapping.clone() })
    }
}

/// Hands the pages of shared weights read since back to the kernel, and the
/// scratch files out of the page cache: after an ingest, mostly the rows of
/// the word-piece table its texts used. What is read again is read from the
/// file again.
pub fn return_weight_pages() {
    let mut mappings = live_mappings();
    mappings.retain(|mapping| mapping.strong_count() > 0);
    mappings.iter().filter_map(Weak::upgrade).for_each(|mapping| return_pages(&mapping, true));
}

/// The scratch files' mappings that sessions may still use.
fn live_mappings() -> std::sync::MutexGuard<'static, Vec<Weak<WeightFile>>> {
    static MAPPINGS: Mutex<Vec<Weak<WeightFile>>> = Mutex::new(Vec::new());
    MAPPINGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The scratch file the weights were written to, and its mapping.
struct WeightFile {
    mapping: Mmap,
    file: File,
}

/// Drops the pages of `weights` from the process. With `from_cache`, from
/// the page cache too, once they are on disk: the kernel maps in every
/// cached page around one that is read (64 KiB), so a cached file comes back
/// in whole runs of pages where a few rows of the word-piece table are read.
fn return_pages(weights: &WeightFile, from_cache: bool) {
    // SAFETY: a read-only mapping of a file: its pages are dropped, not its
    // contents, which are read from the file again when next touched.
    let _ = unsafe { weights.mapping.unchecked_advise(UncheckedAdvice::DontNeed) };
    #[cfg(target_os = "linux")]
    if from_cache && weights.file.sync_data().is_ok() {
        use std::os::fd::AsRawFd;
        // SAFETY: advice on a file descriptor this struct owns.
        unsafe { libc::posix_fadvise(weights.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

/// An unlinked file in the temporary directory to hold the weights, if that
/// directory is on disk: a file on tmpfs would be memory as much as the heap.
fn scratch_file() -> Option<File> {
    let file = tempfile::tempfile().ok()?;
    on_disk(&file).then_some(file)
}

#[cfg(target_os = "linux")]
fn on_disk(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    // SAFETY: `statfs` is plain data that `fstatfs` fills in.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut stat) } != 0 {
        return false;
    }
    !matches!(stat.f_type as i64, TMPFS_MAGIC | RAMFS_MAGIC)
}

#[cfg(not(target_os = "linux"))]
fn on_disk(_: &File) -> bool {
    false
}

/// Where tensors start in the scratch file: aligned for any vector load.
const ALIGNMENT: usize = 64;

/// The tensors written, aligned, into `file`, and ONNX Runtime values that
/// point into its mapping.
fn mapped(file: File, tensors: &[TensorProto]) -> std::io::Result<(Weights, WeightFile)> {
    let mut writer = BufWriter::new(&file);
    let mut written: usize = 0;
    let mut elements = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let (element, bytes) = checked_elements(tensor).map_err(std::io::Error::other)?;
        let at = written.next_multiple_of(ALIGNMENT);
        writer.write_all(&vec![0; at - written])?;
        writer.write_all(&bytes)?;
        written = at + bytes.len();
        elements.push((element, at, bytes.len()));
    }
    writer.flush()?;
    drop(writer);
    // To disk while the sessions load, so that the page cache can let go of it
    // later (`return_pages`) without waiting.
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a request on a file descriptor owned here.
        unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    // SAFETY: the file is unlinked and ours alone; nothing else can change it.
    let mapping = unsafe { Mmap::map(&file)? };
    // Rows of the word-piece table are read a few at a time: no read-ahead.
    mapping.advise(memmap2::Advice::Random)?;
    let mut values = Vec::with_capacity(tensors.len());
    for (tensor, (element, at, len)) in tensors.iter().zip(elements) {
        let value = mapped_value(tensor, element, &mapping[at..at + len]).map_err(std::io::Error::other)?;
        values.push((tensor.name.clone(), Arc::new(value)));
    }
    Ok((values, WeightFile { mapping, file }))
}

/// A value over `data`, a tensor's little-endian elements in the mapping,
/// checked by `checked_elements`. ONNX Runtime only reads a session's
/// initializers.
fn mapped_value(tensor: &TensorProto, element: TensorElementType, data: &[u8]) -> Result<DynValue, String> {
    let failed = |e: ort::Error| format!("weight {}: {e}", tensor.name);
    let info = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default).map_err(failed)?;
    let api = ort::api();
    let mut value = std::ptr::null_mut();
    // SAFETY: `data` holds the tensor's elements (checked) and lives
    // in a mapping every session using the value keeps alive; ONNX Runtime
    // neither writes an initializer nor frees memory it was handed.
    let status = unsafe {
        (api.CreateTensorWithDataAsOrtValue)(
            ort::AsPointer::ptr(&info),
            data.as_ptr() as *mut std::ffi::c_void,
            data.len(),
            tensor.dims.as_ptr(),
            tensor.dims.len(),
            element.into(),
            &mut value,
        )
    };
    if !status.0.is_null() {
        // SAFETY: a status ONNX Runtime returned, read and released once.
        let reason = unsafe {
            let reason = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy().into_owned();
            (api.ReleaseStatus)(status.0);
            reason
        };
        return Err(format!("weight {}: {reason}", tensor.name));
    }
    let value = NonNull::new(value).ok_or_else(|| format!("weight {}: ONNX Runtime made no value", tensor.name))?;
    // SAFETY: a tensor value just made, owned by nothing else.
    Ok(unsafe { DynValue::from_ptr(value, Some(&Allocator::default())) })
}

/// A tensor's element type and its elements, little-endian, checked to fill
/// its shape exactly: what both the scratch file and the heap are given.
fn checked_elements(tensor: &TensorProto) -> Result<(TensorElementType, Cow<'_, [u8]>), String> {
    let element = element_type(tensor.data_type)
        .ok_or_else(|| format!("weight {}: element type {} is not read", tensor.name, tensor.data_type))?;
    let data = little_endian(tensor);
    let count = tensor.dims.iter().try_fold(1usize, |count, &dim| usize::try_from(dim).ok()?.checked_mul(count));
    if count.and_then(|count| element.byte_size(count)) != Some(data.len()) {
        return Err(format!("weight {}: {} bytes for shape {:?}", tensor.name, data.len(), tensor.dims));
    }
    Ok((element, data))
}

/// A tensor's elements, little-endian, from `raw_data` or its typed field.
fn little_endian(tensor: &TensorProto) -> Cow<'_, [u8]> {
    if !tensor.raw_data.is_empty() {
        return Cow::Borrowed(&tensor.raw_data);
    }
    Cow::Owned(match tensor.data_type {
        FLOAT => tensor.float_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        INT64 => tensor.int64_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        INT32 => tensor.int32_data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        // ONNX keeps 8-bit elements of the typed form in `int32_data`.
        INT8 | UINT8 => tensor.int32_data.iter().map(|&x| x as u8).collect(),
        _ => Vec::new(),
    })
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

/// ONNX Runtime's element type for an `onnx.TensorProto.DataType` shared
/// here; `None` for the others (strings, 16-bit floats, ...), which ONNX
/// Runtime reads from the model as usual.
fn element_type(data_type: i32) -> Option<TensorElementType> {
    Some(match data_type {
        FLOAT => TensorElementType::Float32,
        UINT8 => TensorElementType::Uint8,
        INT8 => TensorElementType::Int8,
        INT32 => TensorElementType::Int32,
        INT64 => TensorElementType::Int64,
        _ => return None,
    })
}

/// The model's initializers that can be shared: those of the element types
/// read here, stored in the file. The rest ONNX Runtime reads from the model
/// as usual, one copy per session.
fn tensors(model: Bytes) -> Result<Vec<TensorProto>, String> {
    // Decoding from `Bytes` keeps each `raw_data` a view of the file.
    let model = <ModelProto as prost::Message>::decode(model).map_err(|e| format!("not an ONNX model: {e}"))?;
    let tensors = model.graph.map(|graph| graph.initializer).unwrap_or_default();
    Ok(tensors
        .into_iter()
        .filter(|tensor| tensor.data_location != 1 && element_type(tensor.data_type).is_some())
        .collect())
}

/// One tensor as an ONNX Runtime value on the heap. The value owns its
/// elements, as ONNX Runtime requires of a shared weight: a tensor made by its
/// own allocator is refused.
fn value(tensor: &TensorProto) -> Result<DynValue, String> {
    let (element, data) = checked_elements(tensor)?;
    let dims = tensor.dims.clone();
    let value = match element {
        TensorElementType::Float32 => heap_value(dims, &data, f32::from_le_bytes),
        TensorElementType::Int64 => heap_value(dims, &data, i64::from_le_bytes),
        TensorElementType::Int32 => heap_value(dims, &data, i32::from_le_bytes),
        TensorElementType::Int8 => heap_value(dims, &data, i8::from_le_bytes),
        TensorElementType::Uint8 => heap_value(dims, &data, u8::from_le_bytes),
        other => return Err(format!("weight {}: element type {other:?} is not read", tensor.name)),
    };
    value.map_err(|e| format!("weight {}: {e}", tensor.name))
}

/// A value of `T`s read from little-endian `data`, `N` bytes each.
fn heap_value<T, const N: usize>(dims: Vec<i64>, data: &[u8], from_le_bytes: fn([u8; N]) -> T) -> ort::Result<DynValue>
where
    T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static,
{
    let elements: Vec<T> = data.chunks_exact(N).map(|bytes| from_le_bytes(bytes.try_into().expect("chunks of N bytes"))).collect();
    Tensor::from_array((dims, elements)).map(Tensor::into_dyn)
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
        let tensors = tensors(Bytes::from(model)).unwrap();
        let names: Vec<&str> = tensors.iter().map(|tensor| tensor.name.as_str()).collect();
        assert_eq!(names, ["w", "shape", "q"]);
        let on_heap: Vec<DynValue> = tensors.iter().map(|tensor| value(tensor).unwrap()).collect();
        let (from_file, _mapping) = mapped(tempfile::tempfile().unwrap(), &tensors).unwrap();
        for values in [on_heap.iter().collect::<Vec<_>>(), from_file.iter().map(|(_, value)| &**value).collect()] {
            let (shape, data) = values[0].try_extract_tensor::<f32>().unwrap();
            assert_eq!((&shape[..], data), (&[2i64, 2][..], &[1.5f32, -2.0, 0.25, 8.0][..]));
            assert_eq!(values[1].try_extract_tensor::<i64>().unwrap().1, [3, -4]);
            assert_eq!(values[2].try_extract_tensor::<i8>().unwrap().1, [-7, 9, 127]);
        }
    }

    #[test]
    fn weights_in_the_scratch_file_start_aligned() {
        let tensor = |name: &str, bytes: usize| TensorProto {
            name: name.into(),
            data_type: INT8,
            dims: vec![bytes as i64],
            raw_data: vec![1; bytes].into(),
            ..Default::default()
        };
        let tensors = [tensor("a", 3), tensor("b", 5), tensor("c", 70)];
        let (values, file) = mapped(tempfile::tempfile().unwrap(), &tensors).unwrap();
        for (_, value) in &values {
            let (_, data) = value.try_extract_tensor::<i8>().unwrap();
            let at = data.as_ptr() as usize - file.mapping.as_ptr() as usize;
            assert_eq!(at % ALIGNMENT, 0, "a tensor at {at}");
        }
    }

    #[test]
    fn a_weight_whose_bytes_do_not_fill_its_shape_is_refused_by_name() {
        let short =
            TensorProto { name: "w".into(), data_type: FLOAT, dims: vec![2, 2], raw_data: vec![0; 12].into(), ..Default::default() };
        let Err(error) = mapped(tempfile::tempfile().unwrap(), std::slice::from_ref(&short)) else { panic!("a short weight was mapped") };
        let error = error.to_string();
        assert!(error.contains("weight w: 12 bytes for shape [2, 2]"), "{error}");
        let Err(error) = value(&short) else { panic!("a short weight was put on the heap") };
        assert!(error.contains("weight w: 12 bytes for shape [2, 2]"), "{error}");
    }

    /// Uses the real model (`FOOTNOTE_MODEL_DIR`) and ONNX Runtime
    /// (`ORT_DYLIB_PATH`): ONNX Runtime takes shared weights only in memory the
    /// caller owns, which synthetic tensors alone would not show.
    #[test]
    fn sessions_on_weights_from_the_heap_and_from_the_scratch_file_compute_alike() {
        let model = std::env::var_os("FOOTNOTE_MODEL_DIR")
            .map(|dir| Path::new(&dir).join("model.onnx"))
            .expect("FOOTNOTE_MODEL_DIR names the model directory (scripts/test.sh sets it)");
        let environment = crate::environment().unwrap();
        // "hello world" in all-MiniLM-L6-v2's word pieces: [CLS] hello world [SEP].
        let hidden_states = |weights: &SharedWeights| -> Vec<f32> {
            assert!(!weights.weights.is_empty(), "no weights were shared");
            let mut session = weights.session(&environment, Some(1)).unwrap();
            let column = |data: [i64; 4]| Tensor::from_array(([1usize, 4], data.to_vec())).unwrap();
            let outputs = session
                .run(ort::inputs![
                    "input_ids" => column([101, 7592, 2088, 102]),
                    "attention_mask" => column([1; 4]),
                    "token_type_ids" => column([0; 4]),
                ])
                .unwrap();
            outputs[0].try_extract_tensor::<f32>().unwrap().1.to_vec()
        };
        let on_heap = SharedWeights::read_into(&model, 2, None).unwrap();
        assert!(on_heap.mapping.is_none());
        let from_file = SharedWeights::read_into(&model, 2, Some(tempfile::tempfile().unwrap())).unwrap();
        assert!(from_file.mapping.is_some());
        let (on_heap, from_file) = (hidden_states(&on_heap), hidden_states(&from_file));
        assert_eq!(on_heap.len(), 4 * 384);
        assert_eq!(on_heap, from_file);
    }

    #[test]
    fn a_file_that_is_no_model_is_an_error_that_says_so() {
        let error = tensors(Bytes::from_static(b"\xff\xff\xff not protobuf")).unwrap_err();
        assert!(error.contains("not an ONNX model"), "{error}");
    }
}
