//! `sapiens triton-repo`: a Triton model repository from our configs — each config's ONNX file as
//! `<name>/1/model.onnx` with a `config.pbtxt` for Triton's ONNX Runtime backend (dynamic batching,
//! preferred batch sizes, the TensorRT accelerator, instance groups). `<name>` is the config's file
//! stem, the name the elements ask a server for by default (`backend=triton`).
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::runtime::{ModelSession, ProviderChoice, RuntimeOptions, TensorInfo};

/// TensorRT precision of the ONNX Runtime backend's accelerator (`none`: CUDA only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// Each config's `[runtime] precision` (FP16 when it says fp16, else FP32).
    Config,
    Fp16,
    Fp32,
    None,
}

/// Where Triton runs the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Gpu,
    Cpu,
}

#[derive(Debug, clap::Args)]
pub struct TritonRepoArgs {
    /// Model configs (paths, or shipped configs' names).
    #[arg(long, num_args = 1.., required = true)]
    pub configs: Vec<PathBuf>,
    /// The repository folder (created; a model folder already there is replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Largest batch Triton forms (models with a dynamic batch dimension).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_batch: u32,
    /// Batch sizes the dynamic batcher prefers (comma-separated, each ≤ --max-batch).
    #[arg(long, value_delimiter = ',', default_value = "4,8")]
    pub preferred_batch: Vec<u32>,
    /// Longest a request waits for others to join its batch, µs.
    #[arg(long, default_value_t = 2000)]
    pub queue_delay_us: u64,
    /// Model instances per device.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub instances: u32,
    /// Instances on GPUs (TensorRT accelerator) or CPUs.
    #[arg(long, value_enum, default_value_t = Kind::Gpu)]
    pub kind: Kind,
    /// TensorRT precision for GPU instances.
    #[arg(long, value_enum, default_value_t = Precision::Config)]
    pub precision: Precision,
    /// TensorRT workspace, MiB.
    #[arg(long, default_value_t = 4096)]
    pub trt_workspace_mib: u64,
}

/// What `config.pbtxt` is written from: the model's signature and the batching choices.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub name: String,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// FP16 TensorRT engines (`None`: no TensorRT accelerator).
    pub trt_fp16: Option<bool>,
}

