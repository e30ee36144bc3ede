//! The dense base class's instance: the shared-input property and counters.
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::TensorCounters;
use crate::elements::inference::{HeadStages, LoadedModel, SapiensInferenceImpl};
use crate::error::Result;

#[derive(Default)]
pub struct SapiensDense {
    tensors: Arc<TensorCounters>,
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
            "share-input" => self
                .tensors
                .share
                .store(value.get().unwrap_or(true), Ordering::Relaxed),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let t = &self.tensors;
        match pspec.name() {
            "share-input" => t.share.load(Ordering::Relaxed).to_value(),
            "tensors-computed" => t.computed.load(Ordering::Relaxed).to_value(),
            "tensors-reused" => t.reused.load(Ordering::Relaxed).to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensDense {}
impl ElementImpl for SapiensDense {}

impl SapiensInferenceImpl for SapiensDense {
    fn build_stages(&self, loaded: &LoadedModel) -> Result<HeadStages> {
        self.obj().dense_stages(loaded, self.tensors.clone())
    }
}
