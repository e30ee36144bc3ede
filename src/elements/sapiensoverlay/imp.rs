use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::elements::inference::{frame, lock};
use crate::error::Result;
use crate::meta::pose::PoseResult;
use crate::render::{Canvas, pose};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensoverlay",
        gst::DebugColorFlags::empty(),
        Some("Sapiens result overlay"),
    )
});

#[derive(Default)]
pub struct SapiensOverlay {
    style: Mutex<pose::PoseStyle>,
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
            let d = pose::PoseStyle::default();
            let flag = |name: &str, blurb: &str, default: bool| {
                glib::ParamSpecBoolean::builder(name)
                    .blurb(blurb)
                    .default_value(default)
                    .mutable_playing()
                    .build()
            };
            vec![
                flag("draw-boxes", "Draw person boxes", d.boxes),
                flag("draw-keypoints", "Draw keypoints scoring at or above the threshold", d.keypoints),
                flag("draw-links", "Draw skeleton links whose two keypoints score above the threshold", d.links),
                flag("draw-labels", "Label each person with its count of keypoints above the threshold", d.labels),
                glib::ParamSpecFloat::builder("score-threshold")
                    .blurb("Drawing threshold; -1 = the one the pose result carries (its config's, 0.3 official)")
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
        let mut s = lock(&self.style);
        match pspec.name() {
            "draw-boxes" => s.boxes = value.get().unwrap_or(s.boxes),
            "draw-keypoints" => s.keypoints = value.get().unwrap_or(s.keypoints),
            "draw-links" => s.links = value.get().unwrap_or(s.links),
            "draw-labels" => s.labels = value.get().unwrap_or(s.labels),
            "score-threshold" => s.threshold = value.get::<f32>().ok().filter(|t| *t >= 0.0),
            other => unreachable!("unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.style);
        match pspec.name() {
            "draw-boxes" => s.boxes.to_value(),
            "draw-keypoints" => s.keypoints.to_value(),
            "draw-links" => s.links.to_value(),
            "draw-labels" => s.labels.to_value(),
            "score-threshold" => s.threshold.unwrap_or(-1.0).to_value(),
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
                "Draws Sapiens results (skeletons with the official colours, person boxes, labels) on the frame; \
                 frames from untrained test models get an UNTRAINED WEIGHTS banner",
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
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;
}

impl VideoFilterImpl for SapiensOverlay {
    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.draw(frame).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("cannot draw: {}", e));
            gst::FlowError::Error
        })?;
        Ok(gst::FlowSuccess::Ok)
    }
}

impl SapiensOverlay {
    fn draw(&self, frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>) -> Result<()> {
        let pose = PoseResult::from_buffer(frame.buffer())?;
        let Some(pose) = pose else {
            gst::trace!(CAT, imp = self, "no results on {:?}", frame.buffer().pts());
            return Ok(());
        };
        let style = *lock(&self.style);
        let layout = frame::layout(frame.format())?;
        let (w, h, stride) = (
            frame.width(),
            frame.height(),
            frame.plane_stride()[0] as usize,
        );
        let data = frame.plane_data_mut(0).map_err(|e| {
            crate::Error::UnsupportedVideo(format!("cannot map the frame writable: {e}"))
        })?;
        // SAFETY: `data` is the mapped frame, borrowed mutably for the canvas's whole life.
        let mut canvas = unsafe { Canvas::wrap(data, layout, w, h, stride)? };
        pose::draw(&mut canvas, &pose, &style)?;
        if pose.untrained {
            canvas.untrained_banner()?;
        }
        Ok(())
    }
}
