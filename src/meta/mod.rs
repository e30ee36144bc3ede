//! Results as buffer metadata that C, Python and Rust applications can read.
//!
//! Each head's result is a `GstCustomMeta` (GStreamer ≥ 1.20) named `Sapiens<Head>Meta`, holding
//! a `GstStructure`. Small fields are plain structure fields; arrays travel as `GBytes` of
//! little-endian f32 with their counts beside them, so Python wraps them with `numpy.frombuffer`
//! without a copy. See the README's "Reading results" section.
pub mod analytics;
pub mod dense;
pub mod detect;
pub mod pose;
pub mod tensor;

use gst::glib;

use crate::error::{Error, Result};

/// Registers every sapiens meta (idempotent; needs `gst::init`).
pub fn register() {
    for name in [
        pose::POSE_META,
        detect::DETECT_META,
        dense::SEG_META,
        dense::DEPTH_META,
        dense::NORMAL_META,
        dense::POINTMAP_META,
        tensor::TENSOR_META,
        analytics::ANALYTICS_META,
    ] {
        if !gst::meta::CustomMeta::is_registered(name) {
            gst::meta::CustomMeta::register(name, &[]);
        }
    }
}

/// Version of the structures' layout (field names, types, meanings), in every structure as
/// `schema-version`; readers (the Python `sapiens_stream` package) refuse another.
pub const SCHEMA_VERSION: u32 = 1;

/// Field every result structure has: `true` when the result was copied from an earlier frame
/// (`interval`, the `skip` policy) instead of inferred on this one.
const CARRIED: &str = "carried";

/// Marks a result structure as inferred on its own frame (`false`) or carried (`true`).
fn set_carried(s: &mut gst::StructureRef, carried: bool) {
    s.set(CARRIED, carried);
}

/// Whether a result structure was carried from an earlier frame (absent = inferred).
fn is_carried(s: &gst::StructureRef) -> bool {
    s.get(CARRIED).unwrap_or(false)
}

/// Copies of the result metas `names` on `buffer` (what a later frame may carry).
pub fn snapshot(
    buffer: &gst::BufferRef,
    names: &[&'static str],
) -> Vec<(&'static str, gst::Structure)> {
    names
        .iter()
        .filter_map(|&n| {
            gst::meta::CustomMeta::from_buffer(buffer, n)
                .ok()
                .map(|m| (n, m.structure().to_owned()))
        })
        .collect()
}

/// Attaches results copied by [`snapshot`] from an earlier frame to `buffer`, marked carried.
pub fn carry(
    buffer: &mut gst::BufferRef,
    results: &[(&'static str, gst::Structure)],
) -> Result<()> {
    for (name, result) in results {
        attach(buffer, name, result.name(), |s| {
            for (field, value) in result.iter() {
                s.set_value(field, value.clone());
            }
            set_carried(s, true);
        })?;
    }
    Ok(())
}

/// Adds (or replaces) the custom meta `name` on `buffer`, with a structure `structure` that
/// `fill` sets.
fn attach(
    buffer: &mut gst::BufferRef,
    name: &str,
    structure: &str,
    fill: impl FnOnce(&mut gst::StructureRef),
) -> Result<()> {
    register();
    let mut meta = match gst::meta::CustomMeta::from_mut_buffer(buffer, name) {
        Ok(m) => m,
        Err(_) => gst::meta::CustomMeta::add(buffer, name).map_err(|e| Error::Meta {
            name: name.into(),
            msg: e.to_string(),
        })?,
    };
    let s = meta.mut_structure();
    s.set_name(structure);
    s.set("schema-version", SCHEMA_VERSION);
    fill(s);
    Ok(())
}

/// f32 values owned by a `GBytes` without copying (native = little-endian on supported targets).
struct F32Bytes(Vec<f32>);

impl AsRef<[u8]> for F32Bytes {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

/// `values` as a `GBytes`, without copying.
pub fn f32_bytes(values: Vec<f32>) -> glib::Bytes {
    glib::Bytes::from_owned(F32Bytes(values))
}

/// A `GBytes` of f32 viewed as `&[f32]` (no copy when aligned, else a copy).
pub fn f32_view(bytes: &glib::Bytes) -> std::borrow::Cow<'_, [f32]> {
    let b: &[u8] = bytes.as_ref();
    match bytemuck::try_cast_slice(&b[..b.len() / 4 * 4]) {
        Ok(values) => std::borrow::Cow::Borrowed(values),
        Err(_) => std::borrow::Cow::Owned(bytemuck::pod_collect_to_vec(b)),
    }
}

/// Sets `name` to the i32 values as a `GBytes` (native endianness, as the f32 fields).
fn put_i32s(s: &mut gst::StructureRef, name: &str, values: Vec<i32>) {
    s.set(
        name,
        glib::Bytes::from_owned(bytemuck::cast_slice::<i32, u8>(&values).to_vec()),
    );
}

fn get_i32s(s: &gst::StructureRef, meta: &str, name: &str, expect: usize) -> Result<Vec<i32>> {
    Ok(bytemuck::pod_collect_to_vec(&get_bytes(
        s,
        meta,
        name,
        expect * 4,
    )?))
}

/// Sets `name` to the f32 values as a `GBytes`.
fn put_f32s(s: &mut gst::StructureRef, name: &str, values: Vec<f32>) {
    s.set(name, f32_bytes(values));
}

/// Reads the `GBytes` field `name`, checking it holds `expect_bytes` bytes.
fn get_bytes(
    s: &gst::StructureRef,
    meta: &str,
    name: &str,
    expect_bytes: usize,
) -> Result<glib::Bytes> {
    let err = |msg: String| Error::Meta {
        name: meta.into(),
        msg,
    };
    let bytes = s
        .get::<glib::Bytes>(name)
        .map_err(|e| err(format!("field '{name}': {e}")))?;
    if bytes.len() != expect_bytes {
        return Err(err(format!(
            "field '{name}' holds {} bytes, expected {expect_bytes}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Reads `name` as `expect` f32 values from a `GBytes` field.
fn get_f32s(s: &gst::StructureRef, meta: &str, name: &str, expect: usize) -> Result<Vec<f32>> {
    Ok(f32_view(&get_bytes(s, meta, name, expect * 4)?).into_owned())
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

/// `f` of the structure of the custom meta `meta` on `buffer`; `Ok(None)` when there is none.
fn read<T>(
    buffer: &gst::BufferRef,
    meta: &str,
    f: impl FnOnce(&gst::StructureRef) -> Result<T>,
) -> Result<Option<T>> {
    match gst::meta::CustomMeta::from_buffer(buffer, meta) {
        Ok(m) => f(m.structure()).map(Some),
        Err(_) => Ok(None),
    }
}
