//! Heads: model output tensors → results, as pure functions (no GStreamer).
pub mod depth;
pub mod normal;
pub mod pose;
pub mod seg;
pub mod upsample;
