//! The detector's stages: frame → the backend's input → the backend → person ROI metas and the
//! detections meta. Backends: `hog` (OpenCV's people detector on the frame), `seg` (the
//! foreground components of an upstream `sapiensseg` result).
use crate::detect::hog::{HogDetector, HogParams};
use crate::detect::{Detection, Image, components, keep_best};
use crate::elements::frame;
use crate::error::Result;
use crate::meta::dense::SegResult;
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
    /// `seg` backend: least foreground pixels of a person.
    pub min_area: u32,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            hog: HogParams::default(),
            min_height: 0.0,
            max_detections: 100,
            min_area: 1000,
        }
    }
}

/// A person detector the stages run.
pub trait DetectorBackend: Send + Sync + 'static {
    /// What pre-processing gives the detector for one frame.
    type Input: Send + 'static;
    /// Its name in the metas (`backend`).
    const NAME: &'static str;
    fn prepare(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<Self::Input>;
    /// Person boxes in frame pixels.
    fn detect(&self, input: &Self::Input) -> Result<Vec<Detection>>;
}

/// OpenCV's HOG people detector.
pub struct Hog(HogDetector);

impl Hog {
    pub fn new(params: HogParams) -> Result<Self> {
        Ok(Self(HogDetector::new(params)?))
    }
}

impl DetectorBackend for Hog {
    type Input = Image;
    const NAME: &'static str = "hog";
    fn prepare(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<Image> {
        frame::with_view(buffer, info, detection_image)
    }
    fn detect(&self, img: &Image) -> Result<Vec<Detection>> {
        self.0.detect(img)
    }
}

/// Boxes from the foreground of the `sapiensseg` result on the buffer.
pub struct SegComponents {
    pub min_area: u32,
}

impl DetectorBackend for SegComponents {
    type Input = SegResult;
    const NAME: &'static str = "seg";
    fn prepare(&self, buffer: &gst::Buffer, _: &gst_video::VideoInfo) -> Result<SegResult> {
        SegResult::from_buffer(buffer)?.ok_or_else(|| {
            crate::error::Error::Invalid(
                "sapiensdetect backend=seg needs a sapiensseg result on each frame: put sapiensseg before it"
                    .into(),
            )
        })
    }
    fn detect(&self, seg: &SegResult) -> Result<Vec<Detection>> {
        components::person_boxes(seg.labels(), seg.info.width, seg.info.height, self.min_area)
    }
}

/// The stages around a backend.
pub struct DetectStages<B: DetectorBackend> {
    backend: B,
    settings: DetectSettings,
}

impl<B: DetectorBackend> DetectStages<B> {
    pub fn new(backend: B, settings: DetectSettings) -> Self {
        Self { backend, settings }
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

impl<B: DetectorBackend> Stages for DetectStages<B> {
    type Pre = B::Input;
    type Inferred = Vec<Detection>;

    fn preprocess(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<B::Input> {
        self.backend.prepare(buffer, info)
    }

    fn infer(&self, batch: Vec<B::Input>) -> Result<Vec<Vec<Detection>>> {
        batch
            .iter()
            .map(|input| {
                let found = self.backend.detect(input)?;
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
            backend: B::NAME.into(),
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
