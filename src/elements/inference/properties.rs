//! Properties every inference element has. Precedence: property > config `[runtime]` > default.
//! Model and runtime properties change in NULL/READY only (`GST_PARAM_MUTABLE_READY`).
use std::path::PathBuf;

use glib::prelude::*;
use gst::prelude::*;

use super::imp::SapiensInference;
use super::stats;
use crate::config::Config;
use crate::elements::lock;
use crate::pipelining::{Admission, Policy};
use crate::runtime::{ProviderChoice, RuntimeOptions};

/// `execution-provider`: which ONNX Runtime execution provider to ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensExecutionProvider")]
pub enum ExecutionProvider {
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

impl From<ExecutionProvider> for ProviderChoice {
    fn from(p: ExecutionProvider) -> Self {
        match p {
            ExecutionProvider::Auto => ProviderChoice::Auto,
            ExecutionProvider::Tensorrt => ProviderChoice::Tensorrt,
            ExecutionProvider::Cuda => ProviderChoice::Cuda,
            ExecutionProvider::Cpu => ProviderChoice::Cpu,
        }
    }
}

/// `policy`: what a full window does to a new frame (live sources).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensPolicy")]
pub enum PolicyProperty {
    #[default]
    #[enum_value(
        name = "Wait for a slot: nothing is lost, latency grows if the source is faster (files)",
        nick = "block"
    )]
    Block,
    #[enum_value(
        name = "Drop the oldest frame still waiting, else the new one (counted in stats)",
        nick = "drop"
    )]
    Drop,
    #[enum_value(
        name = "Pass the new frame without inference, carrying the last results (marked carried)",
        nick = "skip"
    )]
    Skip,
}

impl From<PolicyProperty> for Policy {
    fn from(p: PolicyProperty) -> Self {
        match p {
            PolicyProperty::Block => Policy::Block,
            PolicyProperty::Drop => Policy::Drop,
            PolicyProperty::Skip => Policy::Skip,
        }
    }
}

/// Default frames inside the element at once (one per stage).
pub const DEFAULT_MAX_INFLIGHT: u32 = 3;

/// Property values; `None` = not set, the config or the default applies.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Option<PathBuf>,
    /// Shared-session name (`model-instance`).
    pub model_instance: Option<String>,
    pub model: Option<PathBuf>,
    pub execution_provider: Option<ExecutionProvider>,
    pub fp16: Option<bool>,
    pub trt_cache_dir: Option<PathBuf>,
    pub trt_workspace_mib: Option<u32>,
    pub device_id: Option<i32>,
    pub intra_op_threads: Option<u32>,
    pub max_inflight: u32,
    pub policy: PolicyProperty,
    pub interval: u32,
    /// Latency this element reports, ns; `None` = measured.
    pub latency: Option<u64>,
    /// Period of `sapiens-stats` element messages, ms (0 = none).
    pub stats_interval_ms: u32,
    pub batch_size: u32,
    pub batch_timeout_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: None,
            model_instance: None,
            model: None,
            execution_provider: None,
            fp16: None,
            trt_cache_dir: None,
            trt_workspace_mib: None,
            device_id: None,
            intra_op_threads: None,
            max_inflight: DEFAULT_MAX_INFLIGHT,
            policy: PolicyProperty::Block,
            interval: 1,
            latency: None,
            stats_interval_ms: 0,
            batch_size: 1,
            batch_timeout_ms: 0,
        }
    }
}

impl Settings {
    /// How the executor admits frames. With a shared `model-instance`, the instance's worker
    /// waits `batch-timeout-ms` for requests from every element, so the executor itself only
    /// takes frames already waiting (one wait, not two in a row).
    pub fn admission(&self) -> Admission {
        let own_wait = if self.model_instance.is_some() {
            0
        } else {
            self.batch_timeout_ms
        };
        Admission {
            batch_size: self.batch_size as usize,
            batch_timeout: std::time::Duration::from_millis(own_wait as u64),
            max_inflight: self.max_inflight as usize,
            policy: self.policy.into(),
            interval: self.interval,
        }
    }

