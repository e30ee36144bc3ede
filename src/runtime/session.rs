//! A loaded model: an ORT session on the chosen execution provider, or a model on an inference
//! server ([`super::triton`]); its tensor signature, and batched runs that split or zero-pad to a
//! fixed model batch (or split to the server's largest batch).
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::batch::BatchOutput;
use super::engines::{self, EngineKey, Precision};
use super::environment;
use super::options::{Backend, ProviderChoice, RuntimeOptions};
use super::triton;
use crate::error::{Error, Result};

/// The execution provider a session actually runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Tensorrt,
    Cuda,
    Cpu,
    /// On an inference server (`backend = triton`): the server chooses.
    Triton,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tensorrt => "tensorrt",
            Self::Cuda => "cuda",
            Self::Cpu => "cpu",
            Self::Triton => "triton",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name, element type and shape (-1 = dynamic) of a model input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<i64>,
    /// Float32 as the element reads it (an inference server's FP16 counts: the client converts).
    pub is_f32: bool,
    /// The element type in the v2 protocol's terms, `None` for types the client does not read.
    pub dtype: Option<triton::DataType>,
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
            .collect();
        write!(
            f,
            "'{}' [{}]{}",
            self.name,
            dims.join(","),
            match (self.is_f32, self.dtype) {
                (true, _) => String::new(),
                (false, Some(t)) => format!(" ({t})"),
                (false, None) => " (not float32)".into(),
            }
        )
    }
}

/// What runs the model.
enum Engine {
    /// ONNX Runtime in this process (one run at a time).
    Local(Mutex<Session>),
    /// A model on an inference server (runs from several threads go out concurrently).
    Remote(Box<triton::Client>),
}

/// A loaded model. `run` is safe to call from any thread.
pub struct ModelSession {
    engine: Engine,
    path: PathBuf,
    provider: Provider,
    id: u64,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// The model's custom metadata (ONNX `metadata_props`; none for a remote model).
    pub metadata: HashMap<String, String>,
}

