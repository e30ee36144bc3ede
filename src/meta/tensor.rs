//! `SapiensInputTensorMeta`: the normalized whole-frame model input, left on the buffer by the
//! first dense head so that the next ones (same input contract) reuse it instead of computing it
//! again. Structure `sapiens/input-tensor`: `width`, `height` (model input), `frame-width`,
//! `frame-height`, `resize` (`stretch` or `letterbox`), `mean`, `std` (GBytes 3×f32 each),
//! `tensor` (GBytes 3×H×W f32, NCHW item).
use std::borrow::Cow;

use super::{attach, f32_bytes, f32_view, get_bytes, get_f32s, get_field};
use crate::config::DenseResize;
use crate::error::Result;
use crate::preprocess::Normalization;

pub const TENSOR_META: &str = "SapiensInputTensorMeta";

/// A computed input tensor and what it was computed for.
#[derive(Debug, Clone)]
pub struct InputTensor {
    pub norm: Normalization,
    pub frame: (u32, u32),
    pub resize: DenseResize,
    data: glib::Bytes,
}

fn resize_name(r: DenseResize) -> &'static str {
    match r {
        DenseResize::Stretch => "stretch",
        DenseResize::Letterbox => "letterbox",
    }
}

impl InputTensor {
    pub fn new(
        norm: Normalization,
        frame: (u32, u32),
        resize: DenseResize,
        data: Vec<f32>,
    ) -> Self {
        Self {
            norm,
            frame,
            resize,
            data: f32_bytes(data),
        }
    }

    pub fn values(&self) -> Cow<'_, [f32]> {
        f32_view(&self.data)
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        attach(buffer, TENSOR_META, "sapiens/input-tensor", |s| {
            s.set("width", self.norm.width);
            s.set("height", self.norm.height);
            s.set("frame-width", self.frame.0);
            s.set("frame-height", self.frame.1);
            s.set("resize", resize_name(self.resize));
            s.set("mean", f32_bytes(self.norm.mean.to_vec()));
            s.set("std", f32_bytes(self.norm.std.to_vec()));
            s.set("tensor", &self.data);
        })
    }

    /// The tensor on `buffer` if it was computed for `norm` on a `frame`-sized frame, resized as
    /// `resize` says.
    pub fn matching(
        buffer: &gst::BufferRef,
        norm: &Normalization,
        frame: (u32, u32),
        resize: DenseResize,
    ) -> Result<Option<Self>> {
        let Ok(meta) = gst::meta::CustomMeta::from_buffer(buffer, TENSOR_META) else {
            return Ok(None);
        };
        let s = meta.structure();
        let m = TENSOR_META;
        let vec3 = |name| -> Result<[f32; 3]> {
            let v = get_f32s(s, m, name, 3)?;
            Ok([v[0], v[1], v[2]])
        };
        let found = Normalization {
            width: get_field(s, m, "width")?,
            height: get_field(s, m, "height")?,
            mean: vec3("mean")?,
            std: vec3("std")?,
        };
        let found_frame = (
            get_field(s, m, "frame-width")?,
            get_field(s, m, "frame-height")?,
        );
        let found_resize: String = get_field(s, m, "resize")?;
        if found != *norm || found_frame != frame || found_resize != resize_name(resize) {
            return Ok(None);
        }
        Ok(Some(Self {
            norm: found,
            frame,
            resize,
            data: get_bytes(s, m, "tensor", norm.item_len() * 4)?,
        }))
    }
}
