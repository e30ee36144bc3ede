//! Task heads: model output tensors → results. Pure functions, no GStreamer.
pub mod pose;
