//! `sapiensoverlay`: draws the Sapiens results a buffer carries (skeletons, boxes, labels) onto
//! the frame itself, as the official demo draws them.
mod imp;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct SapiensOverlay(ObjectSubclass<imp::SapiensOverlay>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    gst::Element::register(
        plugin,
        "sapiensoverlay",
        gst::Rank::NONE,
        SapiensOverlay::static_type(),
    )
}
