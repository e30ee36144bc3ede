//! Person detections, as two metas: the standard `GstVideoRegionOfInterestMeta` per person (type
//! `person` unless configured otherwise, rect in frame pixels, a `detection` param structure with
//! `confidence` and `backend`), which `sapienspose` and any GStreamer analytics element read; and
//! `SapiensDetectionsMeta`, one per frame, which says that the detector ran (or that its results
//! were carried to this frame) even when it found nobody.
//!
//! Structure `sapiens/detections`:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `backend` | string | `hog` (OpenCV's people detector), ... |
//! | `num-boxes` | uint | N |
//! | `boxes` | GBytes | N×4 f32: x1, y1, x2, y2 in frame pixels |
//! | `scores` | GBytes | N f32: the detector's score of each box |
//! | `carried` | boolean | copied from an earlier frame (`interval`, `skip` policy) |
use std::ops::ControlFlow;

use super::{attach, get_f32s, get_field, put_f32s, read};
use crate::detect::Detection;
use crate::error::Result;
use crate::geometry::BBox;

pub const DETECT_META: &str = "SapiensDetectionsMeta";
const STRUCTURE: &str = "sapiens/detections";

/// What a detector found on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Detections {
    pub backend: String,
    pub found: Vec<Detection>,
    pub carried: bool,
}

impl Detections {
    /// Attaches the detections meta and one ROI meta of `roi_type` per detection (replacing
    /// the ROI metas of that type already there), rects clamped to the `width`×`height` frame.
    pub fn attach(
        &self,
        buffer: &mut gst::BufferRef,
        roi_type: &str,
        (width, height): (u32, u32),
    ) -> Result<()> {
        let boxes = self
            .found
            .iter()
            .flat_map(|d| [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2])
            .collect();
        let scores = self.found.iter().map(|d| d.score).collect();
        attach(buffer, DETECT_META, STRUCTURE, |s| {
            s.set("backend", self.backend.as_str());
            s.set("num-boxes", self.found.len() as u32);
            put_f32s(s, "boxes", boxes);
            put_f32s(s, "scores", scores);
            super::set_carried(s, self.carried);
        })?;
        remove_rois(buffer, roi_type);
        for d in &self.found {
            add_roi(buffer, roi_type, &d.bbox, (width, height), |roi| {
                roi.add_param(
                    gst::Structure::builder("detection")
                        .field("confidence", d.score as f64)
                        .field("backend", self.backend.as_str())
                        .build(),
                );
            });
        }
        Ok(())
    }

    /// The detections meta of `buffer`; `Ok(None)` when the detector did not run on it.
    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        read(buffer, DETECT_META, |s| {
            let n = get_field::<u32>(s, DETECT_META, "num-boxes")? as usize;
            let boxes = get_f32s(s, DETECT_META, "boxes", n * 4)?;
            let scores = get_f32s(s, DETECT_META, "scores", n)?;
            Ok(Self {
                backend: get_field(s, DETECT_META, "backend")?,
                found: boxes
                    .chunks_exact(4)
                    .zip(scores)
                    .map(|(b, score)| Detection {
                        bbox: BBox {
                            x1: b[0],
                            y1: b[1],
                            x2: b[2],
                            y2: b[3],
                        },
                        score,
                    })
                    .collect(),
                carried: super::is_carried(s),
            })
        })
    }
}

/// A person ROI meta as read back: its box (frame px), tracker id and detector confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonRoi {
    pub bbox: BBox,
    /// The `tracking` param's `id` (`sapienstrack`), if any.
    pub id: Option<u32>,
    /// The `detection` param's `confidence`, if any.
    pub confidence: Option<f64>,
}

/// The ROI metas of `roi_type` on `buffer`, in order.
pub fn person_rois(buffer: &gst::BufferRef, roi_type: &str) -> Vec<PersonRoi> {
    buffer
        .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == roi_type)
        .map(|m| {
            let (x, y, w, h) = m.rect();
            PersonRoi {
                bbox: BBox {
                    x1: x as f32,
                    y1: y as f32,
                    x2: (x + w) as f32,
                    y2: (y + h) as f32,
                },
                id: m.param("tracking").and_then(|p| p.get::<u32>("id").ok()),
                confidence: m
                    .param("detection")
                    .and_then(|p| p.get::<f64>("confidence").ok()),
            }
        })
        .collect()
}

/// Removes every ROI meta of `roi_type` from `buffer`.
pub fn remove_rois(buffer: &mut gst::BufferRef, roi_type: &str) {
    buffer.foreach_meta_mut(|mut meta| {
        let ours = meta
            .downcast_ref::<gst_video::VideoRegionOfInterestMeta>()
            .is_some_and(|m| m.roi_type() == roi_type);
        ControlFlow::Continue(if ours {
            gst::buffer::BufferMetaForeachAction::Remove
        } else {
            gst::buffer::BufferMetaForeachAction::Keep
        })
    });
}

/// Adds a ROI meta of `roi_type` for `bbox` (frame pixels, rounded and clamped to the frame;
/// nothing when nothing is left), then lets `fill` set its id and params.
pub fn add_roi(
    buffer: &mut gst::BufferRef,
    roi_type: &str,
    bbox: &BBox,
    (width, height): (u32, u32),
    fill: impl FnOnce(&mut gst_video::VideoRegionOfInterestMeta),
) {
    let clamp = |v: f32, hi: u32| v.round().clamp(0.0, hi as f32) as u32;
    let (x1, y1) = (clamp(bbox.x1, width), clamp(bbox.y1, height));
    let (x2, y2) = (clamp(bbox.x2, width), clamp(bbox.y2, height));
    if x2 > x1 && y2 > y1 {
        let mut roi =
            gst_video::VideoRegionOfInterestMeta::add(buffer, roi_type, (x1, y1, x2 - x1, y2 - y1));
        fill(&mut roi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detections_round_trip_and_become_clamped_person_rois() {
        gst::init().unwrap();
        let d = |x1, y1, x2, y2, score| Detection {
            bbox: BBox { x1, y1, x2, y2 },
            score,
        };
        let found = Detections {
            backend: "hog".into(),
            found: vec![
                d(10.2, 20.7, 50.0, 120.0, 1.5),
                d(-5.0, 90.0, 30.0, 300.0, 0.7),
            ],
            carried: false,
        };
        let mut buf = gst::Buffer::with_size(16).unwrap();
        found
            .attach(buf.get_mut().unwrap(), "person", (200, 150))
            .unwrap();
        // Attaching again replaces the ROI metas instead of adding more.
        found
            .attach(buf.get_mut().unwrap(), "person", (200, 150))
            .unwrap();
        assert_eq!(Detections::from_buffer(&buf).unwrap(), Some(found));
        let rois: Vec<_> = buf
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .map(|m| {
                (
                    m.roi_type().to_string(),
                    m.rect(),
                    m.param("detection")
                        .map(|p| p.get::<f64>("confidence").unwrap()),
                )
            })
            .collect();
        assert_eq!(
            rois,
            vec![
                ("person".into(), (10, 21, 40, 99), Some(1.5)),
                ("person".into(), (0, 90, 30, 60), Some(0.699999988079071)),
            ]
        );
    }
}
