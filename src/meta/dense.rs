//! Dense results at frame resolution (the frame of the buffer they are attached to), row-major:
//!
//! | meta | structure | fields |
//! |---|---|---|
//! | `SapiensSegMeta` | `sapiens/seg` | `width`, `height` (uint), `class-set` (`goliath-seg-28` or Sapiens2's `dome-seg-29`), `num-classes`, `mode` (`exact`/`fast`), `untrained`, `labels`: GBytes H×W uint8 (0 = background) |
//! | `SapiensDepthMeta` | `sapiens/depth` | `width`, `height`, `untrained`, `masked` (background from seg set to NaN), `fg-min`, `fg-max` (float, NaN when no foreground), `depth`: GBytes H×W float32, relative |
//! | `SapiensNormalMeta` | `sapiens/normal` | `width`, `height`, `untrained`, `masked`, `normals`: GBytes H×W×3 float32 unit vectors (x, y, z), NaN = background |
//! | `SapiensPointmapMeta` | `sapiens/pointmap` | `width`, `height`, `untrained`, `masked`, `scale` (float: the model's; metric = pointmap / scale), `focal-px` (double: the implied focal length in frame px, canonical focal / scale / resize factor), `z-p1`, `z-p99` (float: foreground Z percentiles, NaN when none), `points`: GBytes H×W×3 float32 metric (x, y, z), NaN = background |
//!
//! All four also have `carried` (boolean): copied from an earlier frame (`interval`, `skip`).
//!
//! Frame size keeps downstream use simple (one value per frame pixel); the arrays are handed to
//! `GBytes` without copying.
use std::borrow::Cow;

use super::{attach, f32_bytes, f32_view, get_bytes, get_field, read};
use crate::config::SegMode;
use crate::error::Result;
use crate::labels::SegClassSetId;

pub const SEG_META: &str = "SapiensSegMeta";
pub const DEPTH_META: &str = "SapiensDepthMeta";
pub const NORMAL_META: &str = "SapiensNormalMeta";
pub const POINTMAP_META: &str = "SapiensPointmapMeta";

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
    /// What the class ids mean.
    pub classes: SegClassSetId,
    labels: glib::Bytes,
}

impl SegResult {
    pub fn new(info: DenseInfo, mode: SegMode, classes: SegClassSetId, labels: Vec<u8>) -> Self {
        Self {
            info,
            mode,
            classes,
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
            s.set("class-set", self.classes.as_str());
            s.set("num-classes", self.classes.count() as u32);
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
            let set: String = get_field(s, SEG_META, "class-set")?;
            let classes = set.parse().map_err(|e| crate::Error::Meta {
                name: SEG_META.into(),
                msg: format!("field 'class-set': {e}"),
            })?;
            Ok(Self {
                info,
                mode,
                classes,
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

/// Metric 3-D points (Sapiens2 pointmap).
#[derive(Debug, Clone)]
pub struct PointmapResult {
    pub info: DenseInfo,
    pub masked: bool,
    /// The model's scale output (canonical focal / actual focal).
    pub scale: f32,
    /// Implied horizontal focal length, frame px.
    pub focal_px: f64,
    /// Foreground Z, 1st and 99th percentile; `None` when no pixel is foreground.
    pub z_range: Option<(f32, f32)>,
    points: glib::Bytes,
}

impl PointmapResult {
    pub fn new(
        info: DenseInfo,
        masked: bool,
        scale: f32,
        focal_px: f64,
        z_range: Option<(f32, f32)>,
        points: Vec<f32>,
    ) -> Self {
        Self {
            info,
            masked,
            scale,
            focal_px,
            z_range,
            points: f32_bytes(points),
        }
    }

    /// H×W×3 (x, y, z), metric, NaN = background.
    pub fn values(&self) -> Cow<'_, [f32]> {
        f32_view(&self.points)
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        attach(buffer, POINTMAP_META, "sapiens/pointmap", |s| {
            self.info.set(s);
            s.set("masked", self.masked);
            s.set("scale", self.scale);
            s.set("focal-px", self.focal_px);
            s.set("z-p1", self.z_range.map_or(f32::NAN, |r| r.0));
            s.set("z-p99", self.z_range.map_or(f32::NAN, |r| r.1));
            s.set("points", &self.points);
        })
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        read(buffer, POINTMAP_META, |s| {
            let m = POINTMAP_META;
            let info = DenseInfo::get(s, m)?;
            let (lo, hi): (f32, f32) = (get_field(s, m, "z-p1")?, get_field(s, m, "z-p99")?);
            Ok(Self {
                info,
                masked: get_field(s, m, "masked")?,
                scale: get_field(s, m, "scale")?,
                focal_px: get_field(s, m, "focal-px")?,
                z_range: (!lo.is_nan()).then_some((lo, hi)),
                points: get_bytes(s, m, "points", info.pixels() * 12)?,
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
        SegResult::new(
            info,
            SegMode::Fast,
            SegClassSetId::DomeSeg29,
            vec![0, 1, 2, 28, 0, 5],
        )
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
            (info, SegMode::Fast, &[0, 1, 2, 28, 0, 5][..])
        );
        let d = DepthResult::from_buffer(&copy).unwrap().unwrap();
        assert_eq!((d.masked, d.range), (true, Some((1.0, 4.0))));
        assert!(d.values()[0].is_nan() && d.values()[1..] == [1.0, 2.0, 3.0, 4.0, 1.5]);
        let n = NormalResult::from_buffer(&copy).unwrap().unwrap();
        assert_eq!(n.values()[17], 17.0);
        assert!(!n.masked);
        let b = buf.get_mut().unwrap();
        PointmapResult::new(info, true, 0.5, 1234.5, Some((1.0, 3.0)), vec![2.5; 18])
            .attach(b)
            .unwrap();
        let p = PointmapResult::from_buffer(&buf).unwrap().unwrap();
        assert_eq!(
            (p.masked, p.scale, p.focal_px, p.z_range),
            (true, 0.5, 1234.5, Some((1.0, 3.0)))
        );
        assert!(p.values().iter().all(|v| *v == 2.5));
    }
}
