//! The `sapiensclips` element: a sink keeping the pre-roll ring and the open clip.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::{BaseSinkExt, BaseSinkExtManual};
use gst_base::subclass::prelude::*;

use super::writer::{ClipInfo, Writer};
use crate::analytics::EventKind;
use crate::elements::lock;
use crate::export::clips::{Action, Planner};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensclips",
        gst::DebugColorFlags::empty(),
        Some("Sapiens event clips"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    location: Option<PathBuf>,
    pre_roll: f64,
    post_roll: f64,
    events: String,
    max_clips: u32,
    max_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: None,
            pre_roll: 5.0,
            post_roll: 5.0,
            events: "all".into(),
            max_clips: 100,
            max_bytes: 0,
        }
    }
}

#[derive(Default)]
struct State {
    planner: Option<Planner<gst::Buffer>>,
    writer: Option<Writer>,
    caps: Option<gst::Caps>,
    /// Event types that start or extend a clip.
    triggers: Vec<EventKind>,
    dir: PathBuf,
    next_seq: u32,
    written: u64,
    deleted: u64,
    failed: u64,
}

#[derive(Default)]
pub struct SapiensClips {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensClips {
    const NAME: &'static str = "GstSapiensClips";
    type Type = super::SapiensClips;
    type ParentType = gst_base::BaseSink;
}

impl ObjectImpl for SapiensClips {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Settings::default();
            let secs = |name: &str, blurb: &str, default: f64| {
                glib::ParamSpecDouble::builder(name)
                    .blurb(blurb)
                    .minimum(0.0)
                    .maximum(600.0)
                    .default_value(default)
                    .mutable_ready()
                    .build()
            };
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Folder")
                    .blurb("Folder the clips go into (made when missing)")
                    .mutable_ready()
                    .build(),
                secs("pre-roll", "Seconds of video before an event (back to the key frame before)", d.pre_roll),
                secs("post-roll", "Seconds of video after the last event of a clip", d.post_roll),
                glib::ParamSpecString::builder("events")
                    .blurb("Event types that make a clip, comma-separated (line_crossed, zone_entered, zone_left, dwell_exceeded, crowded, fall, lying), or all")
                    .default_value(Some("all"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-clips")
                    .blurb("Most clips kept in the folder (the oldest go); 0 = no limit")
                    .default_value(d.max_clips)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("max-bytes")
                    .blurb("Most bytes of clips kept in the folder (the oldest go; the newest stays); 0 = no limit")
                    .default_value(d.max_bytes)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .blurb("written, deleted, failed (clips)")
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let d = Settings::default();
        match pspec.name() {
            "location" => {
                s.location = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            }
            "pre-roll" => s.pre_roll = value.get().unwrap_or(d.pre_roll),
            "post-roll" => s.post_roll = value.get().unwrap_or(d.post_roll),
            "events" => s.events = crate::elements::string_or(value, &d.events),
            "max-clips" => s.max_clips = value.get().unwrap_or(d.max_clips),
            "max-bytes" => s.max_bytes = value.get().unwrap_or(d.max_bytes),
            other => unreachable!("GObject only sets this class's properties, not {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "location" => s
                .location
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            "pre-roll" => s.pre_roll.to_value(),
            "post-roll" => s.post_roll.to_value(),
            "events" => s.events.to_value(),
            "max-clips" => s.max_clips.to_value(),
            "max-bytes" => s.max_bytes.to_value(),
            "stats" => {
                let st = lock(&self.state);
                gst::Structure::builder("sapiens-clips-stats")
                    .field("written", st.written)
                    .field("deleted", st.deleted)
                    .field("failed", st.failed)
                    .build()
                    .to_value()
            }
            other => unreachable!("GObject only reads this class's properties, not {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // A recorder of what comes, not a player: never wait for the clock.
        self.obj().set_sync(false);
    }
}

impl GstObjectImpl for SapiensClips {}

impl ElementImpl for SapiensClips {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens event clips",
            "Sink/Video",
            "Writes an MP4 clip of the encoded video around each analytics event (pre-roll back to \
             a key frame, post-roll after the last event), with a JSON-lines sidecar of every \
             frame's results; no re-encoding"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("video/x-h264")
                .field("stream-format", gst::List::new(["avc", "byte-stream"]))
                .field("alignment", "au")
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("a valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

/// The event types of a comma-separated list (`all`: every type).
fn triggers(list: &str) -> Result<Vec<EventKind>, String> {
    if list.trim() == "all" {
        return Ok(EventKind::ALL.to_vec());
    }
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            EventKind::parse(s).ok_or_else(|| {
                format!(
                    "events: unknown event type '{s}' (known: {}, or all)",
                    EventKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
        })
        .collect()
}

/// The number of a `clip-NNNN.mp4` file name.
fn clip_number(name: &str) -> Option<u32> {
    name.strip_prefix("clip-")?
        .strip_suffix(".mp4")?
        .parse()
        .ok()
}

/// The clips in `dir`, oldest (lowest number) first, with their sizes.
fn clips_in(dir: &Path) -> Vec<(u32, u64)> {
    let mut v: Vec<(u32, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let n = clip_number(&e.file_name().to_string_lossy())?;
            Some((n, e.metadata().ok()?.len()))
        })
        .collect();
    v.sort_unstable();
    v
}

impl SapiensClips {
    /// Finishes the open clip: index line, bus message, retention.
    fn close(&self, state: &mut State) {
        let Some(w) = state.writer.take() else {
            return;
        };
        match w.close() {
            Ok(info) => {
                state.written += 1;
                self.announce(state, &info);
                self.retain(state);
            }
            Err(e) => {
                state.failed += 1;
                gst::element_imp_warning!(self, gst::ResourceError::Write, ("{}", e));
            }
        }
    }

    fn announce(&self, state: &State, info: &ClipInfo) {
        gst::info!(CAT, imp = self, "clip {info:?}");
        let index = state.dir.join("clips.jsonl");
        let line = serde_json::to_string(info).unwrap_or_default();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Write,
                ("clip index {}: {}", index.display(), e)
            );
        }
        let _ = self.obj().post_message(
            gst::message::Element::builder(
                gst::Structure::builder(super::CLIP_MESSAGE)
                    .field(
                        "location",
                        state.dir.join(&info.clip).to_string_lossy().as_ref(),
                    )
                    .field("start-pts-s", info.start_pts_s)
                    .field("end-pts-s", info.end_pts_s)
                    .field("frames", info.frames)
                    .field("events", info.events.join(","))
                    .field("triggers", info.triggers.join(","))
                    .build(),
            )
            .src(&*self.obj())
            .build(),
        );
    }

    /// Deletes the oldest clips past `max-clips` / `max-bytes` (never the newest).
    fn retain(&self, state: &mut State) {
        let (max_clips, max_bytes) = {
            let s = lock(&self.settings);
            (s.max_clips as usize, s.max_bytes)
        };
        let mut clips = clips_in(&state.dir);
        let over = |c: &[(u32, u64)]| {
            (max_clips > 0 && c.len() > max_clips)
                || (max_bytes > 0 && c.iter().map(|x| x.1).sum::<u64>() > max_bytes)
        };
        while clips.len() > 1 && over(&clips) {
            let (n, _) = clips.remove(0);
            for ext in ["mp4", "jsonl"] {
                let _ = std::fs::remove_file(state.dir.join(format!("clip-{n:04}.{ext}")));
            }
            state.deleted += 1;
        }
    }

    /// The stream time of a frame (the encoder's timestamps carry an offset of their own).
    fn stream_time(&self, b: &gst::BufferRef) -> Option<gst::ClockTime> {
        let segment = self.obj().segment();
        let segment = segment.downcast_ref::<gst::ClockTime>()?;
        segment.to_stream_time(b.pts()?)
    }

    fn run(&self, state: &mut State, actions: Vec<Action<gst::Buffer>>) -> Result<(), String> {
        for a in actions {
            match a {
                Action::Start(frames) => {
                    let caps = state.caps.clone().ok_or("a frame before caps")?;
                    let seq = state.next_seq;
                    state.next_seq += 1;
                    let first = frames.first().ok_or("a clip of no frames")?;
                    let mut w =
                        Writer::open(&state.dir, seq, &caps, first).map_err(|e| e.to_string())?;
                    for f in &frames {
                        w.write(f, self.stream_time(f), &state.triggers)
                            .map_err(|e| e.to_string())?;
                    }
                    state.writer = Some(w);
                }
                Action::Write(f) => {
                    let t = self.stream_time(&f);
                    if let Some(w) = state.writer.as_mut() {
                        w.write(&f, t, &state.triggers).map_err(|e| e.to_string())?;
                    }
                }
                Action::Close => self.close(state),
            }
        }
        Ok(())
    }
}

impl BaseSinkImpl for SapiensClips {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let Some(dir) = s.location else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("sapiensclips needs location=FOLDER")
            ));
        };
        let triggers = triggers(&s.events)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenWrite,
                ("clips folder {}: {}", dir.display(), e)
            )
        })?;
        let next_seq = clips_in(&dir).last().map_or(1, |(n, _)| n + 1);
        let ns = |s: f64| (s * 1e9) as u64;
        *lock(&self.state) = State {
            planner: Some(Planner::new(ns(s.pre_roll), ns(s.post_roll))),
            triggers,
            dir,
            next_seq,
            ..State::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = lock(&self.state);
        self.close(&mut state);
        state.planner = None;
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        lock(&self.state).caps = Some(caps.clone());
        Ok(())
    }

    fn event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            // Finish the open clip before the pipeline's EOS is reported.
            let mut state = lock(&self.state);
            self.close(&mut state);
        }
        self.parent_event(event)
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut state = lock(&self.state);
        let Some(pts) = buffer.pts() else {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("sapiensclips needs timestamped frames; this one has none")
            );
            return Err(gst::FlowError::Error);
        };
        let event = match crate::meta::analytics::from_buffer(buffer) {
            Ok(Some(a)) => a.events.iter().any(|e| state.triggers.contains(&e.kind)),
            Ok(None) => false,
            Err(e) => {
                gst::element_imp_error!(self, gst::StreamError::Decode, ("{}", e));
                return Err(gst::FlowError::Error);
            }
        };
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let Some(planner) = state.planner.as_mut() else {
            return Err(gst::FlowError::Flushing);
        };
        let actions = planner.push(pts.nseconds(), key, buffer.clone(), event);
        if let Err(e) = self.run(&mut state, actions) {
            // A clip that cannot be written is lost (counted, warned); the stream goes on.
            state.failed += 1;
            state.writer = None;
            gst::element_imp_warning!(self, gst::ResourceError::Write, ("{}", e));
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
