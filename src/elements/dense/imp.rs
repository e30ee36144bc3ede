//! The dense base class's instance: the shared-input property and counters.
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::{InputSharing, TensorCounters};
use crate::elements::inference::{HeadStages, SapiensInferenceImpl, StartContext};
use crate::elements::lock;
use crate::error::Result;

/// Property values.
struct Settings {
    share_input: bool,
}

pub struct SapiensDense {
    settings: Mutex<Settings>,
    /// What the running stages computed and reused (read by the counter properties).
    counters: Arc<TensorCounters>,
}

impl Default for SapiensDense {
    fn default() -> Self {
        Self {
            settings: Mutex::new(Settings { share_input: true }),
            counters: Default::default(),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensDense {
    const NAME: &'static str = "GstSapiensDense";
    const ABSTRACT: bool = true;
    type Type = super::SapiensDense;
    type ParentType = crate::elements::inference::SapiensInference;
    type Class = super::Class;
}

impl ObjectImpl for SapiensDense {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let counter = |name: &str, blurb: &str| {
                glib::ParamSpecUInt64::builder(name)
                    .blurb(blurb)
                    .read_only()
                    .build()
            };
            vec![
                glib::ParamSpecBoolean::builder("share-input")
                    .blurb("Reuse the model input an earlier dense head left on the buffer, and leave this one's for later heads")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                counter("tensors-computed", "Frames whose model input this element computed"),
                counter(
                    "tensors-reused",
                    "Frames whose model input an earlier dense head computed (shared pre-processing)",
                ),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "share-input" => lock(&self.settings).share_input = value.get().unwrap_or(true),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let t = &self.counters;
        match pspec.name() {
            "share-input" => lock(&self.settings).share_input.to_value(),
            "tensors-computed" => t.computed.load(Ordering::Relaxed).to_value(),
            "tensors-reused" => t.reused.load(Ordering::Relaxed).to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensDense {}
impl ElementImpl for SapiensDense {}

impl SapiensInferenceImpl for SapiensDense {
    fn build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        let loaded = start.model()?;
        let sharing = InputSharing {
            share: lock(&self.settings).share_input,
            counters: self.counters.clone(),
        };
        self.obj().dense_stages(loaded, sharing)
    }
}
