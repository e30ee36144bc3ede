//! The remote session kind: a model served by Triton Inference Server (or any server speaking the
//! KServe v2 gRPC protocol), behind the same [`super::ModelSession`] interface as a local ONNX
//! Runtime session, so every inference element gets it with no head-specific code.
//!
//! ```text
//! ModelSession::run ─► Client::infer (blocking, on a shared tokio runtime) ─► gRPC ModelInfer
//!                        │ deadline per request; a lost server is retried with backoff
//! ```
//! [`client`] speaks the protocol (`proto/kserve_v2.proto`), [`health`] decides when a lost server
//! is tried again, [`tensor`] converts raw tensor bytes (FP32, FP16, INT64, INT32) to and from f32.
mod client;
mod health;
mod tensor;

pub use client::{Client, HostTensor};
pub use health::Backoff;
pub use tensor::DataType;

/// The generated protocol messages and client stub.
#[allow(clippy::all, missing_docs, rust_2018_idioms)]
pub mod proto {
    tonic::include_proto!("inference");
}
