//! Multi-person tracking: stable ids across frames and boxes predicted between detections
//! (ByteTrack), as pure functions over [`crate::detect::Detection`]s.
pub mod bytetrack;
pub mod kalman;
pub mod one_euro;

pub use bytetrack::{TrackedBox, Tracker, TrackerParams};

use crate::geometry::BBox;

/// Intersection over union of two boxes (0 when either is empty).
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = iw * ih;
    let area = |r: &BBox| (r.x2 - r.x1).max(0.0) * (r.y2 - r.y1).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}
