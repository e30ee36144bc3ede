//! Person detection: person boxes in frame pixels, from a detector backend (no GStreamer here).
pub mod components;
pub mod decode;
pub mod hog;

use crate::geometry::BBox;

/// One detected person: its box in frame pixels and the detector's score for it (the HOG SVM
/// margin, or a model's confidence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f32,
}

/// An 8-bit image owned for detection: `channels` interleaved (1 = grey, 3 = BGR), rows packed.
#[derive(Debug, Clone)]
pub struct Image {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub channels: usize,
}

/// Keeps the `max` highest-scoring detections whose box is at least `min_height` px tall, best
/// first.
pub fn keep_best(mut found: Vec<Detection>, min_height: f32, max: usize) -> Vec<Detection> {
    found.retain(|d| d.bbox.y2 - d.bbox.y1 >= min_height);
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(max);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(h: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 10.0,
                y2: h,
            },
            score,
        }
    }

    #[test]
    fn keeps_the_best_tall_enough_boxes() {
        let got = keep_best(
            vec![
                det(50.0, 0.2),
                det(10.0, 3.0),
                det(60.0, 1.0),
                det(70.0, 0.5),
            ],
            40.0,
            2,
        );
        assert_eq!(got, vec![det(60.0, 1.0), det(70.0, 0.5)]);
    }
}
