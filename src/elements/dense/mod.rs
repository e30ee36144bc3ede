//! `GstSapiensDense`: the abstract class of the dense-head elements (`sapiensseg`,
//! `sapiensdepth`, `sapiensnormal`), a [`SapiensInference`] that adds the shared input tensor
//! (`share-input`, `tensors-computed`, `tensors-reused`). A subclass names its head in
//! [`SapiensDenseImpl::dense_stages`]; everything else is here and in [`stages`].
mod imp;
pub mod stages;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

pub use stages::{DenseHead, DenseOutput, DenseStages, InputSharing, TensorCounters};

use crate::elements::inference::{
    self, HeadStages, LoadedModel, SapiensInference, SapiensInferenceImpl,
};
use crate::error::{Error, Result};

glib::wrapper! {
    /// The abstract dense-head element (GType `GstSapiensDense`).
    pub struct SapiensDense(ObjectSubclass<imp::SapiensDense>)
        @extends SapiensInference, gst::Element, gst::Object;
}

/// The dense virtual method's signature.
type DenseStagesFn = fn(&SapiensDense, &LoadedModel, InputSharing) -> Result<HeadStages>;

/// The class struct: the inference class plus the dense virtual method.
#[repr(C)]
pub struct Class {
    parent: inference::Class,
    dense_stages: Option<DenseStagesFn>,
}

// SAFETY: `Class` is `#[repr(C)]` and starts with the parent's class struct.
unsafe impl ClassStruct for Class {
    type Type = imp::SapiensDense;
}

/// What a dense element implements: its head.
pub trait SapiensDenseImpl: SapiensInferenceImpl + ObjectSubclass<Type: IsA<SapiensDense>> {
    type Head: DenseHead;

    /// The head for this config and the element's own properties (seg's `mode`, pointmap's
    /// `ply-location`); an error names a bad property.
    fn head(&self, loaded: &LoadedModel) -> Result<Self::Head>;

    /// The head's stages, sharing the input tensor as the element says.
    fn dense_stages(&self, loaded: &LoadedModel, sharing: InputSharing) -> Result<HeadStages> {
        Ok(HeadStages::new(DenseStages::new(
            loaded,
            self.head(loaded)?,
            sharing,
        )?))
    }
}

// SAFETY: `class_init` chains to the parent's and only sets this class's own field.
unsafe impl<T: SapiensDenseImpl> IsSubclassable<T> for SapiensDense {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class.upcast_ref_mut());
        class.as_mut().dense_stages = Some(|obj, loaded, sharing| {
            let obj = obj
                .downcast_ref::<T::Type>()
                .ok_or_else(|| Error::Invalid(format!("{} is not a {}", obj.type_(), T::NAME)))?;
            T::from_obj(obj).dense_stages(loaded, sharing)
        });
    }
}

impl SapiensDense {
    fn dense_stages(&self, loaded: &LoadedModel, sharing: InputSharing) -> Result<HeadStages> {
        let build = self.class().as_ref().dense_stages.ok_or_else(|| {
            Error::Invalid(format!("{} does not name a dense head", self.type_()))
        })?;
        build(self, loaded, sharing)
    }
}
