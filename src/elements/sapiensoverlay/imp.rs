use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::Layout;
use crate::elements::{frame, lock};
use crate::render::compose::{self, Results, Style};
use crate::render::dense::Packed;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensoverlay",
        gst::DebugColorFlags::empty(),
        Some("Sapiens result overlay"),
    )
});

/// How long an analytics event stays on screen, ns of stream time.
const EVENT_SHOWN_NS: u64 = 3_000_000_000;
/// Most event lines on screen at once.
const EVENT_LINES: usize = 4;

#[derive(Default)]
pub struct SapiensOverlay {
    style: Mutex<Style>,
    layout: Mutex<Layout>,
    /// Recent analytics events: text and the PTS (ns) it was shown first.
    recent: Mutex<std::collections::VecDeque<(String, u64)>>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensOverlay {
    const NAME: &'static str = "GstSapiensOverlay";
    type Type = super::SapiensOverlay;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for SapiensOverlay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Style::default();
            let flag = |name: &str, blurb: &str, default: bool| {
                glib::ParamSpecBoolean::builder(name)
                    .blurb(blurb)
                    .default_value(default)
                    .mutable_playing()
                    .build()
            };
            vec![
                glib::ParamSpecEnum::builder::<Layout>("layout")
                    .blurb("overlay: draw on the frame; grid: 2x2 mosaic (frame+pose | seg, depth | normal), output twice the input size")
                    .mutable_ready()
                    .build(),
                flag("draw-boxes", "Draw person boxes", d.pose.boxes),
                flag("draw-keypoints", "Draw keypoints scoring at or above the threshold", d.pose.keypoints),
                flag("draw-links", "Draw skeleton links whose two keypoints score above the threshold", d.pose.links),
                flag("draw-labels", "Label each person with its count of keypoints above the threshold", d.pose.labels),
                flag("draw-seg", "Blend the body-part segmentation over the frame (overlay layout)", d.seg),
                glib::ParamSpecFloat::builder("score-threshold")
                    .blurb("Drawing threshold; -1 = the one the pose result carries (its config's, 0.3 official)")
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(-1.0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder::<crate::render::anonymize::Anonymize>("anonymize")
                    .blurb("Hide who people are before drawing: blur, pixelate or fill each person (seg mask, else box), or blank / blur-all the whole picture")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecFloat::builder("alpha")
                    .blurb("Weight of the seg palette in the blend (official 0.5)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(d.alpha)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "layout" {
            *lock(&self.layout) = value.get().unwrap_or_default();
            return;
        }
        let mut s = lock(&self.style);
        match pspec.name() {
            "draw-boxes" => s.pose.boxes = value.get().unwrap_or(s.pose.boxes),
            "draw-keypoints" => s.pose.keypoints = value.get().unwrap_or(s.pose.keypoints),
            "draw-links" => s.pose.links = value.get().unwrap_or(s.pose.links),
            "draw-labels" => s.pose.labels = value.get().unwrap_or(s.pose.labels),
            "draw-seg" => s.seg = value.get().unwrap_or(s.seg),
            "score-threshold" => s.pose.threshold = value.get::<f32>().ok().filter(|t| *t >= 0.0),
            "alpha" => s.alpha = value.get().unwrap_or(s.alpha),
            "anonymize" => s.anonymize = value.get().unwrap_or_default(),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.style);
        match pspec.name() {
            "layout" => lock(&self.layout).to_value(),
            "draw-boxes" => s.pose.boxes.to_value(),
            "draw-keypoints" => s.pose.keypoints.to_value(),
            "draw-links" => s.pose.links.to_value(),
            "draw-labels" => s.pose.labels.to_value(),
            "draw-seg" => s.seg.to_value(),
            "score-threshold" => s.pose.threshold.unwrap_or(-1.0).to_value(),
            "alpha" => s.alpha.to_value(),
            "anonymize" => s.anonymize.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}

impl GstObjectImpl for SapiensOverlay {}

impl ElementImpl for SapiensOverlay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Sapiens overlay",
                "Filter/Effect/Video",
                "Draws Sapiens results as the official demo does: skeletons, person boxes and labels, the body-part \
                 seg blend, depth and normal maps, over the frame or as a 2x2 grid; frames from untrained test models get an \
                 UNTRAINED WEIGHTS banner",
                "sapiens-stream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            crate::elements::always_templates(frame::PACKED_FORMATS.iter().copied())
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for SapiensOverlay {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::Both;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut out = caps.clone();
        if *lock(&self.layout) == Layout::Grid {
            let grow = direction == gst::PadDirection::Sink;
            out.make_mut().filter_map_in_place(|_, s| {
                if ["width", "height"]
                    .iter()
                    .all(|field| scale_dimension(s, field, grow))
                {
                    gst::CapsFilterMapAction::Keep
                } else {
                    gst::CapsFilterMapAction::Remove
                }
            });
        }
        Some(match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }
}

/// Doubles (`grow`) or halves a caps dimension, a fixed size or a range. Returns `false` when no
/// size fits (halving an odd size): the caller drops the structure, since GStreamer has no empty
/// range. A range that halves to one size becomes that size (GStreamer refuses `[n, n]`).
fn scale_dimension(s: &mut gst::StructureRef, field: &str, grow: bool) -> bool {
    if let Ok(v) = s.get::<i32>(field) {
        if grow {
            s.set(field, v.saturating_mul(2));
        } else if v % 2 == 0 {
            s.set(field, v / 2);
        } else {
            return false;
        }
    } else if let Ok(r) = s.get::<gst::IntRange<i32>>(field) {
        let (lo, hi) = if grow {
            (r.min().saturating_mul(2), r.max().saturating_mul(2))
        } else {
            ((r.min() + 1) / 2, r.max() / 2)
        };
        let (lo, hi) = (lo.max(1), hi.max(1));
        match lo.cmp(&hi) {
            std::cmp::Ordering::Less => s.set(field, gst::IntRange::new(lo, hi)),
            std::cmp::Ordering::Equal => s.set(field, lo),
            std::cmp::Ordering::Greater => return false,
        }
    }
    true
}

impl VideoFilterImpl for SapiensOverlay {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let grid = *lock(&self.layout) == Layout::Grid;
        self.obj().set_in_place(!grid);
        gst::debug!(
            CAT,
            imp = self,
            "{} {}x{} -> {}x{}",
            if grid { "grid" } else { "overlay" },
            in_info.width(),
            in_info.height(),
            out_info.width(),
            out_info.height()
        );
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let style = *lock(&self.style);
        let drawn = (|| -> crate::Result<()> {
            let mut results = Results::from_buffer(frame.buffer(), frame.width(), frame.height())?;
            self.show_events(frame.buffer().pts(), &mut results);
            let (layout, w, h, stride) = (
                frame::layout(frame.format())?,
                frame.width(),
                frame.height(),
                frame.plane_stride()[0] as usize,
            );
            let data = frame.plane_data_mut(0).map_err(|e| {
                crate::Error::UnsupportedVideo(format!("cannot map the frame writable: {e}"))
            })?;
            compose::overlay(
                &mut Packed::new(data, layout, w, h, stride)?,
                &results,
                &style,
            )
        })();
        self.flow(drawn)
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let style = *lock(&self.style);
        let drawn = (|| -> crate::Result<()> {
            let mut results =
                Results::from_buffer(inframe.buffer(), inframe.width(), inframe.height())?;
            self.show_events(inframe.buffer().pts(), &mut results);
            let map_err = |e: glib::BoolError| {
                crate::Error::UnsupportedVideo(format!("cannot map a frame: {e}"))
            };
            let src = inframe.plane_data(0).map_err(map_err)?;
            let src_stride = inframe.plane_stride()[0] as usize;
            let (layout, w, h, stride) = (
                frame::layout(outframe.format())?,
                outframe.width(),
                outframe.height(),
                outframe.plane_stride()[0] as usize,
            );
            let data = outframe.plane_data_mut(0).map_err(map_err)?;
            compose::grid(
                src,
                src_stride,
                &mut Packed::new(data, layout, w, h, stride)?,
                &results,
                &style,
            )
        })();
        self.flow(drawn)
    }
}

impl SapiensOverlay {
    /// Adds this frame's analytics events to the recent ones and puts those still shown at
    /// `pts` into `results.banner` (a jump back in time, a seek, clears them).
    fn show_events(&self, pts: Option<gst::ClockTime>, results: &mut Results) {
        let now = pts.map_or(0, |t| t.nseconds());
        let mut recent = lock(&self.recent);
        if recent.back().is_some_and(|&(_, t)| t > now) {
            recent.clear();
        }
        if let Some(a) = &results.analytics {
            for e in &a.events {
                recent.push_back((crate::render::analytics::event_text(e), now));
            }
        }
        recent.retain(|&(_, t)| now - t < EVENT_SHOWN_NS);
        while recent.len() > EVENT_LINES {
            recent.pop_front();
        }
        results.banner = recent.iter().map(|(text, _)| text.clone()).collect();
    }

    /// A drawing error becomes an element error naming the cause.
    fn flow(&self, drawn: crate::Result<()>) -> Result<gst::FlowSuccess, gst::FlowError> {
        drawn.map(|_| gst::FlowSuccess::Ok).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("cannot draw: {}", e));
            gst::FlowError::Error
        })
    }
}