    /// Session options: properties over the config's `[runtime]` over defaults.
    pub fn runtime_options(&self, config: &Config) -> RuntimeOptions {
        let c = config.runtime_options();
        RuntimeOptions {
            provider: self
                .execution_provider
                .map(Into::into)
                .filter(|p| *p != ProviderChoice::Auto)
                .unwrap_or(c.provider),
            intra_op_threads: self
                .intra_op_threads
                .map(|t| t as usize)
                .unwrap_or(c.intra_op_threads),
            fp16: self.fp16.unwrap_or(c.fp16),
            trt_engine_cache_dir: self.trt_cache_dir.clone().or(c.trt_engine_cache_dir),
            trt_workspace_mib: self
                .trt_workspace_mib
                .map(|m| m as usize)
                .unwrap_or(c.trt_workspace_mib),
            device_id: self.device_id.unwrap_or(c.device_id),
        }
    }
}

/// The shared property specs.
pub fn specs() -> Vec<glib::ParamSpec> {
    let d = RuntimeOptions::default();
    vec![
        glib::ParamSpecString::builder("config")
            .nick("Model config")
            .blurb("Model config TOML (see configs/); model paths in it are relative to the file")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("model")
            .nick("Model file")
            .blurb("ONNX model file, overriding the config's model.path")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("model-instance")
            .nick("Model instance")
            .blurb("Elements naming the same instance share one loaded session (same model and runtime options)")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("session-id")
            .nick("Session id")
            .blurb("Process-unique id of the loaded session (0 until PAUSED); equal ids share one session")
            .read_only()
            .build(),
        glib::ParamSpecEnum::builder::<ExecutionProvider>("execution-provider")
            .nick("Execution provider")
            .blurb("ONNX Runtime execution provider to use; an explicit one that is unavailable is an error")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("provider")
            .nick("Provider in use")
            .blurb("The execution provider the loaded session actually runs on (empty until PAUSED)")
            .read_only()
            .build(),
        glib::ParamSpecBoolean::builder("fp16")
            .nick("FP16")
            .blurb("TensorRT: build fp16 engines")
            .default_value(d.fp16)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("trt-cache-dir")
            .nick("TensorRT engine cache")
            .blurb("Folder for built TensorRT engines (default: <user cache dir>/sapiens-stream/tensorrt)")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("trt-workspace-mib")
            .nick("TensorRT workspace")
            .blurb("TensorRT builder workspace size in MiB")
            .minimum(64)
            .default_value(d.trt_workspace_mib as u32)
            .mutable_ready()
            .build(),
        glib::ParamSpecInt::builder("device-id")
            .nick("Device")
            .blurb("CUDA device ordinal")
            .minimum(0)
            .default_value(d.device_id)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("intra-op-threads")
            .nick("Intra-op threads")
            .blurb("ONNX Runtime intra-op threads (0 = one per core)")
            .maximum(1024)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-inflight")
            .nick("Frames in flight")
            .blurb("Frames inside the element at once (pre-process, inference and post-process overlap when > 1; 1 = sequential)")
            .minimum(1)
            .maximum(64)
            .default_value(DEFAULT_MAX_INFLIGHT)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-size")
            .nick("Batch size")
            .blurb("Frames (dense heads) or person crops (pose, across consecutive frames) per model run; max-inflight is raised to it if smaller")
            .minimum(1)
            .maximum(64)
            .default_value(1)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-timeout-ms")
            .nick("Batch timeout")
            .blurb("Longest a batch waits to fill after its first frame, ms (0 = only frames already waiting: never holds a live source back)")
            .maximum(10_000)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<PolicyProperty>("policy")
            .nick("Overload policy")
            .blurb("When max-inflight frames are being inferred: block (wait), drop (oldest waiting frame), skip (carry last results)")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("interval")
            .nick("Inference interval")
            .blurb("Infer every Nth frame; the others carry the last results (marked carried = true)")
            .minimum(1)
            .maximum(1000)
            .default_value(1)
            .mutable_ready()
            .build(),
        glib::ParamSpecInt::builder("latency-ms")
            .nick("Reported latency")
            .blurb("Latency added to the LATENCY query, ms; -1 = measured (p95 time in the element, re-announced as it changes)")
            .minimum(-1)
            .default_value(-1)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("stats-interval-ms")
            .nick("Stats message period")
            .blurb("Post the stats structure as an element message on the bus every this many ms (0 = never)")
            .mutable_playing()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb("frames-in/out, flushed, failed, fps and per-stage latency (pre/infer/post/total mean/p50/p95/p99 ms)")
            .read_only()
            .build(),
    ]
}

