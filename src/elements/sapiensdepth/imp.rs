//! The `sapiensdepth` element: a dense element running the depth head.
use gst::glib;
use gst::subclass::prelude::*;

use super::DepthHead;
use crate::elements::dense::SapiensDenseImpl;
use crate::elements::inference::{LoadedModel, SapiensInferenceImpl};

#[derive(Default)]
pub struct SapiensDepth;

#[glib::object_subclass]
impl ObjectSubclass for SapiensDepth {
    const NAME: &'static str = "GstSapiensDepth";
    type Type = super::SapiensDepth;
    type ParentType = crate::elements::dense::SapiensDense;
}

impl ObjectImpl for SapiensDepth {}
impl GstObjectImpl for SapiensDepth {}
impl SapiensInferenceImpl for SapiensDepth {}

impl ElementImpl for SapiensDepth {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens relative depth",
            "Relative depth of the whole frame with Meta's Sapiens models on ONNX Runtime; background masked with an upstream sapiensseg result; results as SapiensDepthMeta"
        )
    }
}

impl SapiensDenseImpl for SapiensDepth {
    type Head = DepthHead;
    fn head(&self, _: &LoadedModel) -> crate::Result<DepthHead> {
        Ok(DepthHead)
    }
}
