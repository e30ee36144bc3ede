//! Properties every inference element has. Precedence: property > config `[runtime]` > default.
//! Model and runtime properties change in NULL/READY only (`GST_PARAM_MUTABLE_READY`).
use std::path::PathBuf;

use glib::prelude::*;
use gst::prelude::*;

use super::imp::SapiensInference;
use super::stats;
use crate::config::Config;
use crate::elements::lock;
use crate::pipelining::{
    Admission, DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL, DEFAULT_MAX_INFLIGHT, DEFAULT_REQUESTS, Policy,
};
use crate::runtime::{Backend, ProviderChoice, RuntimeOptions, RuntimeOverrides};

/// Property values; `None` = not set, the config or the default applies.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Option<PathBuf>,
    /// Shared-session name (`model-instance`).
    pub model_instance: Option<String>,
    pub model: Option<PathBuf>,
    /// Runtime properties (over the config's `[runtime]`).
    pub runtime: RuntimeOverrides,
    pub max_inflight: u32,
    pub policy: Policy,
    pub interval: u32,
    /// Latency this element reports, ns; `None` = measured.
    pub latency: Option<u64>,
    /// Period of `sapiens-stats` element messages, ms (0 = none).
    pub stats_interval_ms: u32,
    pub batch_size: u32,
    pub batch_timeout_ms: u32,
    /// Model runs (requests) in flight at once (`inflight-requests`).
    pub requests: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: None,
            model_instance: None,
            model: None,
            runtime: RuntimeOverrides::default(),
            max_inflight: DEFAULT_MAX_INFLIGHT,
            policy: Policy::Block,
            interval: DEFAULT_INTERVAL,
            latency: None,
            stats_interval_ms: 0,
            batch_size: DEFAULT_BATCH_SIZE,
            batch_timeout_ms: 0,
            requests: DEFAULT_REQUESTS,
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
            policy: self.policy,
            interval: self.interval,
            requests: self.requests as usize,
        }
    }

    /// Session options: properties over the config's `[runtime]` over defaults, with the
    /// element's batch size (TensorRT's profile and warm-up).
    pub fn runtime_options(&self, config: &Config) -> RuntimeOptions {
        RuntimeOptions {
            batch_size: self.batch_size as usize,
            ..self.runtime.over(&config.runtime).resolve()
        }
    }
}

