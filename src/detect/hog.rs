//! OpenCV's built-in people detector: HOG features with the default people SVM (Dalal & Triggs,
//! 64×128 window), run over an image pyramid. A person detector for machines without a detector
//! model; OpenCV's own people-detection sample runs it on `vtest.avi`.
use std::sync::Mutex;

use opencv::core::{Rect, Size, Vector};
use opencv::objdetect::{HOGDescriptor, HOGDescriptorTrait, HOGDescriptorTraitConst};

use super::{Detection, Image};
use crate::cvmat::mat_over;
use crate::error::{Error, Result};
use crate::geometry::BBox;

/// Search settings (`detectMultiScale`'s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HogParams {
    /// Pyramid step between scales (> 1; OpenCV's default 1.05).
    pub scale: f64,
    /// Window stride, px (OpenCV's sample: 8).
    pub stride: u32,
    /// SVM margin a window must exceed (0 = the SVM's own boundary).
    pub hit_threshold: f64,
}

impl Default for HogParams {
    fn default() -> Self {
        Self {
            scale: 1.05,
            stride: 8,
            hit_threshold: 0.0,
        }
    }
}

/// A HOG people detector (one search at a time).
pub struct HogDetector {
    hog: Mutex<HOGDescriptor>,
    params: HogParams,
}

impl HogDetector {
    pub fn new(params: HogParams) -> Result<Self> {
        if params.scale.is_nan() || params.scale <= 1.0 || params.stride == 0 {
            return Err(Error::Invalid(format!(
                "HOG scale {} must be > 1 and stride {} > 0",
                params.scale, params.stride
            )));
        }
        let mut hog = HOGDescriptor::default()?;
        hog.set_svm_detector(HOGDescriptor::get_default_people_detector()?);
        Ok(Self {
            hog: Mutex::new(hog),
            params,
        })
    }

    /// People in `img` (grey or BGR), boxes in its pixels, scores = SVM margins.
    pub fn detect(&self, img: &Image) -> Result<Vec<Detection>> {
        let stride = img.width as usize * img.channels;
        // SAFETY: the Mat lives only in this call, over `img.data`, and HOG only reads it.
        let mat = unsafe {
            mat_over(
                img.data.as_ptr() as *mut u8,
                img.data.len(),
                stride,
                img.width,
                img.height,
                img.channels,
            )?
        };
        let (mut rects, mut weights) = (Vector::<Rect>::new(), Vector::<f64>::new());
        let s = self.params.stride as i32;
        let hog = self.hog.lock().unwrap_or_else(|p| p.into_inner());
        hog.detect_multi_scale_weights(
            &mat,
            &mut rects,
            &mut weights,
            self.params.hit_threshold,
            Size::new(s, s),
            Size::new(0, 0),
            self.params.scale,
            2.0,
            false,
        )?;
        Ok(rects
            .iter()
            .zip(weights.iter())
            .map(|(r, w)| Detection {
                bbox: BBox {
                    x1: r.x as f32,
                    y1: r.y as f32,
                    x2: (r.x + r.width) as f32,
                    y2: (r.y + r.height) as f32,
                },
                score: w as f32,
            })
            .collect())
    }
}
