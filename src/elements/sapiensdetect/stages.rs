//! The HOG backend's stages: frame → detection image → OpenCV's people detector → person ROI
//! metas and the detections meta.
use crate::detect::hog::{HogDetector, HogParams};
use crate::detect::{Detection, Image, keep_best};
use crate::elements::frame;
use crate::error::Result;
use crate::meta::detect::{DETECT_META, Detections};
use crate::pipelining::Stages;
use crate::preprocess::{FrameView, PixelLayout};

/// The detector element's own property values.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectSettings {
    /// ROI meta type written for each person.
    pub roi_type: String,
    pub hog: HogParams,
    /// Boxes shorter than this (frame px) are left out.
    pub min_height: f32,
    /// At most this many boxes a frame, highest scores first.
    pub max_detections: usize,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            hog: HogParams::default(),
            min_height: 0.0,
            max_detections: 100,
        }
    }
}

pub struct HogStages {
    detector: HogDetector,
    settings: DetectSettings,
}

impl HogStages {
    pub fn new(settings: DetectSettings) -> Result<Self> {
        Ok(Self {
            detector: HogDetector::new(settings.hog)?,
            settings,
        })
    }
}

/// The image HOG searches: BGR for packed RGB-family frames (as OpenCV's sample gives it), the
/// luma plane for YUV frames (no colour conversion).
fn detection_image(view: &FrameView<'_>) -> Result<Image> {
    let (w, h) = (view.width as usize, view.height as usize);
    let (plane, stride) = *view
        .planes
        .first()
        .ok_or_else(|| crate::error::Error::UnsupportedVideo("a frame without planes".into()))?;
    crate::cvmat::check_plane(
        plane.len(),
        stride,
        view.width,
        view.height,
        match view.layout {
            PixelLayout::Packed {
                bytes_per_pixel, ..
            } => bytes_per_pixel,
            _ => 1,
        },
    )?;
    let rows = (0..h).map(|y| &plane[y * stride..]);
    let (data, channels) = match view.layout {
        PixelLayout::Packed {
            bytes_per_pixel,
            rgb,
        } => (
            rows.flat_map(|row| {
                row.chunks_exact(bytes_per_pixel)
                    .take(w)
                    .flat_map(move |px| [px[rgb[2]], px[rgb[1]], px[rgb[0]]])
            })
            .collect(),
            3,
        ),
        PixelLayout::I420 | PixelLayout::Nv12 => {
            (rows.flat_map(|row| row[..w].iter().copied()).collect(), 1)
        }
    };
    Ok(Image {
        data,
        width: view.width,
        height: view.height,
        channels,
    })
}

impl Stages for HogStages {
    type Pre = Image;
    type Inferred = Vec<Detection>;

    fn preprocess(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<Image> {
        frame::with_view(buffer, info, detection_image)
    }

    fn infer(&self, batch: Vec<Image>) -> Result<Vec<Vec<Detection>>> {
        batch
            .iter()
            .map(|img| {
                let found = self.detector.detect(img)?;
                Ok(keep_best(
                    found,
                    self.settings.min_height,
                    self.settings.max_detections,
                ))
            })
            .collect()
    }

    fn postprocess(
        &self,
        found: Vec<Detection>,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<()> {
        Detections {
            backend: "hog".into(),
            found,
            carried: false,
        }
        .attach(
            buffer,
            &self.settings.roi_type,
            (info.width(), info.height()),
        )
    }

    fn result_metas(&self) -> &'static [&'static str] {
        &[DETECT_META]
    }

    /// The last detections, and their person ROI metas again (a carried frame has boxes too).
    fn carry(
        &self,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
        last: &[(&'static str, gst::Structure)],
    ) -> Result<()> {
        crate::meta::carry(buffer, last)?;
        if let Some(d) = Detections::from_buffer(buffer)? {
            d.attach(
                buffer,
                &self.settings.roi_type,
                (info.width(), info.height()),
            )?;
        }
        Ok(())
    }
}
