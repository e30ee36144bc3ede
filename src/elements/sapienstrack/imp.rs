//! The `sapienstrack` element: an in-place transform holding the tracker.
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use crate::detect::Detection;
use crate::elements::lock;
use crate::meta::detect::{Detections, add_roi, person_rois, remove_rois};
use crate::track::{TrackedBox, Tracker, TrackerParams};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapienstrack",
        gst::DebugColorFlags::empty(),
        Some("Sapiens person tracker"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    roi_type: String,
    params: TrackerParams,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            params: TrackerParams::default(),
        }
    }
}

#[derive(Default)]
struct State {
    tracker: Option<Tracker>,
    video: Option<gst_video::VideoInfo>,
}

#[derive(Default)]
pub struct SapiensTrack {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensTrack {
    const NAME: &'static str = "GstSapiensTrack";
    type Type = super::SapiensTrack;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for SapiensTrack {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = TrackerParams::default();
            let score = |name: &str, blurb: &str, default: f32| {
                glib::ParamSpecFloat::builder(name)
                    .blurb(blurb)
                    .minimum(-100.0)
                    .maximum(100.0)
                    .default_value(default)
                    .mutable_ready()
                    .build()
            };
            vec![
                crate::elements::roi_type_spec("GstVideoRegionOfInterestMeta type read as detections and written as tracked persons"),
                score(
                    "high-threshold",
                    "Detections scoring at least this are matched first and may start tracks (detector score units)",
                    d.high,
                ),
                score(
                    "low-threshold",
                    "Detections scoring below this are ignored; between low and high they only keep tracks alive",
                    d.low,
                ),
                score(
                    "new-track-threshold",
                    "An unmatched detection scoring at least this starts a new track",
                    d.new_track,
                ),
                glib::ParamSpecUInt::builder("max-age")
                    .nick("Maximum age")
                    .blurb("Detection frames a lost track is kept, so that a person found again keeps their id")
                    .maximum(10_000)
                    .default_value(d.max_age)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let d = Settings::default();
        match pspec.name() {
            "roi-type" => s.roi_type = crate::elements::string_or(value, &d.roi_type),
            "high-threshold" => s.params.high = value.get().unwrap_or(d.params.high),
            "low-threshold" => s.params.low = value.get().unwrap_or(d.params.low),
            "new-track-threshold" => s.params.new_track = value.get().unwrap_or(d.params.new_track),
            "max-age" => s.params.max_age = value.get().unwrap_or(d.params.max_age),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "roi-type" => s.roi_type.to_value(),
            "high-threshold" => s.params.high.to_value(),
            "low-threshold" => s.params.low.to_value(),
            "new-track-threshold" => s.params.new_track.to_value(),
            "max-age" => s.params.max_age.to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensTrack {}

impl ElementImpl for SapiensTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens person tracker",
            "Stable person ids across frames (ByteTrack: Kalman-predicted boxes, two-stage IoU assignment); \
             reads and writes person GstVideoRegionOfInterestMeta, predicts boxes on frames without detections"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            crate::elements::raw_video_templates(&[gst::PadDirection::Sink, gst::PadDirection::Src])
        });
        TEMPLATES.as_ref()
    }
}

/// The person boxes of `roi_type` on `buffer`, as detections (score = `detection` confidence,
/// else 1).
fn detections_from_rois(buffer: &gst::BufferRef, roi_type: &str) -> Vec<Detection> {
    person_rois(buffer, roi_type)
        .into_iter()
        .map(|r| Detection {
            bbox: r.bbox,
            score: r.confidence.unwrap_or(1.0) as f32,
        })
        .collect()
}

impl BaseTransformImpl for SapiensTrack {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let params = lock(&self.settings).params;
        lock(&self.state).tracker = Some(Tracker::new(params));
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = State::default();
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|e| gst::loggable_error!(CAT, "cannot read caps {incaps}: {e}"))?;
        lock(&self.state).video = Some(info);
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            // A seek: what was tracked before is not where the stream goes on.
            let params = lock(&self.settings).params;
            lock(&self.state).tracker = Some(Tracker::new(params));
            gst::debug!(CAT, imp = self, "flush: tracks reset");
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(
        &self,
        buffer: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let roi_type = lock(&self.settings).roi_type.clone();
        let mut state = lock(&self.state);
        let Some(size) = state.video.as_ref().map(|v| (v.width(), v.height())) else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("received a buffer before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let Some(tracker) = state.tracker.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let detected = match Detections::from_buffer(buffer) {
            Ok(meta) => meta.map(|d| !d.carried),
            Err(e) => {
                gst::element_imp_error!(self, gst::StreamError::Decode, ("{}", e));
                return Err(gst::FlowError::Error);
            }
        };
        let dets = detections_from_rois(buffer, &roi_type);
        // The detector ran on this frame: its meta says so, or (another detector) boxes are here.
        let tracked: Vec<TrackedBox> = if detected.unwrap_or(!dets.is_empty()) {
            tracker.update(&dets)
        } else {
            tracker.predict()
        };
        gst::log!(
            CAT,
            imp = self,
            "frame {:?}: {} detections in, {} tracked ({})",
            buffer.pts(),
            dets.len(),
            tracked.len(),
            if detected.unwrap_or(!dets.is_empty()) {
                "updated"
            } else {
                "predicted"
            }
        );
        remove_rois(buffer, &roi_type);
        for t in &tracked {
            add_roi(buffer, &roi_type, &t.bbox, size, |roi| {
                roi.set_id(t.id as i32);
                roi.add_param(
                    gst::Structure::builder("tracking")
                        .field("id", t.id)
                        .field("detected", t.detected)
                        .field("score", t.score as f64)
                        .build(),
                );
                roi.add_param(
                    gst::Structure::builder("detection")
                        .field("confidence", t.score as f64)
                        .field("backend", "sapienstrack")
                        .build(),
                );
            });
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
