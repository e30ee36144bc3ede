//! The `sapiensseg` element: a dense element running the seg head, with its `mode` property.
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::{ModeProperty, SegHead};
use crate::elements::dense::SapiensDenseImpl;
use crate::elements::inference::{LoadedModel, SapiensInferenceImpl};
use crate::elements::lock;

#[derive(Default)]
pub struct SapiensSeg {
    mode: Mutex<ModeProperty>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensSeg {
    const NAME: &'static str = "GstSapiensSeg";
    type Type = super::SapiensSeg;
    type ParentType = crate::elements::dense::SapiensDense;
}

impl ObjectImpl for SapiensSeg {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder::<ModeProperty>("mode")
                    .nick("Upsampling mode")
                    .blurb("exact: argmax of bilinearly upsampled logits (official); fast: argmax at model resolution, nearest upsample")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "mode" => *lock(&self.mode) = value.get().unwrap_or_default(),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "mode" => lock(&self.mode).to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensSeg {}
impl SapiensInferenceImpl for SapiensSeg {}

impl ElementImpl for SapiensSeg {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens body-part segmentation",
            "Body-part segmentation of the whole frame (Sapiens v1's 28 Goliath classes, Sapiens2's 29) \
             with Meta's Sapiens models on ONNX Runtime; results as SapiensSegMeta (frame-size class map)"
        )
    }
}

impl SapiensDenseImpl for SapiensSeg {
    type Head = SegHead;
    fn head(&self, loaded: &LoadedModel) -> crate::Result<SegHead> {
        Ok(SegHead::new(*lock(&self.mode), &loaded.config))
    }
}
