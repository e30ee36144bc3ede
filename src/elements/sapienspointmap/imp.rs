//! The `sapienspointmap` element: a dense element running the pointmap head, with its PLY
//! properties.
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::{PlyTarget, PointmapHead};
use crate::elements::dense::SapiensDenseImpl;
use crate::elements::inference::{LoadedModel, SapiensInferenceImpl};
use crate::elements::lock;
use crate::error::Error;
use crate::export::ply::NumberedPath;

#[derive(Default)]
pub struct SapiensPointmap {
    ply_location: Mutex<Option<String>>,
    ply_interval: Mutex<u32>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensPointmap {
    const NAME: &'static str = "GstSapiensPointmap";
    type Type = super::SapiensPointmap;
    type ParentType = crate::elements::dense::SapiensDense;
}

impl ObjectImpl for SapiensPointmap {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("ply-location")
                    .nick("PLY files")
                    .blurb("Write frames' metric points (background left out) as binary PLY files, e.g. points-%05d.ply (%d: frame number); unset: none")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("ply-interval")
                    .nick("PLY interval")
                    .blurb("Write a PLY file every this many frames (1 = each)")
                    .minimum(1)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "ply-location" => *lock(&self.ply_location) = value.get().unwrap_or_default(),
            "ply-interval" => *lock(&self.ply_interval) = value.get().unwrap_or(1),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "ply-location" => lock(&self.ply_location).to_value(),
            "ply-interval" => lock(&self.ply_interval).to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensPointmap {}
impl SapiensInferenceImpl for SapiensPointmap {}

impl ElementImpl for SapiensPointmap {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens2 pointmap",
            "Per-pixel metric XYZ of the whole frame with Meta's Sapiens2 pointmap models on ONNX \
             Runtime (pointmap / scale, implied focal length); background masked with an upstream \
             sapiensseg result; results as SapiensPointmapMeta, optionally PLY files"
        )
    }
}

impl SapiensDenseImpl for SapiensPointmap {
    type Head = PointmapHead;
    fn head(&self, loaded: &LoadedModel) -> crate::Result<PointmapHead> {
        let section = loaded
            .config
            .pointmap()
            .ok_or_else(|| Error::Invalid("sapienspointmap needs a [pointmap] config".into()))?;
        let ply = lock(&self.ply_location)
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|p| {
                NumberedPath::parse(p)
                    .map_err(|e| Error::Invalid(format!("property 'ply-location': {e}")))
            })
            .transpose()?
            .map(|path| PlyTarget::new(path, *lock(&self.ply_interval) as u64));
        Ok(PointmapHead {
            canonical_focal_px: section.canonical_focal_px as f64,
            ply,
        })
    }
}
