//! The GStreamer elements, one folder per element, and their registration.
pub mod dense;
pub mod frame;
pub mod inference;
pub mod sapiensanalytics;
pub mod sapienscamsrc;
pub mod sapiensclips;
pub mod sapiensdepth;
pub mod sapiensdetect;
pub mod sapiensjson;
pub mod sapiensnormal;
pub mod sapiensoverlay;
pub mod sapienspointmap;
pub mod sapienspose;
pub mod sapiensrtspsink;
pub mod sapiensseg;
pub mod sapienstrack;

use std::sync::{Mutex, MutexGuard, OnceLock};

use gst::glib;
use gst::prelude::*;

/// Registers every element with `plugin` (the `gstsapiens` plugin entry point).
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    register_elements(Some(plugin))
}

fn register_elements(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    crate::logging::install();
    crate::meta::register();
    inference::register(&[
        "sapiensdetect",
        "sapienspose",
        "sapiensseg",
        "sapiensdepth",
        "sapiensnormal",
        "sapienspointmap",
    ]);
    let elements = [
        ("sapiensdetect", sapiensdetect::SapiensDetect::static_type()),
        ("sapienspose", sapienspose::SapiensPose::static_type()),
        ("sapiensseg", sapiensseg::SapiensSeg::static_type()),
        ("sapiensdepth", sapiensdepth::SapiensDepth::static_type()),
        ("sapiensnormal", sapiensnormal::SapiensNormal::static_type()),
        (
            "sapienspointmap",
            sapienspointmap::SapiensPointmap::static_type(),
        ),
        ("sapienstrack", sapienstrack::SapiensTrack::static_type()),
        (
            "sapiensanalytics",
            sapiensanalytics::SapiensAnalytics::static_type(),
        ),
        ("sapiensclips", sapiensclips::SapiensClips::static_type()),
        ("sapienscamsrc", sapienscamsrc::SapiensCamSrc::static_type()),
        ("sapiensjson", sapiensjson::SapiensJson::static_type()),
        (
            "sapiensrtspsink",
            sapiensrtspsink::SapiensRtspSink::static_type(),
        ),
        (
            "sapiensoverlay",
            sapiensoverlay::SapiensOverlay::static_type(),
        ),
    ];
    for (name, type_) in elements {
        gst::Element::register(plugin, name, gst::Rank::NONE, type_)?;
    }
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

/// An element of a factory every GStreamer install this project supports has (core, -base,
/// -good, -ugly, or linked in), named `name` when given: a missing one is a broken install, not
/// an input error, so it panics with the factory's name.
pub(crate) fn make_element(factory: &str, name: Option<&str>) -> gst::Element {
    let mut builder = gst::ElementFactory::make(factory);
    if let Some(name) = name {
        builder = builder.name(name);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("GStreamer element {factory}: {e}"))
}

/// Locks `m`, also when a panicking holder poisoned it (the data stays usable: every holder
/// leaves it consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A string property's new value; `default` when it is unset or empty.
pub(crate) fn string_or(value: &glib::Value, default: &str) -> String {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The `roi-type` property: which `GstVideoRegionOfInterestMeta` type an element reads or writes
/// as person boxes.
pub(crate) fn roi_type_spec(blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecString::builder("roi-type")
        .nick("ROI type")
        .blurb(blurb)
        .default_value(Some("person"))
        .mutable_ready()
        .build()
}

/// `Some(&'static ElementMetadata)`: long name, (klass, default an analyzer's), description.
macro_rules! metadata {
    ($long:expr, $description:expr) => {
        $crate::elements::metadata!($long, "Filter/Analyzer/Video", $description)
    };
    ($long:expr, $klass:expr, $description:expr) => {{
        static META: std::sync::LazyLock<gst::subclass::ElementMetadata> =
            std::sync::LazyLock::new(|| {
                gst::subclass::ElementMetadata::new(
                    $long,
                    $klass,
                    $description,
                    "sapiens-stream developers",
                )
            });
        Some(&*META)
    }};
}
pub(crate) use metadata;

/// `sink` and `src` templates (always present) for raw video in `formats`.
fn always_templates(
    formats: impl IntoIterator<Item = gst_video::VideoFormat>,
) -> Vec<gst::PadTemplate> {
    let caps = gst_video::VideoCapsBuilder::new()
        .format_list(formats)
        .build();
    [gst::PadDirection::Sink, gst::PadDirection::Src]
        .into_iter()
        .map(|dir| always_template(dir, &caps))
        .collect()
}

/// The always-present pad template named for its direction (`sink` or `src`) with `caps`.
fn always_template(dir: gst::PadDirection, caps: &gst::Caps) -> gst::PadTemplate {
    let name = if dir == gst::PadDirection::Sink {
        "sink"
    } else {
        "src"
    };
    gst::PadTemplate::new(name, dir, gst::PadPresence::Always, caps).expect("valid template")
}

/// Templates (always present) of any raw video, one per direction in `dirs`: elements that
/// read only metadata, or bins that convert inside.
pub(crate) fn raw_video_templates(dirs: &[gst::PadDirection]) -> Vec<gst::PadTemplate> {
    let caps = gst::Caps::builder("video/x-raw").build();
    dirs.iter().map(|&d| always_template(d, &caps)).collect()
}
