use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::stages::{PoseOptions, PoseStages};
use crate::elements::inference::{self, InferenceCore, InferenceElement, lock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapienspose",
        gst::DebugColorFlags::empty(),
        Some("Sapiens pose estimation"),
    )
});

const DEFAULT_ROI_TYPE: &str = "person";

pub struct SapiensPose {
    core: InferenceCore,
    roi_type: Mutex<String>,
    score_threshold: Arc<Mutex<Option<f32>>>,
}

impl InferenceElement for SapiensPose {
    fn core(&self) -> &InferenceCore {
        &self.core
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensPose {
    const NAME: &'static str = "GstSapiensPose";
    type Type = super::SapiensPose;
    type ParentType = gst::Element;

    fn with_class(_klass: &Self::Class) -> Self {
        let (sinkpad, srcpad) = inference::pads::<Self>();
        Self {
            core: InferenceCore::new(*CAT, sinkpad, srcpad),
            roi_type: Mutex::new(DEFAULT_ROI_TYPE.into()),
            score_threshold: Arc::new(Mutex::new(None)),
        }
    }
}

impl ObjectImpl for SapiensPose {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut props = inference::specs();
            props.push(
                glib::ParamSpecString::builder("roi-type")
                    .nick("ROI type")
                    .blurb("Upstream GstVideoRegionOfInterestMeta type taken as person boxes; without any, the whole frame is one box")
                    .default_value(Some(DEFAULT_ROI_TYPE))
                    .mutable_ready()
                    .build(),
            );
            props.push(
                glib::ParamSpecFloat::builder("score-threshold")
                    .nick("Score threshold")
                    .blurb("Keypoints scoring below this are kept in the metadata but not drawn; -1 = the config's (0.3 in the official demo)")
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(-1.0)
                    .mutable_playing()
                    .build(),
            );
            props
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if self.core.set_property(value, pspec) {
            return;
        }
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
        if let Some(v) = self.core.property(pspec) {
            return v;
        }
        match pspec.name() {
            "roi-type" => lock(&self.roi_type).to_value(),
            "score-threshold" => lock(&self.score_threshold).unwrap_or(-1.0).to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.core.add_pads(self.obj().upcast_ref());
    }
}

impl GstObjectImpl for SapiensPose {}

impl ElementImpl for SapiensPose {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Sapiens pose",
                "Filter/Analyzer/Video",
                "Top-down human keypoints (Goliath-308, COCO-WholeBody-133, COCO-17) with Meta's Sapiens models on ONNX Runtime; \
                 person boxes from upstream region-of-interest metas, results as SapiensPoseMeta",
                "sapiens-stream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(inference::pad_templates);
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        let obj = self.obj();
        let element: &gst::Element = obj.upcast_ref();
        let options = PoseOptions {
            roi_type: lock(&self.roi_type).clone(),
            score_threshold: self.score_threshold.clone(),
        };
        self.core.change_state(
            element,
            transition,
            |t| self.parent_change_state(t),
            |loaded| Ok(Arc::new(PoseStages::new(loaded, options)?)),
        )
    }
}
