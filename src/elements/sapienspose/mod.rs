//! `sapienspose`: top-down Sapiens keypoints for each person box, attached as `SapiensPoseMeta`.
mod imp;
mod stages;

use gst::glib;

pub use stages::{PoseCounters, PoseSettings, PoseStages};

glib::wrapper! {
    pub struct SapiensPose(ObjectSubclass<imp::SapiensPose>) @extends crate::elements::inference::SapiensInference, gst::Element, gst::Object;
}
