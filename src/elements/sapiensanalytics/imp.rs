//! The `sapiensanalytics` element: an in-place transform holding the rules' state.
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use crate::analytics::fall::sample_points;
use crate::analytics::{Analytics, FrameIn, PersonIn, Rules};
use crate::elements::lock;
use crate::meta::analytics::{attach_result, event_structure};
use crate::meta::dense::PointmapResult;
use crate::meta::detect::person_rois;
use crate::meta::pose::PoseResult;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensanalytics",
        gst::DebugColorFlags::empty(),
        Some("Sapiens zones, lines and events"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    config: Option<PathBuf>,
    roi_type: String,
    post_messages: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: None,
            roi_type: "person".into(),
            post_messages: true,
        }
    }
}

#[derive(Default)]
struct State {
    /// The rules as the file gives them (units unscaled).
    rules: Option<Rules>,
    /// Their state, in pixels of the negotiated frame size.
    analytics: Option<Analytics>,
    /// The negotiated frame size, px.
    size: (u32, u32),
}

#[derive(Default)]
pub struct SapiensAnalytics {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensAnalytics {
    const NAME: &'static str = "GstSapiensAnalytics";
    type Type = super::SapiensAnalytics;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for SapiensAnalytics {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("config")
                    .nick("Analytics file")
                    .blurb("TOML file of zones and lines (see configs/analytics/vtest.toml)")
                    .mutable_ready()
                    .build(),
                crate::elements::roi_type_spec(
                    "GstVideoRegionOfInterestMeta type read as tracked persons when there is no pose meta",
                ),
                glib::ParamSpecBoolean::builder("post-messages")
                    .nick("Post messages")
                    .blurb("Post each event on the bus as an element message 'sapiens-analytics-event'")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "config" => {
                s.config = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            }
            "roi-type" => s.roi_type = crate::elements::string_or(value, "person"),
            "post-messages" => s.post_messages = value.get().unwrap_or(true),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "config" => s
                .config
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            "roi-type" => s.roi_type.to_value(),
            "post-messages" => s.post_messages.to_value(),
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }
}

impl GstObjectImpl for SapiensAnalytics {}

impl ElementImpl for SapiensAnalytics {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens zone and line analytics",
            "Zones and counting lines tested on each tracked person's keypoints (else the box \
             bottom): occupancy, crossings in/out, dwell; events as SapiensAnalyticsMeta and bus \
             messages"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            crate::elements::raw_video_templates(&[gst::PadDirection::Sink, gst::PadDirection::Src])
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for SapiensAnalytics {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let Some(path) = lock(&self.settings).config.clone() else {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("sapiensanalytics needs config=FILE (a TOML file of zones and lines)")
            ));
        };
        let rules = Rules::load(&path)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        gst::info!(
            CAT,
            imp = self,
            "{}: {} zones, {} lines",
            path.display(),
            rules.zones.len(),
            rules.lines.len()
        );
        *lock(&self.state) = State {
            rules: Some(rules),
            ..State::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = State::default();
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|e| gst::loggable_error!(CAT, "cannot read caps {incaps}: {e}"))?;
        let mut state = lock(&self.state);
        let Some(rules) = &state.rules else {
            return Err(gst::loggable_error!(CAT, "caps before start"));
        };
        let pixels = rules.in_pixels(info.width(), info.height());
        // Same size again (a renegotiation): keep the tracks and counts.
        if state.analytics.as_ref().map(|a| a.rules()) != Some(&pixels) {
            state.analytics = Some(Analytics::new(pixels));
        }
        state.size = (info.width(), info.height());
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view()
            && let Some(a) = lock(&self.state).analytics.as_mut()
        {
            // A seek: where the stream goes on has nothing to do with the stays before.
            a.reset();
            gst::debug!(CAT, imp = self, "flush: tracks and counts reset");
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(
        &self,
        buffer: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (roi_type, post) = {
            let s = lock(&self.settings);
            (s.roi_type.clone(), s.post_messages)
        };
        let Some(pts) = buffer.pts() else {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("sapiensanalytics needs timestamped frames (dwell and events are timed by PTS); this one has none")
            );
            return Err(gst::FlowError::Error);
        };
        let pose = match PoseResult::from_buffer(buffer) {
            Ok(p) => p,
            Err(e) => {
                gst::element_imp_error!(self, gst::StreamError::Decode, ("{}", e));
                return Err(gst::FlowError::Error);
            }
        };
        let mut state = lock(&self.state);
        let size = state.size;
        let Some(analytics) = state.analytics.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("received a buffer before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        // The fall rule measures in 3-D when a pointmap of the frame's size is there (one of
        // another size, e.g. a grid tile, is not the frame's geometry); an unreadable one is an
        // error, as an unreadable pose meta is.
        let pointmap = match analytics.rules().fall {
            Some(_) => match PointmapResult::from_buffer(buffer) {
                Ok(p) => p.filter(|p| (p.info.width, p.info.height) == size),
                Err(e) => {
                    gst::element_imp_error!(self, gst::StreamError::Decode, ("{}", e));
                    return Err(gst::FlowError::Error);
                }
            },
            None => None,
        };
        let values = pointmap
            .as_ref()
            .map(|p| (p.values(), p.info.width, p.info.height));
        let sampler = values.as_ref().map(|(v, w, h)| {
            let (v, w, h) = (v.as_ref(), *w as usize, *h as usize);
            move |x: f32, y: f32| sample_points(v, w, h, x, y)
        });
        let points = sampler
            .as_ref()
            .map(|f| f as &dyn Fn(f32, f32) -> Option<[f32; 3]>);
        let frame = match &pose {
            Some(p) => FrameIn {
                pts_ns: pts.nseconds(),
                keypoint_set: Some(p.keypoint_set),
                persons: p
                    .persons
                    .iter()
                    .map(|q| PersonIn {
                        id: q.id,
                        bbox: q.bbox,
                        keypoints: Some(&q.keypoints),
                    })
                    .collect(),
                points,
            },
            None => FrameIn {
                pts_ns: pts.nseconds(),
                keypoint_set: None,
                // No pose meta: the tracked person boxes (`sapienstrack`'s ROI metas).
                persons: person_rois(buffer, &roi_type)
                    .into_iter()
                    .map(|r| PersonIn {
                        id: r.id,
                        bbox: r.bbox,
                        keypoints: None,
                    })
                    .collect(),
                points,
            },
        };
        let result = match analytics.update(&frame) {
            Ok(r) => r,
            Err(e) => {
                gst::element_imp_error!(self, gst::StreamError::Format, ("{}", e));
                return Err(gst::FlowError::Error);
            }
        };
        drop(frame);
        drop(state);
        for e in &result.events {
            gst::debug!(CAT, imp = self, "{pts}: {e:?}");
            if post {
                let mut s = event_structure(e);
                s.set_name(super::EVENT_MESSAGE);
                let _ = self
                    .obj()
                    .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
            }
        }
        if let Err(e) = attach_result(&result, buffer) {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("{}", e));
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
