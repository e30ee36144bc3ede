//! `sapiensdetect` (`GstSapiensDetect`, a `GstSapiensInference`): person boxes as standard
//! `GstVideoRegionOfInterestMeta` (type `person`, a `detection` param with `confidence` and
//! `backend`) plus `SapiensDetectionsMeta`, so `sapienspose` and any GStreamer analytics element
//! read them. Backend `hog`: OpenCV's built-in people detector (no model file needed).
mod imp;
mod stages;

use gst::glib;

pub use stages::{DetectSettings, HogStages};

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
}

glib::wrapper! {
    pub struct SapiensDetect(ObjectSubclass<imp::SapiensDetect>)
        @extends crate::elements::inference::SapiensInference, gst::Element, gst::Object;
}
