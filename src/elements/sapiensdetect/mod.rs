//! `sapiensdetect` (`GstSapiensDetect`, a `GstSapiensInference`): person boxes as standard
//! `GstVideoRegionOfInterestMeta` (type `person`, a `detection` param with `confidence` and
//! `backend`) plus `SapiensDetectionsMeta`, so `sapienspose` and any GStreamer analytics element
//! read them. Backends: `hog`, OpenCV's built-in people detector (no model file needed); `seg`,
//! the connected components of an upstream `sapiensseg` foreground.
mod imp;
mod stages;

use gst::glib;

pub use stages::{DetectSettings, DetectStages, DetectorBackend, Hog, OnnxDetector, SegComponents};

/// `backend`: which detector runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensDetectBackend")]
pub enum Backend {
    /// OpenCV's HOG people detector with its default people SVM.
    #[default]
    #[enum_value(
        name = "OpenCV's HOG people detector (default people SVM; no model file)",
        nick = "hog"
    )]
    Hog,
    /// Boxes from the foreground of an upstream `sapiensseg` (connected components).
    #[enum_value(
        name = "Connected components of an upstream sapiensseg foreground (no detector at all)",
        nick = "seg"
    )]
    Seg,
    /// A detector model the user supplies: the `config` property names a `[detector]` config.
    #[enum_value(
        name = "An ONNX detector model ([detector] config: YOLOv8/YOLO11, YOLOX/YOLOv5 or mmdeploy RTMDet outputs)",
        nick = "onnx"
    )]
    Onnx,
    /// The same, served by an inference server (`server`, `model-name`: the base class's
    /// `backend` property is this one's, so the detector names the server here).
    #[enum_value(
        name = "An ONNX detector model served by Triton (or any KServe v2 server) at 'server'",
        nick = "triton"
    )]
    Triton,
}

glib::wrapper! {
    pub struct SapiensDetect(ObjectSubclass<imp::SapiensDetect>)
        @extends crate::elements::inference::SapiensInference, gst::Element, gst::Object;
}