fn path(value: &glib::Value) -> Option<PathBuf> {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

impl SapiensInference {
    /// Sets one of the properties of [`specs`].
    pub(super) fn set_shared_property(&self, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "config" => s.config = path(value),
            "model" => s.model = path(value),
            "model-instance" => {
                s.model_instance = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|v| !v.is_empty())
            }
            "execution-provider" => s.execution_provider = value.get().ok(),
            "fp16" => s.fp16 = value.get().ok(),
            "trt-cache-dir" => s.trt_cache_dir = path(value),
            "trt-workspace-mib" => s.trt_workspace_mib = value.get().ok(),
            "device-id" => s.device_id = value.get().ok(),
            "intra-op-threads" => s.intra_op_threads = value.get().ok(),
            "max-inflight" => s.max_inflight = value.get().unwrap_or(DEFAULT_MAX_INFLIGHT),
            "policy" => s.policy = value.get().unwrap_or_default(),
            "batch-size" => s.batch_size = value.get().unwrap_or(1),
            "batch-timeout-ms" => s.batch_timeout_ms = value.get().unwrap_or(0),
            "interval" => s.interval = value.get().unwrap_or(1),
            "latency-ms" => {
                s.latency = value
                    .get::<i32>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .map(|ms| ms as u64 * 1_000_000)
            }
            "stats-interval-ms" => s.stats_interval_ms = value.get().unwrap_or(0),
            other => unreachable!("GObject only sets the properties of specs(), not {other}"),
        }
        self.reporter.configure(s.latency, s.stats_interval_ms);
    }

    /// Reads one of the properties of [`specs`].
    pub(super) fn shared_property(&self, pspec: &glib::ParamSpec) -> glib::Value {
        let d = RuntimeOptions::default();
        let s = lock(&self.settings).clone();
        let show = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match pspec.name() {
            "config" => show(&s.config).to_value(),
            "model" => show(&s.model).to_value(),
            "model-instance" => s.model_instance.to_value(),
            "session-id" => self.session_id().unwrap_or(0).to_value(),
            "execution-provider" => s.execution_provider.unwrap_or_default().to_value(),
            "provider" => self.provider().map(|p| p.as_str()).unwrap_or("").to_value(),
            "fp16" => s.fp16.unwrap_or(d.fp16).to_value(),
            "trt-cache-dir" => show(&s.trt_cache_dir).to_value(),
            "trt-workspace-mib" => s
                .trt_workspace_mib
                .unwrap_or(d.trt_workspace_mib as u32)
                .to_value(),
            "device-id" => s.device_id.unwrap_or(d.device_id).to_value(),
            "intra-op-threads" => s.intra_op_threads.unwrap_or(0).to_value(),
            "max-inflight" => s.max_inflight.to_value(),
            "policy" => s.policy.to_value(),
            "batch-size" => s.batch_size.to_value(),
            "batch-timeout-ms" => s.batch_timeout_ms.to_value(),
            "interval" => s.interval.to_value(),
            "latency-ms" => s
                .latency
                .map_or(-1, |ns| (ns / 1_000_000) as i32)
                .to_value(),
            "stats-interval-ms" => s.stats_interval_ms.to_value(),
            "stats" => stats::to_structure(&self.stats().unwrap_or_default()).to_value(),
            other => unreachable!("GObject only reads the properties of specs(), not {other}"),
        }
    }
}
