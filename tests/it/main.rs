//! Integration tests: elements through `gst_check::Harness` and whole pipelines on real video.
mod accuracy;
mod batching;
mod common;
mod configs;
mod dense;
mod errors;
mod harness;
mod live;
mod pipeline;
mod rtsp;
