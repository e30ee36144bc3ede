//! Putting a buffer's results on screen: over the frame itself (`overlay`), or as a 2×2 mosaic
//! (`grid`: frame with pose | seg blend, depth (or a Sapiens2 pointmap's depth) | normals; a
//! tile stays black when its head is absent).
use super::dense::{Packed, depth_map, normal_map, pointmap_depth, seg_blend};
use super::{Canvas, analytics, pose};
use crate::analytics::AnalyticsResult;
use crate::error::Result;
use crate::meta::dense::{DepthResult, NormalResult, PointmapResult, SegResult};
use crate::meta::pose::PoseResult;

/// Every result a buffer carries.
#[derive(Debug, Default)]
pub struct Results {
    pub pose: Option<PoseResult>,
    pub seg: Option<SegResult>,
    pub depth: Option<DepthResult>,
    pub normal: Option<NormalResult>,
    pub pointmap: Option<PointmapResult>,
    pub analytics: Option<AnalyticsResult>,
    /// The person boxes: the pose result's, else the person ROI metas' (frame px).
    pub person_boxes: Vec<crate::geometry::BBox>,
    /// Texts of recent events to show (kept by the overlay element across frames).
    pub banner: Vec<String>,
}

impl Results {
    /// Reads them from `buffer`; dense results for another frame size are ignored.
    pub fn from_buffer(buffer: &gst::BufferRef, width: u32, height: u32) -> Result<Self> {
        let fits = |w: u32, h: u32| (w, h) == (width, height);
        let pose = PoseResult::from_buffer(buffer)?;
        let person_boxes = match &pose {
            Some(p) => p.persons.iter().map(|q| q.bbox).collect(),
            None => crate::meta::detect::person_rois(buffer, "person")
                .into_iter()
                .map(|r| r.bbox)
                .collect(),
        };
        Ok(Self {
            pose,
            person_boxes,
            seg: SegResult::from_buffer(buffer)?.filter(|r| fits(r.info.width, r.info.height)),
            depth: DepthResult::from_buffer(buffer)?.filter(|r| fits(r.info.width, r.info.height)),
            normal: NormalResult::from_buffer(buffer)?
                .filter(|r| fits(r.info.width, r.info.height)),
            pointmap: PointmapResult::from_buffer(buffer)?
                .filter(|r| fits(r.info.width, r.info.height)),
            analytics: crate::meta::analytics::from_buffer(buffer)?,
            banner: Vec::new(),
        })
    }

    /// Whether any result came from untrained weights.
    pub fn untrained(&self) -> bool {
        self.pose.as_ref().is_some_and(|p| p.untrained)
            || [
                self.seg.as_ref().map(|r| r.info),
                self.depth.as_ref().map(|r| r.info),
                self.normal.as_ref().map(|r| r.info),
                self.pointmap.as_ref().map(|r| r.info),
            ]
            .iter()
            .flatten()
            .any(|i| i.untrained)
    }
}

/// How results are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub pose: pose::PoseStyle,
    /// Seg palette weight (official 0.5).
    pub alpha: f32,
    /// Blend the seg result over the frame in the `overlay` layout.
    pub seg: bool,
    /// What to hide before drawing.
    pub anonymize: super::anonymize::Anonymize,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            pose: pose::PoseStyle::default(),
            alpha: 0.5,
            seg: true,
            anonymize: super::anonymize::Anonymize::None,
        }
    }
}

fn draw_pose(img: &mut Packed<'_>, results: &Results, style: &Style) -> Result<()> {
    let mut canvas = Canvas::over(img)?;
    if let Some(a) = &results.analytics {
        analytics::draw(&mut canvas, a)?;
    }
    if let Some(p) = &results.pose {
        pose::draw(&mut canvas, p, &style.pose)?;
    }
    if !results.banner.is_empty() {
        analytics::banner(&mut canvas, &results.banner)?;
    }
    Ok(())
}

fn banner(img: &mut Packed<'_>) -> Result<()> {
    let mut canvas = Canvas::over(img)?;
    canvas.untrained_banner()
}

/// Draws over the frame in place: what is hidden first, seg blend (if enabled), then skeletons.
pub fn overlay(img: &mut Packed<'_>, results: &Results, style: &Style) -> Result<()> {
    super::anonymize::apply(img, results, style.anonymize)?;
    if let (Some(seg), true) = (&results.seg, style.seg) {
        seg_blend(img, seg, style.alpha);
    }
    draw_pose(img, results, style)?;
    if results.untrained() {
        banner(img)?;
    }
    Ok(())
}

/// The 2×2 mosaic into `out` (twice the frame's width and height) from the frame `src`.
pub fn grid(
    src: &[u8],
    src_stride: usize,
    out: &mut Packed<'_>,
    results: &Results,
    style: &Style,
) -> Result<()> {
    let (w, h) = (out.width / 2, out.height / 2);
    let mut t = out.tile(0, 0, w, h)?;
    t.copy_from(src, src_stride);
    super::anonymize::apply(&mut t, results, style.anonymize)?;
    draw_pose(&mut t, results, style)?;
    let mut t = out.tile(w, 0, w, h)?;
    match &results.seg {
        Some(seg) => {
            t.copy_from(src, src_stride);
            super::anonymize::apply(&mut t, results, style.anonymize)?;
            seg_blend(&mut t, seg, style.alpha);
        }
        None => t.map(|_, _, _| [0, 0, 0]),
    }
    let mut t = out.tile(0, h, w, h)?;
    match (&results.depth, &results.pointmap) {
        (Some(d), _) => depth_map(&mut t, d)?,
        (None, Some(p)) => pointmap_depth(&mut t, p)?,
        (None, None) => t.map(|_, _, _| [0, 0, 0]),
    }
    let mut t = out.tile(w, h, w, h)?;
    match &results.normal {
        Some(n) => normal_map(&mut t, n),
        None => t.map(|_, _, _| [0, 0, 0]),
    }
    if results.untrained() {
        banner(out)?;
    }
    Ok(())
}
