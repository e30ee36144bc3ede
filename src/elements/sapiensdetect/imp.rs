//! The `sapiensdetect` element: an inference element running a person detector.
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::Backend;
use super::stages::{DetectSettings, DetectStages, Hog, OnnxDetector, SegComponents};
use crate::elements::inference::{HeadStages, SapiensInferenceImpl, StartContext};
use crate::elements::lock;
use crate::error::Result;

#[derive(Default)]
pub struct SapiensDetect {
    settings: Mutex<(Backend, DetectSettings)>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensDetect {
    const NAME: &'static str = "GstSapiensDetect";
    type Type = super::SapiensDetect;
    type ParentType = crate::elements::inference::SapiensInference;
}

impl ObjectImpl for SapiensDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = DetectSettings::default();
            vec![
                glib::ParamSpecEnum::builder::<Backend>("backend")
                    .nick("Detector")
                    .blurb("Which person detector runs")
                    .mutable_ready()
                    .build(),
                crate::elements::roi_type_spec("GstVideoRegionOfInterestMeta type written for each person"),
                glib::ParamSpecDouble::builder("hog-scale")
                    .nick("HOG pyramid step")
                    .blurb("Scale step between pyramid levels (> 1; smaller finds more sizes, slower)")
                    .minimum(1.001)
                    .maximum(2.0)
                    .default_value(d.hog.scale)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("hog-stride")
                    .nick("HOG window stride")
                    .blurb("Window stride in pixels (a multiple of the 8-px cell is fastest)")
                    .minimum(1)
                    .maximum(64)
                    .default_value(d.hog.stride)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("hog-threshold")
                    .nick("HOG threshold")
                    .blurb("SVM margin a window must exceed to count as a person (0 = the SVM's boundary; higher = fewer false boxes)")
                    .minimum(-10.0)
                    .maximum(10.0)
                    .default_value(d.hog.hit_threshold)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecFloat::builder("min-height")
                    .nick("Minimum box height")
                    .blurb("Boxes shorter than this (frame pixels) are left out")
                    .minimum(0.0)
                    .default_value(d.min_height)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("min-area")
                    .nick("Minimum area")
                    .blurb("backend=seg: least foreground pixels of a person")
                    .default_value(d.min_area)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-detections")
                    .nick("Maximum detections")
                    .blurb("At most this many boxes a frame, highest scores first")
                    .minimum(1)
                    .maximum(10_000)
                    .default_value(d.max_detections as u32)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut guard = lock(&self.settings);
        let (backend, s) = &mut *guard;
        let d = DetectSettings::default();
        match pspec.name() {
            "backend" => *backend = value.get().unwrap_or_default(),
            "roi-type" => s.roi_type = crate::elements::string_or(value, &d.roi_type),
            "hog-scale" => s.hog.scale = value.get().unwrap_or(d.hog.scale),
            "hog-stride" => s.hog.stride = value.get().unwrap_or(d.hog.stride),
            "hog-threshold" => s.hog.hit_threshold = value.get().unwrap_or(d.hog.hit_threshold),
            "min-height" => s.min_height = value.get().unwrap_or(d.min_height),
            "min-area" => s.min_area = value.get().unwrap_or(d.min_area),
            "max-detections" => {
                s.max_detections = value.get::<u32>().map_or(d.max_detections, |v| v as usize)
            }
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let guard = lock(&self.settings);
        let (backend, s) = &*guard;
        match pspec.name() {
            "backend" => backend.to_value(),
            "roi-type" => s.roi_type.to_value(),
            "hog-scale" => s.hog.scale.to_value(),
            "hog-stride" => s.hog.stride.to_value(),
            "hog-threshold" => s.hog.hit_threshold.to_value(),
            "min-height" => s.min_height.to_value(),
            "min-area" => s.min_area.to_value(),
            "max-detections" => (s.max_detections as u32).to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensDetect {}

impl ElementImpl for SapiensDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens person detector",
            "Person boxes for top-down pose as GstVideoRegionOfInterestMeta (type person, a detection param \
             with confidence and backend) and SapiensDetectionsMeta; backend hog: OpenCV's people detector"
        )
    }
}

impl SapiensInferenceImpl for SapiensDetect {
    fn build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        let (backend, settings) = lock(&self.settings).clone();
        Ok(match backend {
            Backend::Hog => HeadStages::new(DetectStages::new(Hog::new(settings.hog)?, settings)),
            Backend::Seg => HeadStages::new(DetectStages::new(
                SegComponents {
                    min_area: settings.min_area,
                },
                settings,
            )),
            Backend::Onnx | Backend::Triton => {
                // A [detector] config, or a bare model whose contract is read from it.
                let remote =
                    (backend == Backend::Triton).then_some(crate::runtime::Backend::Triton);
                let loaded = start.model_on(remote, super::stages::bare_model_config)?;
                HeadStages::new(DetectStages::new(OnnxDetector::new(loaded)?, settings))
            }
        })
    }
}