pub fn triton_repo(args: &TritonRepoArgs) -> Result<()> {
    if let Some(p) = args
        .preferred_batch
        .iter()
        .find(|p| **p == 0 || **p > args.max_batch)
    {
        return Err(Error::Invalid(format!(
            "--preferred-batch {p}: each size must be 1..={} (--max-batch)",
            args.max_batch
        )));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::Invalid(format!("--out {}: {e}", args.out.display())))?;
    let mut names = HashSet::new();
    for c in &args.configs {
        // Found as given or by name in the data folders (the error lists where it looked).
        let config = Config::load(c)?;
        let path = config.source.clone();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !names.insert(name.clone()) {
            return Err(Error::Invalid(format!(
                "two configs are named '{name}': a repository holds one model per name"
            )));
        }
        if !config.model.path.is_file() {
            return Err(Error::ModelNotFound {
                path: config.model.path.clone(),
                config: path,
            });
        }
        // The signature as ONNX Runtime reads the file (CPU: nothing is run).
        let session = ModelSession::load(
            &config.model.path,
            &RuntimeOptions {
                provider: ProviderChoice::Cpu,
                intra_op_threads: 1,
                ..Default::default()
            },
        )?;
        let entry = ModelEntry {
            name: name.clone(),
            inputs: session.inputs.clone(),
            outputs: session.outputs.clone(),
            trt_fp16: match (args.kind, args.precision) {
                (Kind::Cpu, _) | (_, Precision::None) => None,
                (_, Precision::Fp16) => Some(true),
                (_, Precision::Fp32) => Some(false),
                // Triton's TensorRT accelerator has FP32 and FP16 (bf16 configs get FP32).
                (_, Precision::Config) => Some(
                    config.runtime_options().precision == crate::runtime::engines::Precision::Fp16,
                ),
            },
        };
        let text = model_config(&entry, args)?;
        let dir = args.out.join(&name);
        let version = dir.join("1");
        let io = |what: &Path, e: std::io::Error| {
            Error::Invalid(format!("writing {}: {e}", what.display()))
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        std::fs::create_dir_all(&version).map_err(|e| io(&version, e))?;
        let model = version.join("model.onnx");
        std::fs::copy(&config.model.path, &model).map_err(|e| io(&model, e))?;
        let pbtxt = dir.join("config.pbtxt");
        std::fs::write(&pbtxt, text).map_err(|e| io(&pbtxt, e))?;
        println!(
            "{name}: {} -> {}",
            config.model.path.display(),
            dir.display()
        );
    }
    println!(
        "serve it:  tritonserver --model-repository={}   (gRPC on :8001)\n\
         use it:    sapienspose config=… backend=triton server=grpc://HOST:8001",
        args.out.display()
    );
    Ok(())
}

/// `config.pbtxt` (protobuf text of Triton's `ModelConfig`) for `m`. A model whose batch
/// dimension is dynamic batches in Triton (`max_batch_size`, dims without the batch); one with a
/// fixed batch is declared as it is (`max_batch_size: 0`, full shapes, no dynamic batcher).
pub fn model_config(m: &ModelEntry, args: &TritonRepoArgs) -> Result<String> {
    let batch_dims: Vec<i64> = m
        .inputs
        .iter()
        .chain(&m.outputs)
        .map(|t| t.shape.first().copied().unwrap_or(0))
        .collect();
    let dynamic = batch_dims.iter().all(|d| *d < 0);
    let mut s = String::new();
    let _ = writeln!(s, "name: \"{}\"", m.name);
    let _ = writeln!(s, "platform: \"onnxruntime_onnx\"");
    let _ = writeln!(s, "backend: \"onnxruntime\"");
    let _ = writeln!(
        s,
        "max_batch_size: {}",
        if dynamic { args.max_batch } else { 0 }
    );
    for (section, tensors) in [("input", &m.inputs), ("output", &m.outputs)] {
        let _ = writeln!(s, "{section} [");
        for (i, t) in tensors.iter().enumerate() {
            let dtype = t.dtype.ok_or_else(|| {
                Error::Invalid(format!(
                    "model '{}': {section} {t} has an element type Triton configs here do not cover",
                    m.name
                ))
            })?;
            let dims = if dynamic { &t.shape[1..] } else { &t.shape[..] };
            let dims: Vec<String> = dims.iter().map(|d| (*d).max(-1).to_string()).collect();
            let _ = writeln!(
                s,
                "  {{\n    name: \"{}\"\n    data_type: TYPE_{}\n    dims: [ {} ]\n  }}{}",
                t.name,
                dtype.as_str(),
                dims.join(", "),
                if i + 1 < tensors.len() { "," } else { "" }
            );
        }
        let _ = writeln!(s, "]");
    }
    if dynamic {
        let mut preferred: Vec<u32> = args.preferred_batch.clone();
        preferred.sort_unstable();
        preferred.dedup();
        let list: Vec<String> = preferred.iter().map(u32::to_string).collect();
        let _ = writeln!(
            s,
            "dynamic_batching {{\n  preferred_batch_size: [ {} ]\n  max_queue_delay_microseconds: {}\n}}",
            list.join(", "),
            args.queue_delay_us
        );
    }
    let kind = match args.kind {
        Kind::Gpu => "KIND_GPU",
        Kind::Cpu => "KIND_CPU",
    };
    let _ = writeln!(
        s,
        "instance_group [\n  {{\n    count: {}\n    kind: {kind}\n  }}\n]",
        args.instances
    );
    if let Some(fp16) = m.trt_fp16 {
        let _ = writeln!(
            s,
            "optimization {{\n  execution_accelerators {{\n    gpu_execution_accelerator: [\n      {{\n        name: \"tensorrt\"\n        \
             parameters {{ key: \"precision_mode\" value: \"{}\" }}\n        \
             parameters {{ key: \"max_workspace_size_bytes\" value: \"{}\" }}\n        \
             parameters {{ key: \"trt_engine_cache_enable\" value: \"1\" }}\n        \
             parameters {{ key: \"trt_engine_cache_path\" value: \"/tmp/triton-trt-cache/{}\" }}\n      }}\n    ]\n  }}\n}}",
            if fp16 { "FP16" } else { "FP32" },
            args.trt_workspace_mib << 20,
            m.name
        );
    }
    Ok(s)
}
