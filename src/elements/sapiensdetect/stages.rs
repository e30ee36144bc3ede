//! The detector's stages: frame → the backend's input → the backend → person ROI metas and the
//! detections meta. Backends: `hog` (OpenCV's people detector on the frame), `seg` (the
//! foreground components of an upstream `sapiensseg` result).
use crate::config::{ChannelOrder, DetectorResize, DetectorSection};
use crate::detect::decode::{OutputLayout, input_map, nms, to_frame};
use crate::detect::hog::{HogDetector, HogParams};
use crate::detect::{Detection, Image, components, keep_best};
use crate::elements::frame;
use crate::elements::inference::LoadedModel;
use crate::error::Error;
use crate::error::Result;
use crate::geometry::Affine;
use crate::meta::dense::SegResult;
use crate::meta::detect::{DETECT_META, Detections};
use crate::pipelining::Stages;
use crate::preprocess::{FrameView, PixelLayout};
use crate::preprocess::{Normalization, Sampling, sample_normalize};

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
    /// Person boxes of several frames (a batch); one frame after the other unless the backend
    /// runs them together.
    fn detect_batch(&self, inputs: &[Self::Input]) -> Result<Vec<Vec<Detection>>> {
        inputs.iter().map(|i| self.detect(i)).collect()
    }
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

/// A detector model the user supplies (`[detector]` config), its output layout recognized from
/// the model.
pub struct OnnxDetector {
    session: std::sync::Arc<crate::runtime::ModelSession>,
    /// Holds a `model-instance` registered while this detector runs, so that an element
    /// started later naming it shares this session (it runs the session directly).
    _runner: crate::runtime::shared::Runner,
    input: String,
    layout: OutputLayout,
    section: DetectorSection,
    norm: Normalization,
}

/// A frame's detector input: the tensor, its frame → input map, and the frame size.
pub struct DetectorInput {
    tensor: Vec<f32>,
    to_input: Affine,
    frame: (u32, u32),
}

impl OnnxDetector {
    /// Checks the model (one input `[batch, 3, H, W]` as `[input]` says; outputs of a known
    /// layout) against its config.
    pub fn new(loaded: &LoadedModel) -> Result<Self> {
        let cfg = &loaded.config;
        let mismatch = |msg: String| Error::ModelMismatch {
            model: loaded.session.path().to_owned(),
            config: cfg.source.clone(),
            msg,
        };
        let section = cfg.detector().cloned().ok_or_else(|| Error::Config {
            path: cfg.source.clone(),
            msg: format!(
                "sapiensdetect backend=onnx needs a [detector] config, but this one is for {}",
                cfg.element()
            ),
        })?;
        let (h, w) = (cfg.input.height, cfg.input.width);
        let input = match &loaded.session.inputs[..] {
            [i] if i.is_f32
                && i.shape.len() == 4
                && [i.shape[1], i.shape[2], i.shape[3]]
                    .iter()
                    .zip([3, h as i64, w as i64])
                    .all(|(m, c)| *m < 0 || *m == c) =>
            {
                i.name.clone()
            }
            other => {
                let got: Vec<String> = other.iter().map(|t| t.to_string()).collect();
                return Err(mismatch(format!(
                    "inputs {} (expected one float32 [batch,3,{h},{w}])",
                    got.join(", ")
                )));
            }
        };
        let layout = OutputLayout::recognize(&loaded.session.outputs, (h, w), section.classes)
            .map_err(|e| mismatch(e.to_string()))?;
        // Normalization is written in RGB plane order; a BGR model's mean/std are reversed here
        // and its planes swapped after.
        let (mut mean, mut std) = (cfg.input.mean, cfg.input.std);
        if section.channel_order == ChannelOrder::Bgr {
            mean.reverse();
            std.reverse();
        }
        Ok(Self {
            session: loaded.session.clone(),
            _runner: loaded.runner.clone(),
            input,
            layout,
            section,
            norm: Normalization {
                width: w,
                height: h,
                mean,
                std,
            },
        })
    }
}

