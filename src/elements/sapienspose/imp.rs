//! The `sapienspose` element: an inference element running the top-down pose head.
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::stages::{DEFAULT_MAX_PERSONS, PoseCounters, PoseSettings, PoseStages};
use crate::elements::inference::{HeadStages, SapiensInferenceImpl, StartContext};
use crate::elements::lock;
use crate::error::Result;
use crate::track::one_euro::OneEuroParams;

#[derive(Default)]
pub struct SapiensPose {
    /// Shared with the running stages (the score threshold changes while playing).
    settings: Arc<Mutex<PoseSettings>>,
    counters: Arc<PoseCounters>,
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
            let e = OneEuroParams::default();
            vec![
                crate::elements::roi_type_spec("Upstream GstVideoRegionOfInterestMeta type taken as person boxes; without any, the whole frame is one box"),
                glib::ParamSpecFloat::builder("score-threshold")
                    .nick("Score threshold")
                    .blurb("Keypoints scoring below this are kept in the metadata but not drawn; -1 = the config's (0.3 in the official demo)")
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(-1.0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-persons")
                    .nick("Maximum persons")
                    .blurb("At most this many persons a frame, the largest boxes (0 = no limit); the others are dropped and counted")
                    .maximum(4096)
                    .default_value(DEFAULT_MAX_PERSONS as u32)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("smoothing")
                    .nick("Keypoint smoothing")
                    .blurb("One-Euro filter on each tracked person's keypoints (needs track ids from sapienstrack; time from buffer timestamps)")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("min-cutoff")
                    .nick("One-Euro minimum cutoff")
                    .blurb("Cutoff frequency at rest, Hz: lower = smoother still keypoints")
                    .minimum(0.001)
                    .maximum(1000.0)
                    .default_value(e.min_cutoff)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("beta")
                    .nick("One-Euro speed coefficient")
                    .blurb("How fast the cutoff rises with speed (per px/s): higher = less lag on fast motion")
                    .minimum(0.0)
                    .maximum(100.0)
                    .default_value(e.beta)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("d-cutoff")
                    .nick("One-Euro derivative cutoff")
                    .blurb("Cutoff frequency of the speed estimate, Hz")
                    .minimum(0.001)
                    .maximum(1000.0)
                    .default_value(e.d_cutoff)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("boxes-skipped")
                    .nick("Boxes skipped")
                    .blurb("Person boxes of zero size or outside the frame, left out")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("boxes-dropped")
                    .nick("Boxes dropped")
                    .blurb("Person boxes beyond max-persons (the smallest of their frame), left out")
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "roi-type" => {
                s.roi_type = crate::elements::string_or(value, &PoseSettings::default().roi_type)
            }
            "score-threshold" => {
                let t: f32 = value.get().unwrap_or(-1.0);
                s.score_threshold = (t >= 0.0).then_some(t);
            }
            "max-persons" => {
                s.max_persons = value
                    .get::<u32>()
                    .map_or(DEFAULT_MAX_PERSONS, |v| v as usize)
            }
            "smoothing" => s.smoothing = value.get().unwrap_or(false),
            "min-cutoff" => s.one_euro.min_cutoff = value.get().unwrap_or(s.one_euro.min_cutoff),
            "beta" => s.one_euro.beta = value.get().unwrap_or(s.one_euro.beta),
            "d-cutoff" => s.one_euro.d_cutoff = value.get().unwrap_or(s.one_euro.d_cutoff),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "roi-type" => s.roi_type.to_value(),
            "score-threshold" => s.score_threshold.unwrap_or(-1.0).to_value(),
            "max-persons" => (s.max_persons as u32).to_value(),
            "smoothing" => s.smoothing.to_value(),
            "min-cutoff" => s.one_euro.min_cutoff.to_value(),
            "beta" => s.one_euro.beta.to_value(),
            "d-cutoff" => s.one_euro.d_cutoff.to_value(),
            "boxes-skipped" => self.counters.skipped.load(Ordering::Relaxed).to_value(),
            "boxes-dropped" => self.counters.dropped.load(Ordering::Relaxed).to_value(),
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
    fn build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        Ok(HeadStages::new(PoseStages::new(
            start.model()?,
            self.settings.clone(),
            self.counters.clone(),
            start.settings().batch_size as usize,
        )?))
    }
}
