//! What a session is asked for: the execution provider and runtime options, and the one merge of
//! their layers (element property > config `[runtime]` > built-in default).
use std::path::PathBuf;

use serde::Deserialize;

use super::engines::Precision;

/// Which execution provider the user asks for: one enum for the config (`auto`, `tensorrt`,
/// `cuda`, `cpu`), the `execution-provider` property and the CLI flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, glib::Enum, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
#[enum_type(name = "GstSapiensExecutionProvider")]
pub enum ProviderChoice {
    /// TensorRT, else CUDA, else CPU; logs which one runs.
    #[default]
    #[enum_value(
        name = "TensorRT, else CUDA, else CPU (the config's choice when it has one)",
        nick = "auto"
    )]
    Auto,
    #[enum_value(name = "TensorRT only (error when unavailable)", nick = "tensorrt")]
    Tensorrt,
    #[enum_value(name = "CUDA only (error when unavailable)", nick = "cuda")]
    Cuda,
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu,
}

impl ProviderChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Tensorrt => "tensorrt",
            Self::Cuda => "cuda",
            Self::Cpu => "cpu",
        }
    }
}

/// Where a model runs: in this process (ONNX Runtime) or on an inference server (Triton, or any
/// server speaking the KServe v2 gRPC protocol).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, glib::Enum, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
#[enum_type(name = "GstSapiensBackend")]
pub enum Backend {
    /// ONNX Runtime in this process, on the execution provider chosen.
    #[default]
    #[enum_value(name = "ONNX Runtime in this process", nick = "local")]
    Local,
    /// A Triton Inference Server (KServe v2 gRPC) at `server`.
    #[enum_value(
        name = "Triton Inference Server (KServe v2 gRPC) at 'server'",
        nick = "triton"
    )]
    Triton,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Triton => "triton",
        }
    }
}

/// Default inference server address.
pub const DEFAULT_SERVER: &str = "grpc://127.0.0.1:8001";
/// Default deadline of one request to the server, ms.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// Runtime settings one layer gives (`None` = not said here): the config's `[runtime]` section,
/// or the element's properties.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeOverrides {
    pub execution_provider: Option<ProviderChoice>,
    pub intra_op_threads: Option<usize>,
    /// TensorRT precision (`fp32`, `fp16`, `bf16`).
    pub precision: Option<Precision>,
    pub trt_engine_cache_dir: Option<PathBuf>,
    /// Largest batch the TensorRT optimization profile covers (0: the element's batch size).
    pub trt_max_batch: Option<usize>,
    pub trt_workspace_mib: Option<usize>,
    pub device_id: Option<i32>,
    pub backend: Option<Backend>,
    /// Inference server address (`grpc://host:port`).
    pub server: Option<String>,
    /// Model name on the server (default: the config's file stem).
    pub model_name: Option<String>,
    /// Model version on the server (default: the server's choice).
    pub model_version: Option<String>,
    pub request_timeout_ms: Option<u64>,
}

impl RuntimeOverrides {
    /// This layer over `lower`: each setting from here when said here, else from `lower`.
    /// `auto` as provider says nothing (it defers to the layer below).
    pub fn over(&self, lower: &RuntimeOverrides) -> RuntimeOverrides {
        RuntimeOverrides {
            execution_provider: self
                .execution_provider
                .filter(|p| *p != ProviderChoice::Auto)
                .or(lower.execution_provider),
            intra_op_threads: self.intra_op_threads.or(lower.intra_op_threads),
            precision: self.precision.or(lower.precision),
            trt_max_batch: self.trt_max_batch.or(lower.trt_max_batch),
            trt_engine_cache_dir: self
                .trt_engine_cache_dir
                .clone()
                .or_else(|| lower.trt_engine_cache_dir.clone()),
            trt_workspace_mib: self.trt_workspace_mib.or(lower.trt_workspace_mib),
            device_id: self.device_id.or(lower.device_id),
            backend: self.backend.or(lower.backend),
            server: self.server.clone().or_else(|| lower.server.clone()),
            model_name: self.model_name.clone().or_else(|| lower.model_name.clone()),
            model_version: self
                .model_version
                .clone()
                .or_else(|| lower.model_version.clone()),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
        }
    }

