//! The GStreamer elements, one folder per element, and their registration.
pub mod dense;
pub mod inference;
pub mod sapiensdepth;
pub mod sapiensnormal;
pub mod sapiensoverlay;
pub mod sapienspose;
pub mod sapiensseg;

use std::sync::OnceLock;

use gst::glib;

/// Registers every element with `plugin` (the `gstsapiens` plugin entry point).
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    register_elements(Some(plugin))
}

fn register_elements(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    crate::logging::install();
    crate::meta::register();
    sapienspose::register(plugin)?;
    sapiensseg::register(plugin)?;
    sapiensdepth::register(plugin)?;
    sapiensnormal::register(plugin)?;
    sapiensoverlay::register(plugin)?;
    Ok(())
}

/// Registers the elements in this process without a plugin file (the `sapiens` CLI, tests,
/// applications linking the library). Idempotent; needs `gst::init`.
pub fn register_static() -> Result<(), glib::BoolError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| register_elements(None).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| glib::bool_error!("registering the sapiens elements: {e}"))
}

/// `sink` and `src` templates (always present) for raw video in `formats`.
fn always_templates(
    formats: impl IntoIterator<Item = gst_video::VideoFormat>,
) -> Vec<gst::PadTemplate> {
    let caps = gst_video::VideoCapsBuilder::new()
        .format_list(formats)
        .build();
    [
        ("sink", gst::PadDirection::Sink),
        ("src", gst::PadDirection::Src),
    ]
    .into_iter()
    .map(|(name, dir)| {
        gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps)
            .expect("valid raw video template")
    })
    .collect()
}