/// A config for a bare detector model (no `config` property, only `model`): the input size from
/// the model's input, and the pre-processing of the family its output layout belongs to —
/// YOLOv8/YOLO11 (ultralytics: RGB / 255, centred letterbox), YOLOX (BGR 0..255, letterbox),
/// mmdeploy RTMDet (BGR, mmdet mean/std, letterbox), NanoDet GFL (BGR, mmdet mean/std, stretch;
/// COCO-80); pad 114, person class 0, score and NMS 0.3.
pub fn bare_model_config(settings: &crate::elements::inference::Settings) -> Result<LoadedModel> {
    use crate::config::{Config, HeadSection, InputSection, ModelSection};
    let opts = settings.runtime.resolve();
    // On a server, the model's name alone will do.
    let served = (opts.backend == crate::runtime::Backend::Triton)
        .then(|| opts.remote.model_name.clone().map(std::path::PathBuf::from))
        .flatten();
    let path = settings.model.clone().or(served).ok_or_else(|| {
        Error::Invalid(
            "sapiensdetect backend=onnx: set 'config' (a [detector] config) or 'model' (a detector ONNX file); backend=triton: 'config' or 'model-name'".into(),
        )
    })?;
    if opts.backend == crate::runtime::Backend::Local && !path.is_file() {
        return Err(Error::Invalid(format!(
            "detector model {} not found",
            path.display()
        )));
    }
    let session = std::sync::Arc::new(crate::runtime::ModelSession::load(&path, &opts)?);
    let shape = match &session.inputs[..] {
        [i] if i.shape.len() == 4 && i.shape[2] > 0 && i.shape[3] > 0 => {
            (i.shape[2] as u32, i.shape[3] as u32)
        }
        other => {
            let got: Vec<String> = other.iter().map(|t| t.to_string()).collect();
            return Err(Error::Invalid(format!(
                "detector model {}: inputs {} (expected one [batch,3,H,W] with a fixed size; or give a [detector] config)",
                path.display(),
                got.join(", ")
            )));
        }
    };
    let layout = OutputLayout::recognize(&session.outputs, shape, 80)
        .map_err(|e| Error::Invalid(format!("detector model {}: {e}", path.display())))?;
    let (resize, order, mean, std) = match layout {
        OutputLayout::YoloV8 { .. } => (
            DetectorResize::LetterboxCenter,
            ChannelOrder::Rgb,
            [0.0; 3],
            [255.0; 3],
        ),
        OutputLayout::YoloX { .. } => (
            DetectorResize::Letterbox,
            ChannelOrder::Bgr,
            [0.0; 3],
            [1.0; 3],
        ),
        OutputLayout::Mmdeploy { .. } => (
            DetectorResize::Letterbox,
            ChannelOrder::Bgr,
            [103.53, 116.28, 123.675],
            [57.375, 57.12, 58.395],
        ),
        // NanoDet's own demos: a plain resize, BGR, the mmdet mean/std.
        OutputLayout::Gfl(_) => (
            DetectorResize::Stretch,
            ChannelOrder::Bgr,
            [103.53, 116.28, 123.675],
            [57.375, 57.12, 58.395],
        ),
    };
    let config = Config {
        schema_version: crate::config::SCHEMA_VERSION,
        model: ModelSection {
            path: path.clone(),
            input_name: None,
            output_name: None,
            weights: Default::default(),
            description: format!("bare detector model ({layout:?})"),
            export: None,
        },
        input: InputSection {
            height: shape.0,
            width: shape.1,
            mean,
            std,
            resize: Default::default(),
        },
        runtime: settings.runtime.clone(),
        head: HeadSection::Detector(DetectorSection {
            resize,
            pad_value: 114,
            channel_order: order,
            person_class: 0,
            classes: 80,
            score_threshold: 0.3,
            nms_iou: 0.3,
            max_detections: 100,
            min_size: 0.0,
        }),
        source: path,
    };
    Ok(LoadedModel {
        config,
        runner: crate::runtime::shared::Runner::Own(session.clone()),
        session,
    })
}

impl DetectorBackend for OnnxDetector {
    type Input = DetectorInput;
    const NAME: &'static str = "onnx";

    fn prepare(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<DetectorInput> {
        let (fw, fh) = (info.width(), info.height());
        let n = &self.norm;
        let resize = self.section.resize;
        let to_input = input_map(
            fw,
            fh,
            n.width,
            n.height,
            resize != DetectorResize::Stretch,
            resize == DetectorResize::LetterboxCenter,
        );
        let sampling = match resize {
            DetectorResize::Stretch => Sampling::Stretch,
            _ => Sampling::Padded(to_input, self.section.pad_value),
        };
        let mut tensor = vec![0.0f32; n.item_len()];
        frame::with_view(buffer, info, |view| {
            sample_normalize(view, &sampling, n, &mut tensor)
        })?;
        if self.section.channel_order == ChannelOrder::Bgr {
            let plane = n.item_len() / 3;
            let (r, rest) = tensor.split_at_mut(plane);
            r.swap_with_slice(&mut rest[plane..]);
        }
        Ok(DetectorInput {
            tensor,
            to_input,
            frame: (fw, fh),
        })
    }

    fn detect(&self, input: &DetectorInput) -> Result<Vec<Detection>> {
        Ok(self.detect_batch(std::slice::from_ref(input))?.remove(0))
    }

    /// The frames of a batch in one model run (`batch-size` frames gathered by the executor).
    fn detect_batch(&self, inputs: &[DetectorInput]) -> Result<Vec<Vec<Detection>>> {
        let outputs = self.layout.outputs();
        let data: Vec<f32> = inputs
            .iter()
            .flat_map(|i| i.tensor.iter().copied())
            .collect();
        let batches = self.session.run(
            &self.input,
            &outputs,
            &data,
            inputs.len(),
            &self.norm.item_shape(),
        )?;
        let s = &self.section;
        inputs
            .iter()
            .enumerate()
            .map(|(k, input)| {
                let items = batches
                    .iter()
                    .zip(&outputs)
                    .map(|(b, name)| {
                        b.item(k).ok_or_else(|| Error::Output {
                            name: (*name).into(),
                            msg: format!("no item {k} in a batch of {}", inputs.len()),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let found = self
                    .layout
                    .decode(&items, s.person_class, s.score_threshold)?;
                let min = s.min_size.max(1e-3);
                Ok(nms(found, s.nms_iou, s.max_detections)
                    .into_iter()
                    .map(|d| to_frame(d, &input.to_input, input.frame))
                    .filter(|d| d.bbox.x2 - d.bbox.x1 >= min && d.bbox.y2 - d.bbox.y1 >= min)
                    .collect())
            })
            .collect()
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
        Ok(self
            .backend
            .detect_batch(&batch)?
            .into_iter()
            .map(|found| {
                keep_best(
                    found,
                    self.settings.min_height,
                    self.settings.max_detections,
                )
            })
            .collect())
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
