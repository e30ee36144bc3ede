//! Library `tracing` events into the GStreamer debug log (category `sapiens`), so that
//! `GST_DEBUG=sapiens*:6` shows them beside the elements' own logs.
use std::fmt::Write as _;
use std::sync::LazyLock;

use gst::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiens",
        gst::DebugColorFlags::empty(),
        Some("sapiens-stream library (tracing)"),
    )
});

/// A `tracing` layer writing each event to the `sapiens` GStreamer debug category.
pub struct GstLogLayer;

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?} ");
        } else {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for GstLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => gst::DebugLevel::Error,
            Level::WARN => gst::DebugLevel::Warning,
            Level::INFO => gst::DebugLevel::Info,
            Level::DEBUG => gst::DebugLevel::Debug,
            Level::TRACE => gst::DebugLevel::Trace,
        };
        if !CAT.above_threshold(level) {
            return;
        }
        let mut msg = Message::default();
        event.record(&mut msg);
        let file = glib::GString::from(meta.file().unwrap_or("?"));
        CAT.log(
            None::<&glib::Object>,
            level,
            file.as_gstr(),
            meta.target(),
            meta.line().unwrap_or(0),
            format_args!("{}", msg.0.trim_end()),
        );
    }
}

/// Installs [`GstLogLayer`] as the process's tracing subscriber unless the application set one.
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt;
    let _ =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(GstLogLayer));
}

/// The one GStreamer critical known to be harmless here: gst-plugins-rs's `fallbacksrc` drops an
/// EOS with a Rust pad probe returning `Drop` when it restarts a failed camera; gstreamer-rs 0.25
/// has taken the event already, and GStreamer 1.22's core then unrefs the NULL it finds. The
/// event is dropped as intended; only the message is wrong.
const KNOWN_HARMLESS_CRITICAL: &str =
    "gst_mini_object_unref: assertion 'mini_object != NULL' failed";

/// Sends [`KNOWN_HARMLESS_CRITICAL`] to the debug log (`GST_DEBUG=sapiens:5`) instead of stderr,
/// where a user would take it for a fault at every camera reconnection; every other GStreamer
/// message keeps GLib's default handling. For applications (the CLI), not for the plugin.
pub fn quiet_known_harmless_criticals() {
    glib::log_set_handler(
        Some("GStreamer"),
        glib::LogLevels::LEVEL_CRITICAL,
        false,
        false,
        |domain, level, msg| {
            if msg == KNOWN_HARMLESS_CRITICAL {
                gst::debug!(
                    CAT,
                    "GStreamer critical known to be harmless (fallbacksrc restart): {msg}"
                );
            } else {
                glib::log_default_handler(domain, level, Some(msg));
            }
        },
    );
}
