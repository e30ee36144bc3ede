//! Results as buffer metadata that C, Python and Rust applications can read.
//!
//! Each head's result is a `GstCustomMeta` (GStreamer ≥ 1.20) named `Sapiens<Head>Meta`, holding
//! a `GstStructure`. Small fields are plain structure fields; arrays travel as `GBytes` of
//! little-endian f32 with their counts beside them, so Python wraps them with `numpy.frombuffer`
//! without a copy. See the README's "Reading results" section.
pub mod pose;

use gst::glib;

use crate::error::{Error, Result};

/// Registers every sapiens meta (idempotent; needs `gst::init`).
pub fn register() {
    for name in [pose::POSE_META] {
        if !gst::meta::CustomMeta::is_registered(name) {
            gst::meta::CustomMeta::register(name, &[]);
        }
    }
}

/// Sets `name` to the f32 values as a `GBytes` (native = little-endian on supported targets).
fn put_f32s(s: &mut gst::StructureRef, name: &str, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    s.set(name, glib::Bytes::from_owned(bytes));
}

/// Reads `name` as `expect` f32 values from a `GBytes` field.
fn get_f32s(s: &gst::StructureRef, meta: &str, name: &str, expect: usize) -> Result<Vec<f32>> {
    let err = |msg: String| Error::Meta {
        name: meta.into(),
        msg,
    };
    let bytes = s
        .get::<glib::Bytes>(name)
        .map_err(|e| err(format!("field '{name}': {e}")))?;
    if bytes.len() != expect * 4 {
        return Err(err(format!(
            "field '{name}' holds {} bytes, expected {} f32 = {} bytes",
            bytes.len(),
            expect,
            expect * 4
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn get_field<'a, T: glib::value::FromValue<'a> + 'static>(
    s: &'a gst::StructureRef,
    meta: &str,
    name: &str,
) -> Result<T> {
    s.get::<T>(name).map_err(|e| Error::Meta {
        name: meta.into(),
        msg: format!("field '{name}': {e}"),
    })
}
