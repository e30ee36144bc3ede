//! `sapiensoverlay`: draws the Sapiens results a buffer carries (skeletons, boxes, labels) onto
//! the frame itself, as the official demo draws them.
mod imp;

/// `layout`: where results go (the property and the CLI's `--layout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum, clap::ValueEnum)]
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

impl Layout {
    /// The name the property and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Overlay => "overlay",
            Layout::Grid => "grid",
        }
    }
}

glib::wrapper! {
    pub struct SapiensOverlay(ObjectSubclass<imp::SapiensOverlay>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}
