//! The `sapienspose` element: an inference element running the top-down pose head.
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::stages::{PoseOptions, PoseStages};
use crate::elements::inference::{HeadStages, LoadedModel, SapiensInferenceImpl};
use crate::elements::lock;
use crate::error::Result;

const DEFAULT_ROI_TYPE: &str = "person";

pub struct SapiensPose {
    roi_type: Mutex<String>,
    score_threshold: Arc<Mutex<Option<f32>>>,
}

impl Default for SapiensPose {
    fn default() -> Self {
        Self {
            roi_type: Mutex::new(DEFAULT_ROI_TYPE.into()),
            score_threshold: Arc::new(Mutex::new(None)),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensPose {
    const NAME: &'static str = "GstSapiensPose";
    type Type = super::SapiensPose;
    type ParentType = crate::elements::inference::SapiensInference;
}

impl ObjectImpl for SapiensPose {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("roi-type")
                    .nick("ROI type")
                    .blurb("Upstream GstVideoRegionOfInterestMeta type taken as person boxes; without any, the whole frame is one box")
                    .default_value(Some(DEFAULT_ROI_TYPE))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecFloat::builder("score-threshold")
                    .nick("Score threshold")
                    .blurb("Keypoints scoring below this are kept in the metadata but not drawn; -1 = the config's (0.3 in the official demo)")
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(-1.0)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "roi-type" => {
                *lock(&self.roi_type) = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| DEFAULT_ROI_TYPE.into())
            }
            "score-threshold" => {
                let t: f32 = value.get().unwrap_or(-1.0);
                *lock(&self.score_threshold) = (t >= 0.0).then_some(t);
            }
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "roi-type" => lock(&self.roi_type).to_value(),
            "score-threshold" => lock(&self.score_threshold).unwrap_or(-1.0).to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for SapiensPose {}

impl ElementImpl for SapiensPose {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens pose",
            "Top-down human keypoints (Goliath-308, COCO-WholeBody-133, COCO-17) with Meta's Sapiens models on ONNX Runtime; \
             person boxes from upstream region-of-interest metas, results as SapiensPoseMeta"
        )
    }
}

impl SapiensInferenceImpl for SapiensPose {
    fn build_stages(&self, loaded: &LoadedModel) -> Result<HeadStages> {
        let options = PoseOptions {
            roi_type: lock(&self.roi_type).clone(),
            score_threshold: self.score_threshold.clone(),
        };
        Ok(HeadStages::new(PoseStages::new(loaded, options)?))
    }
}
