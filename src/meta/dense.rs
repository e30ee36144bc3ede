//! Dense results at frame resolution (the frame of the buffer they are attached to), row-major:
//!
//! | meta | structure | fields |
//! |---|---|---|
//! | `SapiensSegMeta` | `sapiens/seg` | `width`, `height` (uint), `class-set` (`goliath-seg-28`), `num-classes`, `mode` (`exact`/`fast`), `untrained`, `labels`: GBytes H×W uint8 (0 = background) |
//! | `SapiensDepthMeta` | `sapiens/depth` | `width`, `height`, `untrained`, `masked` (background from seg set to NaN), `fg-min`, `fg-max` (float, NaN when no foreground), `depth`: GBytes H×W float32, relative |
//! | `SapiensNormalMeta` | `sapiens/normal` | `width`, `height`, `untrained`, `masked`, `normals`: GBytes H×W×3 float32 unit vectors (x, y, z), NaN = background |
//!
//! All three also have `carried` (boolean): copied from an earlier frame (`interval`, `skip`).
//!
//! Frame size keeps downstream use simple (one value per frame pixel); the arrays are handed to
//! `GBytes` without copying.
use std::borrow::Cow;

use super::{attach, f32_bytes, f32_view, get_bytes, get_field, read};
use crate::config::SegMode;
use crate::error::Result;

pub const SEG_META: &str = "SapiensSegMeta";
pub const DEPTH_META: &str = "SapiensDepthMeta";
pub const NORMAL_META: &str = "SapiensNormalMeta";

/// Frame size and weights flag, common to the dense results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseInfo {
    pub width: u32,
    pub height: u32,
    pub untrained: bool,
    /// Copied from an earlier frame (`interval`, `skip` policy), not inferred on this one.
    pub carried: bool,
}

impl DenseInfo {
    fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    fn set(&self, s: &mut gst::StructureRef) {
        s.set("width", self.width);
        s.set("height", self.height);
        s.set("untrained", self.untrained);
        super::set_carried(s, self.carried);
    }

    fn get(s: &gst::StructureRef, meta: &str) -> Result<Self> {
        Ok(Self {
            width: get_field(s, meta, "width")?,
            height: get_field(s, meta, "height")?,
            untrained: get_field(s, meta, "untrained")?,
            carried: super::is_carried(s),
        })
    }
}

/// The seg class map.
#[derive(Debug, Clone)]
pub struct SegResult {
    pub info: DenseInfo,
    pub mode: SegMode,
    labels: glib::Bytes,
}

impl SegResult {
    pub fn new(info: DenseInfo, mode: SegMode, labels: Vec<u8>) -> Self {
        Self {
            info,
            mode,
            labels: glib::Bytes::from_owned(labels),
        }
    }

    /// H×W class indices (0 = background).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        attach(buffer, SEG_META, "sapiens/seg", |s| {
            self.info.set(s);
            s.set("class-set", "goliath-seg-28");
            s.set("num-classes", 28u32);
            s.set(
                "mode",
                if self.mode == SegMode::Exact {
                    "exact"
                } else {
                    "fast"
                },
            );
            s.set("labels", &self.labels);
        })
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        read(buffer, SEG_META, |s| {
            let info = DenseInfo::get(s, SEG_META)?;
            let mode = if get_field::<String>(s, SEG_META, "mode")? == "fast" {
                SegMode::Fast
            } else {
                SegMode::Exact
            };
            Ok(Self {
                info,
                mode,
                labels: get_bytes(s, SEG_META, "labels", info.pixels())?,
            })
        })
    }
}

/// Relative depth.
#[derive(Debug, Clone)]
pub struct DepthResult {
    pub info: DenseInfo,
    pub masked: bool,
    /// Foreground min and max; `None` when no pixel is foreground.
    pub range: Option<(f32, f32)>,
    depth: glib::Bytes,
}

