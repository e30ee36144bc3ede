//! The `sapiensjson` element: a passthrough transform writing a record per buffer.
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use crate::elements::lock;
use crate::export::mqtt::{Publisher, Target};
use crate::export::record::record;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensjson",
        gst::DebugColorFlags::empty(),
        Some("Sapiens results as JSON"),
    )
});

#[derive(Debug, Clone, Default)]
struct Settings {
    /// JSON-lines file, or `-` for stdout; empty = none.
    location: String,
    /// `HOST:PORT/TOPIC`; empty = none.
    mqtt: String,
    mqtt_client_id: String,
}

#[derive(Default)]
struct State {
    file: Option<Box<dyn Write + Send>>,
    publisher: Option<Publisher>,
    video: Option<(u32, u32)>,
    frames: u64,
}

#[derive(Default)]
pub struct SapiensJson {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensJson {
    const NAME: &'static str = "GstSapiensJson";
    type Type = super::SapiensJson;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for SapiensJson {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let string = |name: &str, blurb: &str| {
                glib::ParamSpecString::builder(name)
                    .blurb(blurb)
                    .mutable_ready()
                    .build()
            };
            vec![
                string(
                    "location",
                    "JSON-lines file to write (one object per frame), - for stdout",
                ),
                string(
                    "mqtt",
                    "Publish each frame's object to this MQTT broker and topic: HOST:PORT/TOPIC",
                ),
                string(
                    "mqtt-client-id",
                    "MQTT client id (default sapiens-stream-<process id>-<element name>)",
                ),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .blurb("frames (records written), mqtt-dropped (messages lost to a full queue)")
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let v = crate::elements::string_or(value, "");
        match pspec.name() {
            "location" => s.location = v,
            "mqtt" => s.mqtt = v,
            "mqtt-client-id" => s.mqtt_client_id = v,
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "location" => s.location.to_value(),
            "mqtt" => s.mqtt.to_value(),
            "mqtt-client-id" => s.mqtt_client_id.to_value(),
            "stats" => {
                let st = lock(&self.state);
                gst::Structure::builder("sapiensjson-stats")
                    .field("frames", st.frames)
                    .field(
                        "mqtt-dropped",
                        st.publisher.as_ref().map_or(0, Publisher::dropped),
                    )
                    .build()
                    .to_value()
            }
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for SapiensJson {}

impl ElementImpl for SapiensJson {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens results as JSON",
            "Filter/Metadata/Video",
            "One JSON object per frame (persons with boxes, track ids and named keypoints; seg \
             class pixels; depth range) to a JSON-lines file, stdout or an MQTT broker"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            crate::elements::raw_video_templates(&[gst::PadDirection::Sink, gst::PadDirection::Src])
        });
        TEMPLATES.as_ref()
    }
}

impl SapiensJson {
    fn open(&self) -> Result<State, gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        if s.location.is_empty() && s.mqtt.is_empty() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("sapiensjson: set location (a file, - for stdout) and/or mqtt (HOST:PORT/TOPIC)")
            ));
        }
        let file: Option<Box<dyn Write + Send>> = match s.location.as_str() {
            "" => None,
            "-" => Some(Box::new(std::io::stdout())),
            path => Some(Box::new(std::fs::File::create(path).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ("sapiensjson: cannot write {path}: {e}")
                )
            })?)),
        };
        let publisher = if s.mqtt.is_empty() {
            None
        } else {
            let target: Target = s.mqtt.parse().map_err(|e: String| {
                gst::error_msg!(gst::ResourceError::Settings, ("sapiensjson mqtt: {e}"))
            })?;
            let id = if s.mqtt_client_id.is_empty() {
                format!(
                    "sapiens-stream-{}-{}",
                    std::process::id(),
                    self.obj().name()
                )
            } else {
                s.mqtt_client_id
            };
            Some(Publisher::connect(&target, &id).map_err(|e| {
                gst::error_msg!(gst::ResourceError::OpenWrite, ("sapiensjson: {e}"))
            })?)
        };
        Ok(State {
            file,
            publisher,
            ..State::default()
        })
    }
}

impl BaseTransformImpl for SapiensJson {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = self.open()?;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = std::mem::take(&mut *lock(&self.state));
        if let Some(f) = state.file.as_mut() {
            let _ = f.flush();
        }
        if let Some(p) = state.publisher.take() {
            let dropped = p.dropped();
            if dropped > 0 {
                gst::warning!(
                    CAT,
                    imp = self,
                    "{dropped} MQTT messages dropped (broker away)"
                );
            }
            p.finish();
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|e| gst::loggable_error!(CAT, "cannot read caps {incaps}: {e}"))?;
        lock(&self.state).video = Some((info.width(), info.height()));
        Ok(())
    }

    fn transform_ip_passthrough(
        &self,
        buffer: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut state = lock(&self.state);
        let (w, h) = state.video.unwrap_or((0, 0));
        let rec = record(buffer, state.frames, w, h).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Decode, ("{}", e));
            gst::FlowError::Error
        })?;
        let mut line = serde_json::to_vec(&rec).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Encode, ("JSON: {}", e));
            gst::FlowError::Error
        })?;
        if let Some(p) = state.publisher.as_ref() {
            p.publish(line.clone());
        }
        if let Some(f) = state.file.as_mut() {
            line.push(b'\n');
            // Each line reaches the file whole and at once: a reader (or a crash) never sees
            // half a record.
            if let Err(e) = f.write_all(&line).and_then(|()| f.flush()) {
                let location = lock(&self.settings).location.clone();
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("sapiensjson: writing {}: {}", location, e)
                );
                return Err(gst::FlowError::Error);
            }
        }
        state.frames += 1;
        Ok(gst::FlowSuccess::Ok)
    }
}
