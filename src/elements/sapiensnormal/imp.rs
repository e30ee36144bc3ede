//! The `sapiensnormal` element: a dense element running the normal head.
use gst::glib;
use gst::subclass::prelude::*;

use super::NormalHead;
use crate::elements::dense::SapiensDenseImpl;
use crate::elements::inference::{LoadedModel, SapiensInferenceImpl};

#[derive(Default)]
pub struct SapiensNormal;

#[glib::object_subclass]
impl ObjectSubclass for SapiensNormal {
    const NAME: &'static str = "GstSapiensNormal";
    type Type = super::SapiensNormal;
    type ParentType = crate::elements::dense::SapiensDense;
}

impl ObjectImpl for SapiensNormal {}
impl GstObjectImpl for SapiensNormal {}
impl SapiensInferenceImpl for SapiensNormal {}

impl ElementImpl for SapiensNormal {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens surface normals",
            "Unit surface normals of the whole frame with Meta's Sapiens models on ONNX Runtime; background masked with an upstream sapiensseg result; results as SapiensNormalMeta"
        )
    }
}

impl SapiensDenseImpl for SapiensNormal {
    type Head = NormalHead;
    fn head(&self, _: &LoadedModel) -> crate::Result<NormalHead> {
        Ok(NormalHead)
    }
}