impl fmt::Debug for ModelSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelSession")
            .field("path", &self.path)
            .field("provider", &self.provider)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl ModelSession {
    /// Loads `path` with `opts`. An explicitly requested provider that cannot be used is an error.
    /// With `backend = triton` the model is the server's (`model_name`, else `path`'s file stem)
    /// and `path` is not read.
    pub fn load(path: &Path, opts: &RuntimeOptions) -> Result<Self> {
        if opts.backend == Backend::Triton {
            return Self::connect(path, opts);
        }
        let env = environment()?;
        if !path.is_file() {
            let msg = if path.is_dir() {
                "is a directory, not an ONNX file"
            } else {
                "file not found"
            };
            return Err(Error::ModelLoad {
                path: path.to_owned(),
                msg: msg.into(),
            });
        }
        let order: &[Provider] = match opts.provider {
            ProviderChoice::Auto => &[Provider::Tensorrt, Provider::Cuda, Provider::Cpu],
            ProviderChoice::Tensorrt => &[Provider::Tensorrt],
            ProviderChoice::Cuda => &[Provider::Cuda],
            ProviderChoice::Cpu => &[Provider::Cpu],
        };
        let mut last_err = None;
        for &p in order {
            match Self::try_load(&env, path, opts, p) {
                Ok(session) => {
                    tracing::info!(model = %path.display(), provider = %p, "session ready");
                    return Ok(Self::describe(session, path, p, opts));
                }
                Err(e @ Error::ModelLoad { .. }) => return Err(e),
                Err(e) => {
                    if opts.provider == ProviderChoice::Auto {
                        tracing::info!(provider = %p, reason = %e, "execution provider not usable, trying the next");
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Inference("no execution provider".into())))
    }

    fn try_load(
        env: &ort::environment::Environment,
        path: &Path,
        opts: &RuntimeOptions,
        p: Provider,
    ) -> Result<Session> {
        let unavailable = |reason: String| Error::ProviderUnavailable {
            provider: p.as_str().into(),
            reason,
        };
        let mut builder = Session::builder(env)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(ort::Error::from)?;
        if opts.intra_op_threads > 0 {
            builder = builder
                .with_intra_threads(opts.intra_op_threads)
                .map_err(ort::Error::from)?;
        }
        let cuda = || {
            ep::CUDA::default()
                .with_device_id(opts.device_id)
                .build()
                .error_on_failure()
        };
        let dispatch = match p {
            Provider::Cpu | Provider::Triton => vec![],
            Provider::Cuda => {
                if !ep::CUDA::is_available().unwrap_or(false) {
                    return Err(unavailable(
                        "this ONNX Runtime library has no CUDA provider (install onnxruntime-gpu)"
                            .into(),
                    ));
                }
                vec![cuda()]
            }
            Provider::Tensorrt => {
                if !ep::TensorRT::is_available().unwrap_or(false) {
                    return Err(unavailable("this ONNX Runtime library has no TensorRT provider (install onnxruntime-gpu and TensorRT)".into()));
                }
                let plan = Self::engine_plan(env, path, opts).map_err(|e| match e {
                    e @ Error::ModelLoad { .. } => e,
                    e => unavailable(e.to_string()),
                })?;
                std::fs::create_dir_all(&plan.cache).map_err(|e| {
                    unavailable(format!("engine cache dir {}: {e}", plan.cache.display()))
                })?;
                tracing::info!(model = %path.display(), cache = %plan.cache.display(),
                    profile = ?plan.profile, "TensorRT engine cache");
                let cache = plan.cache.display().to_string();
                let mut trt = ep::TensorRT::default()
                    .with_device_id(opts.device_id)
                    .with_fp16(opts.precision == Precision::Fp16)
                    .with_bf16(opts.precision == Precision::Bf16)
                    .with_engine_cache(true)
                    .with_engine_cache_path(cache.clone())
                    .with_timing_cache(true)
                    .with_timing_cache_path(cache)
                    .with_max_workspace_size(opts.trt_workspace_mib << 20);
                if let Some([min, opt, max]) = plan.profile {
                    trt = trt
                        .with_profile_min_shapes(min)
                        .with_profile_opt_shapes(opt)
                        .with_profile_max_shapes(max);
                }
                // Nodes TensorRT does not take (it has no float64: a pixel-form model's warp)
                // run on CUDA, not on the CPU.
                vec![trt.build().error_on_failure(), cuda()]
            }
        };
        if !dispatch.is_empty() {
            builder = builder
                .with_execution_providers(dispatch)
                .map_err(|e| unavailable(e.to_string()))?;
        }
        builder.commit_from_file(path).map_err(|e| {
            let msg = e.to_string();
            // A session that fails on a GPU provider may load on the next one; a bad file will not.
            if p == Provider::Cpu || msg.contains("INVALID_PROTOBUF") || msg.contains("NO_SUCHFILE")
            {
                Error::ModelLoad {
                    path: path.to_owned(),
                    msg,
                }
            } else {
                unavailable(msg)
            }
        })
    }

    /// Where this model's TensorRT engines live (keyed: [`EngineKey`]) and the optimization
    /// profile for its first input when its batch is dynamic (read from the model by a CPU
    /// session without optimizations).
    fn engine_plan(
        env: &ort::environment::Environment,
        path: &Path,
        opts: &RuntimeOptions,
    ) -> Result<EnginePlan> {
        let gpu = engines::gpu_name(opts.device_id).ok_or_else(|| {
            Error::Invalid(format!(
                "no CUDA device {} (libcuda.so.1 missing, or no such GPU)",
                opts.device_id
            ))
        })?;
        let tensorrt = engines::tensorrt_version()
            .ok_or_else(|| Error::Invalid("TensorRT (libnvinfer.so) not found".into()))?;
        let batches = engines::profile_batches(opts.batch_size, opts.trt_max_batch);
        let key = EngineKey {
            model: engines::model_hash(path)?,
            tensorrt,
            gpu,
            precision: opts.precision,
            batches,
        };
        let probe = Session::builder(env)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(ort::Error::from)?
            .commit_from_file(path)
            .map_err(|e| Error::ModelLoad {
                path: path.to_owned(),
                msg: e.to_string(),
            })?;
        let profile = probe.inputs().first().and_then(|i| {
            let shape: Vec<i64> = i.dtype().tensor_shape()?.iter().copied().collect();
            let item: Option<Vec<usize>> = shape
                .get(1..)?
                .iter()
                .map(|d| usize::try_from(*d).ok())
                .collect();
            let item = item?;
            (shape.first() == Some(&-1)).then(|| engines::profile_shapes(i.name(), &item, batches))
        });
        Ok(EnginePlan {
            cache: opts.engine_cache_dir().join(key.folder()),
            profile,
        })
    }

    /// Runs every output once on zeros for each batch size in `batches` (model input item shape
    /// from the model; a pixel-form model gets a black 64x64 frame and that many crops), so
    /// engines are built and memory allocated before the first frame. Returns how long it took.
    pub fn warm_up(&self, batches: &[usize]) -> Result<std::time::Duration> {
        let t = std::time::Instant::now();
        let input = self
            .inputs
            .first()
            .ok_or_else(|| Error::Inference("the model has no input".into()))?;
        let outputs: Vec<&str> = self.outputs.iter().map(|o| o.name.as_str()).collect();
        if input.name == "frames" {
            // The pixel form: what TensorRT builds for is the model behind the warp, whose input
            // is `[N, 3, H, W]` whatever the frame's size, so a small black frame warms it up.
            let channels = input
                .shape
                .last()
                .and_then(|c| usize::try_from(*c).ok())
                .unwrap_or(4);
            let frame = vec![0u8; 64 * 64 * channels];
            for &b in batches {
                let affine: Vec<f64> = (0..b)
                    .flat_map(|_| [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
                    .collect();
                let frame_index = vec![0i64; b];
                let batch = PixelBatch {
                    frames: &frame,
                    shape: [1, 64, 64, channels],
                    affine: &affine,
                    frame_index: &frame_index,
                };
                self.run_pixels(&batch, &outputs)?;
            }
            return Ok(t.elapsed());
        }
        let item: Vec<usize> = input.shape[1..]
            .iter()
            .map(|d| usize::try_from(*d))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::Inference(format!("warm-up: input {input} has a variable item shape"))
            })?;
        let len: usize = item.iter().product();
        for &b in batches {
            let zeros = vec![0.0f32; b * len];
            self.run(&input.name, &outputs, &zeros, b, &item)?;
        }
        Ok(t.elapsed())
    }

    /// The model `opts.remote` names on the server (its name defaulting to `path`'s stem).
    fn connect(path: &Path, opts: &RuntimeOptions) -> Result<Self> {
        let name = match &opts.remote.model_name {
            Some(n) => n.clone(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "backend=triton: no model-name, and {} has no file name to default to",
                        path.display()
                    ))
                })?,
        };
        let client = triton::Client::connect(&opts.remote, &name)?;
        Ok(Self {
            inputs: client.inputs.clone(),
            outputs: client.outputs.clone(),
            path: PathBuf::from(client.describe()),
            provider: Provider::Triton,
            id: next_id(),
            metadata: HashMap::new(),
            engine: Engine::Remote(Box::new(client)),
        })
    }

    fn describe(session: Session, path: &Path, provider: Provider, _: &RuntimeOptions) -> Self {
        let info = |o: &ort::value::Outlet| TensorInfo {
            dtype: match o.dtype().tensor_type() {
                Some(ort::value::TensorElementType::Float32) => Some(triton::DataType::Fp32),
                Some(ort::value::TensorElementType::Float16) => Some(triton::DataType::Fp16),
                Some(ort::value::TensorElementType::Int64) => Some(triton::DataType::Int64),
                Some(ort::value::TensorElementType::Int32) => Some(triton::DataType::Int32),
                Some(ort::value::TensorElementType::Uint8) => Some(triton::DataType::Uint8),
                Some(ort::value::TensorElementType::Float64) => Some(triton::DataType::Fp64),
                _ => None,
            },
            name: o.name().to_owned(),
            shape: o
                .dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
            is_f32: o.dtype().tensor_type() == Some(ort::value::TensorElementType::Float32),
        };
        let inputs = session.inputs().iter().map(info).collect();
        let outputs = session.outputs().iter().map(info).collect();
        let metadata = session
            .metadata()
            .ok()
            .map(|m| {
                let keys = m.custom_keys().unwrap_or_default();
                keys.into_iter()
                    .filter_map(|k| m.custom(&k).map(|v| (k, v)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            metadata,
            engine: Engine::Local(Mutex::new(session)),
            path: path.to_owned(),
            provider,
            id: next_id(),
            inputs,
            outputs,
        }
    }

    /// A process-unique number for this loaded session (equal ids: one shared session).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The model file (for a remote model: "inference server …, model '…'", for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The execution provider this session runs on.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The fixed batch size the model was exported with, or `None` when the batch is dynamic.
    pub fn fixed_batch(&self) -> Option<usize> {
        self.inputs
            .first()
            .and_then(|i| i.shape.first())
            .filter(|d| **d > 0)
            .map(|d| *d as usize)
    }

    /// Items per run and whether the last run is zero-padded to it: a fixed model batch (padded),
    /// else the server's largest batch (not padded), else all `n` at once.
    fn chunking(&self, n: usize) -> (usize, bool) {
        match (self.fixed_batch(), &self.engine) {
            (Some(b), _) => (b, true),
            (None, Engine::Remote(c)) => (c.max_batch.unwrap_or(n).min(n), false),
            (None, Engine::Local(_)) => (n, false),
        }
    }

    /// Runs `n` items of `item_len` f32 each (`data.len() == n * item_len`), item shape
    /// `item_shape` (e.g. `[3, 1024, 768]`), on `input`, returning `outputs` in the order asked.
    /// A fixed-batch model gets the items in chunks of its batch, the last one zero-padded; a
    /// server's model in chunks of its largest batch.
    pub fn run(
        &self,
        input: &str,
        outputs: &[&str],
        data: &[f32],
        n: usize,
        item_shape: &[usize],
    ) -> Result<Vec<BatchOutput>> {
        let item_len: usize = item_shape.iter().product();
        if data.len() != n * item_len || n == 0 {
            return Err(Error::Inference(format!(
                "input '{input}': {} values for {n} items of shape {item_shape:?}",
                data.len()
            )));
        }
        let (chunk, pad) = self.chunking(n);
        let mut result: Vec<BatchOutput> = outputs.iter().map(|o| BatchOutput::new(o)).collect();
        let mut padded = Vec::new();
        let mut start = 0;
        while start < n {
            let count = chunk.min(n - start);
            let slice = &data[start * item_len..(start + count) * item_len];
            let batch: &[f32] = if count < chunk && pad {
                padded.clear();
                padded.extend_from_slice(slice);
                padded.resize(chunk * item_len, 0.0);
                &padded
            } else {
                slice
            };
            let rows = if pad { chunk } else { count };
            match &self.engine {
                Engine::Local(session) => {
                    let mut shape = vec![rows];
                    shape.extend_from_slice(item_shape);
                    let tensor = TensorRef::from_array_view((shape, batch))?;
                    let mut session = session
                        .lock()
                        .map_err(|_| Error::Inference("session lock poisoned".into()))?;
                    let out = session.run(ort::inputs![input => tensor])?;
                    take_outputs(out, outputs, &mut result, count)?;
                }
                Engine::Remote(client) => {
                    let out = client.infer(input, batch, rows, item_shape, outputs)?;
                    for (tensor, r) in out.into_iter().zip(result.iter_mut()) {
                        r.push_host(tensor, count)?;
                    }
                }
            }
            start += count;
        }
        Ok(result)
    }
}

/// A batch for a pose model's pixel form ([`super::contract::PixelInputs`]): frames that crops
/// are cut from, and each crop's map and frame.
pub struct PixelBatch<'a> {
    /// `shape[0]` frames of `shape[1]` rows, `shape[2]` pixels of `shape[3]` bytes, packed.
    pub frames: &'a [u8],
    pub shape: [usize; 4],
    /// Row-major 2x3 maps, frame px → crop px, one per crop.
    pub affine: &'a [f64],
    /// The frame (`0..shape[0]`) each crop is cut from.
    pub frame_index: &'a [i64],
}

impl ModelSession {
    /// Runs a pixel-form model (inputs `frames`, `affine`, `frame_index`) once on every crop of
    /// `batch`, returning `outputs` in the order asked. Local sessions only (checked when the
    /// element starts).
    pub fn run_pixels(&self, batch: &PixelBatch<'_>, outputs: &[&str]) -> Result<Vec<BatchOutput>> {
        let n = batch.frame_index.len();
        if batch.frames.len() != batch.shape.iter().product::<usize>()
            || batch.affine.len() != 6 * n
            || n == 0
        {
            return Err(Error::Inference(format!(
                "pixel batch: {} bytes for frames {:?}, {} map values for {n} crops",
                batch.frames.len(),
                batch.shape,
                batch.affine.len()
            )));
        }
        let Engine::Local(session) = &self.engine else {
            return Err(Error::Inference(
                "a pixel-form model runs in a local session only".into(),
            ));
        };
        let frames = TensorRef::from_array_view((batch.shape.to_vec(), batch.frames))?;
        let affine = TensorRef::from_array_view(([n, 2, 3], batch.affine))?;
        let frame_index = TensorRef::from_array_view(([n], batch.frame_index))?;
        let mut session = session
            .lock()
            .map_err(|_| Error::Inference("session lock poisoned".into()))?;
        let out = session.run(ort::inputs![
            "frames" => frames,
            "affine" => affine,
            "frame_index" => frame_index,
        ])?;
        let mut result: Vec<BatchOutput> = outputs.iter().map(|o| BatchOutput::new(o)).collect();
        take_outputs(out, outputs, &mut result, n)?;
        Ok(result)
    }
}

/// Moves `outputs` of one ORT run into `result` (in that order), `count` items each.
fn take_outputs(
    mut out: ort::session::SessionOutputs<'_>,
    outputs: &[&str],
    result: &mut [BatchOutput],
    count: usize,
) -> Result<()> {
    for (o, r) in outputs.iter().zip(result.iter_mut()) {
        let value = out.remove(*o).ok_or_else(|| Error::Output {
            name: (*o).into(),
            msg: "not produced by the model".into(),
        })?;
        r.push(value, count)?;
    }
    Ok(())
}

/// A process-unique session number.
fn next_id() -> u64 {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A model's TensorRT engine folder and optimization profile.
struct EnginePlan {
    cache: PathBuf,
    /// `(min, opt, max)` shapes of the first input, when its batch is dynamic.
    profile: Option<[String; 3]>,
}
