//! ONNX Runtime: one environment per process (library loaded from `ORT_DYLIB_PATH` or the path
//! `make setup` recorded), and sessions built with the requested execution provider.
mod batch;
pub mod contract;
mod library;
mod options;
mod session;
pub mod shared;

pub use batch::{BatchOutput, BatchSlice, FrameOutputs};
pub use library::{dylib_path, environment};
pub use options::{ProviderChoice, RuntimeOptions, RuntimeOverrides};
pub use session::{ModelSession, Provider, TensorInfo};
