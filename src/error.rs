//! The crate's one error type. Every variant names what is wrong (file, key, shape, caps).
use std::path::PathBuf;

/// Errors of the sapiens-stream library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file that cannot be read, parsed or validated.
    #[error("config {path}: {msg}")]
    Config { path: PathBuf, msg: String },
    /// The model file a config names does not exist (or is a folder).
    #[error("model file {path} {} (named by config {config})", if path.is_dir() { "is a directory, not an ONNX file" } else { "not found" })]
    ModelNotFound { path: PathBuf, config: PathBuf },
    /// ONNX Runtime could not load the model (corrupt file, unsupported operator, ...).
    #[error("model {path}: ONNX Runtime could not load it: {msg}")]
    ModelLoad { path: PathBuf, msg: String },
    /// The model's inputs/outputs do not fit the config.
    #[error("model {model} does not match config {config}: {msg}")]
    ModelMismatch {
        model: PathBuf,
        config: PathBuf,
        msg: String,
    },
    /// The ONNX Runtime shared library is missing or incompatible.
    #[error("ONNX Runtime library: {0}")]
    RuntimeLibrary(String),
    /// An execution provider that was asked for by name is not usable here.
    #[error("execution provider '{provider}' was requested but is not available: {reason}")]
    ProviderUnavailable { provider: String, reason: String },
    /// A remote inference server (Triton, any KServe v2 server) refused, failed or did not answer.
    #[error("inference server {server}, model '{model}': {msg}")]
    Remote {
        server: String,
        model: String,
        msg: String,
    },
    /// An ONNX Runtime call failed while running a model.
    #[error("inference: {0}")]
    Inference(String),
    /// Model output of an unexpected shape or type at run time.
    #[error("model output '{name}': {msg}")]
    Output { name: String, msg: String },
    /// A video format or frame layout the library cannot read.
    #[error("unsupported video input: {0}")]
    UnsupportedVideo(String),
    /// OpenCV failed (pre-processing warp, drawing).
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
    /// Buffer metadata that is absent or malformed.
    #[error("metadata {name}: {msg}")]
    Meta { name: String, msg: String },
    /// A stage of an inference element panicked on a frame (a bug: the frame is failed, the
    /// stream goes on).
    #[error("the {stage} stage panicked: {msg}")]
    StagePanic { stage: &'static str, msg: String },
    /// ONNX Runtime refused a call (kept as the source, for its own details).
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
    /// Invalid argument from a caller (property value, CLI flag).
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