impl DepthResult {
    pub fn new(info: DenseInfo, masked: bool, range: Option<(f32, f32)>, depth: Vec<f32>) -> Self {
        Self {
            info,
            masked,
            range,
            depth: f32_bytes(depth),
        }
    }

    /// H×W depth, NaN = background.
    pub fn values(&self) -> Cow<'_, [f32]> {
        f32_view(&self.depth)
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        attach(buffer, DEPTH_META, "sapiens/depth", |s| {
            self.info.set(s);
            s.set("masked", self.masked);
            s.set("fg-min", self.range.map_or(f32::NAN, |r| r.0));
            s.set("fg-max", self.range.map_or(f32::NAN, |r| r.1));
            s.set("depth", &self.depth);
        })
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        read(buffer, DEPTH_META, |s| {
            let info = DenseInfo::get(s, DEPTH_META)?;
            let (lo, hi): (f32, f32) = (
                get_field(s, DEPTH_META, "fg-min")?,
                get_field(s, DEPTH_META, "fg-max")?,
            );
            Ok(Self {
                info,
                masked: get_field(s, DEPTH_META, "masked")?,
                range: (!lo.is_nan()).then_some((lo, hi)),
                depth: get_bytes(s, DEPTH_META, "depth", info.pixels() * 4)?,
            })
        })
    }
}

/// Unit surface normals.
#[derive(Debug, Clone)]
pub struct NormalResult {
    pub info: DenseInfo,
    pub masked: bool,
    normals: glib::Bytes,
}

impl NormalResult {
    pub fn new(info: DenseInfo, masked: bool, normals: Vec<f32>) -> Self {
        Self {
            info,
            masked,
            normals: f32_bytes(normals),
        }
    }

    /// H×W×3 (x, y, z), NaN = background.
    pub fn values(&self) -> Cow<'_, [f32]> {
        f32_view(&self.normals)
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        attach(buffer, NORMAL_META, "sapiens/normal", |s| {
            self.info.set(s);
            s.set("masked", self.masked);
            s.set("normals", &self.normals);
        })
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        read(buffer, NORMAL_META, |s| {
            let info = DenseInfo::get(s, NORMAL_META)?;
            Ok(Self {
                info,
                masked: get_field(s, NORMAL_META, "masked")?,
                normals: get_bytes(s, NORMAL_META, "normals", info.pixels() * 12)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_results_round_trip_through_a_buffer() {
        gst::init().unwrap();
        let info = DenseInfo {
            width: 3,
            height: 2,
            untrained: true,
            carried: false,
        };
        let mut buf = gst::Buffer::with_size(8).unwrap();
        let b = buf.get_mut().unwrap();
        SegResult::new(info, SegMode::Fast, vec![0, 1, 2, 27, 0, 5])
            .attach(b)
            .unwrap();
        DepthResult::new(
            info,
            true,
            Some((1.0, 4.0)),
            vec![f32::NAN, 1.0, 2.0, 3.0, 4.0, 1.5],
        )
        .attach(b)
        .unwrap();
        NormalResult::new(info, false, (0..18).map(|v| v as f32).collect())
            .attach(b)
            .unwrap();
        let copy = buf.copy();
        let seg = SegResult::from_buffer(&copy).unwrap().unwrap();
        assert_eq!(
            (seg.info, seg.mode, seg.labels()),
            (info, SegMode::Fast, &[0, 1, 2, 27, 0, 5][..])
        );
        let d = DepthResult::from_buffer(&copy).unwrap().unwrap();
        assert_eq!((d.masked, d.range), (true, Some((1.0, 4.0))));
        assert!(d.values()[0].is_nan() && d.values()[1..] == [1.0, 2.0, 3.0, 4.0, 1.5]);
        let n = NormalResult::from_buffer(&copy).unwrap().unwrap();
        assert_eq!(n.values()[17], 17.0);
        assert!(!n.masked);
    }
}
