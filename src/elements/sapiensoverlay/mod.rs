//! `sapiensoverlay`: draws the Sapiens results a buffer carries (skeletons, boxes, labels) onto
//! the frame itself, as the official demo draws them.
mod imp;

/// `layout`: where results go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensOverlayLayout")]
pub enum Layout {
    #[default]
    #[enum_value(name = "Over the frame (seg blend and skeletons)", nick = "overlay")]
    Overlay,
    #[enum_value(
        name = "2x2 mosaic: frame with pose, seg blend, depth, normals (twice the size)",
        nick = "grid"
    )]
    Grid,
}

use gst::glib;

glib::wrapper! {
    pub struct SapiensOverlay(ObjectSubclass<imp::SapiensOverlay>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}
