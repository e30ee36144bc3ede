//! Integration tests: elements through `gst_check::Harness` and whole pipelines on real video.
#![allow(clippy::unwrap_used)] // test and measuring code: a failed unwrap is the report
mod accuracy;
mod analytics;
mod anonymize;
mod batching;
mod common;
mod configs;
mod dashboard;
mod decoded;
mod dense;
mod errors;
mod harness;
mod live;
mod multiperson;
mod pipeline;
mod results;
mod rtsp;
mod sapiens2;
mod serve;
mod signals;
mod trained;
mod triton;
