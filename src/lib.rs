//! sapiens-stream: real-time GStreamer + ONNX Runtime pipeline for Meta's Sapiens models.
//!
//! Data flows one way: [`config`] → [`runtime`] → [`preprocess`] → inference → [`heads`] →
//! [`meta`] → [`render`]. The GStreamer elements in [`elements`] wire these together through the
//! staged executor in [`pipelining`].
pub mod address;
pub mod analytics;
pub mod config;
pub mod cvmat;
pub mod datadir;
pub mod detect;
pub mod error;
pub mod export;
pub mod labels;
pub mod runtime;

pub use error::{Error, Result};
pub mod cli;
pub mod elements;
pub mod gather;
pub mod geometry;
pub mod heads;
pub mod logging;
pub mod meta;
pub mod pipelining;
pub mod preprocess;
pub mod render;
pub mod track;