    /// The options in effect: what the layers said, else the defaults.
    pub fn resolve(&self) -> RuntimeOptions {
        let d = RuntimeOptions::default();
        RuntimeOptions {
            provider: self.execution_provider.unwrap_or(d.provider),
            intra_op_threads: self.intra_op_threads.unwrap_or(d.intra_op_threads),
            precision: self.precision.unwrap_or(d.precision),
            trt_max_batch: self.trt_max_batch.unwrap_or(d.trt_max_batch),
            batch_size: d.batch_size,
            trt_engine_cache_dir: self.trt_engine_cache_dir.clone().or(d.trt_engine_cache_dir),
            trt_workspace_mib: self.trt_workspace_mib.unwrap_or(d.trt_workspace_mib),
            device_id: self.device_id.unwrap_or(d.device_id),
            backend: self.backend.unwrap_or(d.backend),
            remote: RemoteOptions {
                server: self.server.clone().unwrap_or(d.remote.server),
                model_name: self.model_name.clone().or(d.remote.model_name),
                model_version: self.model_version.clone().unwrap_or(d.remote.model_version),
                request_timeout_ms: self
                    .request_timeout_ms
                    .unwrap_or(d.remote.request_timeout_ms),
            },
        }
    }
}

/// Session options (element properties / `[runtime]` config section).
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeOptions {
    pub provider: ProviderChoice,
    /// ORT intra-op threads; 0 lets ORT choose (one per core).
    pub intra_op_threads: usize,
    /// TensorRT: the precision engines are built in (fp32 until the GPU kit has checked the
    /// others against it for a model).
    pub precision: Precision,
    /// TensorRT: the optimization profile's largest batch (0: `batch_size`).
    pub trt_max_batch: usize,
    /// Items per run the element forms (its `batch-size`; not a config key): the profile's
    /// optimum, and the batch sizes warmed up.
    pub batch_size: usize,
    /// TensorRT engine cache; `None` = `<user cache dir>/sapiens-stream/tensorrt`.
    pub trt_engine_cache_dir: Option<PathBuf>,
    /// TensorRT builder workspace, MiB.
    pub trt_workspace_mib: usize,
    /// CUDA device ordinal.
    pub device_id: i32,
    /// In this process, or on an inference server.
    pub backend: Backend,
    /// The inference server (`backend = triton`).
    pub remote: RemoteOptions,
}

/// Where and how to reach a model on an inference server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOptions {
    /// `grpc://host:port` (also `http://host:port` or `host:port`).
    pub server: String,
    /// Model name on the server; `None`: the config's file stem (what `sapiens triton-repo`
    /// names it), or the model file's stem.
    pub model_name: Option<String>,
    /// Model version; empty: the server's choice.
    pub model_version: String,
    /// Deadline of one request, ms.
    pub request_timeout_ms: u64,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            server: DEFAULT_SERVER.into(),
            model_name: None,
            model_version: String::new(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            provider: ProviderChoice::Auto,
            intra_op_threads: 0,
            precision: Precision::Fp32,
            trt_max_batch: 0,
            batch_size: 1,
            trt_engine_cache_dir: None,
            trt_workspace_mib: 4096,
            device_id: 0,
            backend: Backend::Local,
            remote: RemoteOptions::default(),
        }
    }
}

impl RuntimeOptions {
    /// The TensorRT engine cache folder in effect.
    pub fn engine_cache_dir(&self) -> PathBuf {
        self.trt_engine_cache_dir.clone().unwrap_or_else(|| {
            dirs::cache_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("sapiens-stream")
                .join("tensorrt")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_layer_wins_where_it_speaks_and_auto_defers() {
        let config = RuntimeOverrides {
            execution_provider: Some(ProviderChoice::Cpu),
            precision: Some(Precision::Bf16),
            device_id: Some(1),
            ..Default::default()
        };
        let props = RuntimeOverrides {
            execution_provider: Some(ProviderChoice::Auto),
            device_id: Some(2),
            intra_op_threads: Some(3),
            ..Default::default()
        };
        let o = props.over(&config).resolve();
        assert_eq!(o.provider, ProviderChoice::Cpu, "auto defers to the config");
        assert_eq!(
            (o.precision, o.device_id, o.intra_op_threads),
            (Precision::Bf16, 2, 3)
        );
        assert_eq!(
            o.trt_workspace_mib,
            RuntimeOptions::default().trt_workspace_mib
        );
    }
}
