//! Where an executor logs its decisions: the element's own debug category, with its name as the
//! object id, so `GST_DEBUG=sapienspose:5` shows every drop, carry, batch and flush.
use std::fmt::Arguments;

use gst::prelude::*;

#[derive(Debug, Clone)]
pub struct Log {
    cat: gst::DebugCategory,
    id: glib::GString,
}

impl Log {
    /// Logs to `cat` as `<id>` (an element's factory-name category and its name).
    pub fn new(cat: gst::DebugCategory, id: &str) -> Self {
        Self { cat, id: id.into() }
    }

    /// A log in the `sapiensexecutor` category (executors outside an element: tests, benches).
    pub fn named(id: &str) -> Self {
        Self::new(
            gst::DebugCategory::new(
                "sapiensexecutor",
                gst::DebugColorFlags::empty(),
                Some("sapiens staged executor"),
            ),
            id,
        )
    }

    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// A decision (drop, carry, flush, EOS): level DEBUG.
    pub fn debug(&self, args: Arguments<'_>) {
        gst::debug!(self.cat, id = self.id.as_gstr(), "{}", args);
    }

    /// A routine event (a batch formed): level LOG.
    pub fn log(&self, args: Arguments<'_>) {
        gst::log!(self.cat, id = self.id.as_gstr(), "{}", args);
    }

    /// Whether LOG-level lines are wanted (skip building them otherwise).
    pub fn logs(&self) -> bool {
        self.cat.above_threshold(gst::DebugLevel::Log)
    }
}
