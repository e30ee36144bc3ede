//! ONNX Runtime: one environment per process (library loaded from `ORT_DYLIB_PATH` or the path
//! `make setup` recorded), and sessions built with the requested execution provider.
mod batch;
pub mod contract;
pub mod engines;
mod library;
mod options;
mod session;
pub mod shared;
pub mod triton;

pub use batch::{BatchOutput, BatchSlice, FrameOutputs};
pub use library::{dylib_path, environment};
pub use options::{
    Backend, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SERVER, ProviderChoice, RemoteOptions,
    RuntimeOptions, RuntimeOverrides,
};
pub use session::{ModelSession, PixelBatch, Provider, TensorInfo};
