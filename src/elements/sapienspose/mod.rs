//! `sapienspose`: top-down Sapiens keypoints for each person box, attached as `SapiensPoseMeta`.
mod imp;
mod stages;

use gst::glib;
use gst::prelude::*;

pub use stages::{PoseSettings, PoseStages};

glib::wrapper! {
    pub struct SapiensPose(ObjectSubclass<imp::SapiensPose>) @extends crate::elements::inference::SapiensInference, gst::Element, gst::Object;
}

pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "sapienspose",
        gst::Rank::NONE,
        SapiensPose::static_type(),
    )
}
