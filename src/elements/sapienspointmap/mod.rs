//! `sapienspointmap` (`GstSapiensPointmap`, a `GstSapiensDense`): Sapiens2's per-pixel metric XYZ
//! of the whole frame (pointmap / scale), with the scale and the implied focal length, attached
//! as `SapiensPointmapMeta` at frame size; background masked (NaN) with an upstream seg result;
//! optionally each frame's points as a PLY file.
mod imp;

use std::sync::atomic::{AtomicU64, Ordering};

use gst::glib;

use crate::elements::dense::{DenseHead, DenseOutput};
use crate::error::{Error, Result};
use crate::export::ply::{NumberedPath, write_points};
use crate::heads::pointmap::points;
use crate::meta::dense::{DenseInfo, PointmapResult};

/// Where PLY files go, and which frames.
#[derive(Debug)]
pub struct PlyTarget {
    pub path: NumberedPath,
    /// Every this many frames (1 = each).
    pub interval: u64,
    /// Frames seen (the number in the file name).
    frames: AtomicU64,
}

impl PlyTarget {
    pub fn new(path: NumberedPath, interval: u64) -> Self {
        Self {
            path,
            interval: interval.max(1),
            frames: AtomicU64::new(0),
        }
    }

    /// The file for the next frame, when it is one to write.
    fn next(&self) -> Option<std::path::PathBuf> {
        let this = self.frames.fetch_add(1, Ordering::Relaxed);
        this.is_multiple_of(self.interval)
            .then(|| self.path.get(this))
    }
}

/// The pointmap head: model outputs (pointmap, scale) → frame-size metric points.
pub struct PointmapHead {
    /// The canonical camera's focal length, input px (config `canonical_focal_px`).
    pub canonical_focal_px: f64,
    pub ply: Option<PlyTarget>,
}

impl DenseHead for PointmapHead {
    const HEAD: crate::config::Head = crate::config::Head::Pointmap;
    const META: &'static str = crate::meta::dense::POINTMAP_META;
    fn attach(
        &self,
        output: DenseOutput<'_>,
        mask: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let scale = output.extras.first().and_then(|s| s.first()).copied();
        let scale = scale
            .filter(|s| s.is_finite() && *s != 0.0)
            .ok_or_else(|| Error::Output {
                name: "scale".into(),
                msg: format!("{scale:?}: the pointmap scale must be finite and non-zero"),
            })?;
        let p = points(
            output.planes,
            scale,
            info.width as usize,
            info.height as usize,
            mask,
        );
        // fx (input px) = canonical / scale; frame px = input px / (input px per frame px).
        let focal_px = self.canonical_focal_px / scale as f64 / output.input_per_frame_px.0;
        if let Some(path) = self.ply.as_ref().and_then(PlyTarget::next) {
            write_points(&path, &p.xyz)?;
        }
        PointmapResult::new(info, mask.is_some(), scale, focal_px, p.z_range, p.xyz).attach(buffer)
    }
}

glib::wrapper! {
    pub struct SapiensPointmap(ObjectSubclass<imp::SapiensPointmap>)
        @extends crate::elements::dense::SapiensDense, crate::elements::inference::SapiensInference,
        gst::Element, gst::Object;
}