/// The shared property specs.
pub fn specs() -> Vec<glib::ParamSpec> {
    let d = RuntimeOptions::default();
    vec![
        glib::ParamSpecString::builder("config")
            .nick("Model config")
            .blurb("Model config TOML: a path, or a shipped config's name (pose-tiny-coco17) found in the installed data folder; model paths in it are relative to the file")
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
        glib::ParamSpecEnum::builder::<ProviderChoice>("execution-provider")
            .nick("Execution provider")
            .blurb("ONNX Runtime execution provider to use; an explicit one that is unavailable is an error")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("provider")
            .nick("Provider in use")
            .blurb("The execution provider the loaded session actually runs on (empty until PAUSED)")
            .read_only()
            .build(),
        glib::ParamSpecEnum::builder::<Backend>("backend")
            .nick("Backend")
            .blurb("Where the model runs: local (ONNX Runtime in this process) or triton (an inference server speaking KServe v2 gRPC at 'server')")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("server")
            .nick("Inference server")
            .blurb("backend=triton: the server's gRPC address, grpc://host:port")
            .default_value(Some(crate::runtime::DEFAULT_SERVER))
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("model-name")
            .nick("Model name on the server")
            .blurb("backend=triton: the served model's name (default: the config's file name without .toml, as `sapiens triton-repo` names it)")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("model-version")
            .nick("Model version on the server")
            .blurb("backend=triton: the served model's version (default: the server's choice)")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("request-timeout-ms")
            .nick("Request deadline")
            .blurb("backend=triton: longest one request may take, ms; a request past it fails its frames (no frame waits forever)")
            .minimum(1)
            .default_value(crate::runtime::DEFAULT_REQUEST_TIMEOUT_MS as u32)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("inflight-requests")
            .nick("Requests in flight")
            .blurb("Model runs (batches) in flight at once, answered in order: > 1 hides a server's network round trip (DL Streamer's nireq); max-inflight is raised to hold them")
            .minimum(1)
            .maximum(16)
            .default_value(DEFAULT_REQUESTS)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<crate::runtime::engines::Precision>("precision")
            .nick("TensorRT precision")
            .blurb("TensorRT engines' precision: fp32 (the reference), fp16, bf16 (Sapiens2 is trained in bf16); inputs and outputs stay float32")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("trt-max-batch")
            .nick("TensorRT profile's largest batch")
            .blurb("Largest batch the TensorRT optimization profile covers (0 = batch-size); engines are built for batches 1..this, optimal at batch-size")
            .maximum(64)
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
            .default_value(DEFAULT_BATCH_SIZE)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-timeout-ms")
            .nick("Batch timeout")
            .blurb("Longest a batch waits to fill after its first frame, ms (0 = only frames already waiting: never holds a live source back)")
            .maximum(10_000)
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<Policy>("policy")
            .nick("Overload policy")
            .blurb("When max-inflight frames are being inferred: block (wait), drop (oldest waiting frame), skip (carry last results); changes while playing")
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("interval")
            .nick("Inference interval")
            .blurb("Infer every Nth frame; the others carry the last results (marked carried = true); changes while playing")
            .minimum(1)
            .maximum(1000)
            .default_value(DEFAULT_INTERVAL)
            .mutable_playing()
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

/// A string property's value, `None` when unset or empty.
fn text(value: &glib::Value) -> Option<String> {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

fn path(value: &glib::Value) -> Option<PathBuf> {
    text(value).map(PathBuf::from)
}

impl SapiensInference {
    /// Sets one of the properties of [`specs`].
    pub(super) fn set_shared_property(&self, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "config" => s.config = path(value),
            "model" => s.model = path(value),
            "model-instance" => s.model_instance = text(value),
            "execution-provider" => s.runtime.execution_provider = value.get().ok(),
            "backend" => s.runtime.backend = value.get().ok(),
            "server" => s.runtime.server = text(value),
            "model-name" => s.runtime.model_name = text(value),
            "model-version" => s.runtime.model_version = text(value),
            "request-timeout-ms" => {
                s.runtime.request_timeout_ms = value.get::<u32>().ok().map(u64::from)
            }
            "inflight-requests" => s.requests = value.get().unwrap_or(DEFAULT_REQUESTS),
            "precision" => s.runtime.precision = value.get().ok(),
            "trt-max-batch" => {
                s.runtime.trt_max_batch = value.get::<u32>().ok().map(|m| m as usize)
            }
            "trt-cache-dir" => s.runtime.trt_engine_cache_dir = path(value),
            "trt-workspace-mib" => {
                s.runtime.trt_workspace_mib = value.get::<u32>().ok().map(|m| m as usize)
            }
            "device-id" => s.runtime.device_id = value.get().ok(),
            "intra-op-threads" => {
                s.runtime.intra_op_threads = value.get::<u32>().ok().map(|t| t as usize)
            }
            "max-inflight" => s.max_inflight = value.get().unwrap_or(DEFAULT_MAX_INFLIGHT),
            "policy" => s.policy = value.get().unwrap_or_default(),
            "batch-size" => s.batch_size = value.get().unwrap_or(DEFAULT_BATCH_SIZE),
            "batch-timeout-ms" => s.batch_timeout_ms = value.get().unwrap_or(0),
            "interval" => s.interval = value.get().unwrap_or(DEFAULT_INTERVAL),
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
        let s = lock(&self.settings).clone();
        // What the properties say over the defaults (the config is read when the element starts).
        let r = s.runtime.resolve();
        let show = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match pspec.name() {
            "config" => show(&s.config).to_value(),
            "model" => show(&s.model).to_value(),
            "model-instance" => s.model_instance.to_value(),
            "session-id" => self.session_id().unwrap_or(0).to_value(),
            "execution-provider" => s.runtime.execution_provider.unwrap_or_default().to_value(),
            "provider" => self.provider().map(|p| p.as_str()).unwrap_or("").to_value(),
            "backend" => r.backend.to_value(),
            "server" => r.remote.server.to_value(),
            "model-name" => s.runtime.model_name.to_value(),
            "model-version" => s.runtime.model_version.to_value(),
            "request-timeout-ms" => (r.remote.request_timeout_ms as u32).to_value(),
            "inflight-requests" => s.requests.to_value(),
            "precision" => r.precision.to_value(),
            "trt-max-batch" => (r.trt_max_batch as u32).to_value(),
            "trt-cache-dir" => show(&s.runtime.trt_engine_cache_dir).to_value(),
            "trt-workspace-mib" => (r.trt_workspace_mib as u32).to_value(),
            "device-id" => r.device_id.to_value(),
            "intra-op-threads" => (r.intra_op_threads as u32).to_value(),
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
