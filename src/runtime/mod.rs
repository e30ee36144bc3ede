//! ONNX Runtime: one environment per process (library loaded from `ORT_DYLIB_PATH` or the path
//! `make setup` recorded), and sessions built with the requested execution provider.
pub mod contract;
mod library;
mod options;
mod session;
pub mod shared;

pub use library::{dylib_path, environment};
pub use options::{ProviderChoice, RuntimeOptions, RuntimeOverrides};
pub use session::{BatchOutput, BatchSlice, ModelSession, Provider, TensorInfo};
