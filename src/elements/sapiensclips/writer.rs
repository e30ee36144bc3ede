//! One clip being written: its own small pipeline (`appsrc ! h264parse ! mp4mux` in fragments
//! ! `filesink`, no re-encoding) and its JSON-lines sidecar.
use std::io::Write;
use std::path::{Path, PathBuf};

use gst::prelude::*;

use crate::error::{Error, Result};

/// How long closing a clip may take, s.
const CLOSE_TIMEOUT_S: u64 = 30;

/// A finished clip.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClipInfo {
    pub clip: String,
    pub sidecar: String,
    /// Stream time of its first and last frame, s.
    pub start_pts_s: f64,
    pub end_pts_s: f64,
    pub frames: u64,
    /// Event types on its frames, each once, in order of appearance.
    pub events: Vec<String>,
    /// Those of them that made or extended the clip (the element's `events`).
    pub triggers: Vec<String>,
    pub bytes: u64,
}

pub struct Writer {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    path: PathBuf,
    sidecar_path: PathBuf,
    sidecar: std::io::BufWriter<std::fs::File>,
    /// Subtracted from every time so the clip starts at 0, ns.
    offset: gst::ClockTime,
    first_pts: Option<gst::ClockTime>,
    last_pts: Option<gst::ClockTime>,
    frames: u64,
    events: Vec<String>,
    triggers: Vec<String>,
    size: (u32, u32),
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("clip {}: {e}", path.display()))
}

impl Writer {
    /// Starts `clip-{seq:04}.mp4` in `dir` for encoded video of `caps`, frame times from
    /// `first` (its DTS, else PTS) on.
    pub fn open(dir: &Path, seq: u32, caps: &gst::Caps, first: &gst::BufferRef) -> Result<Self> {
        let path = dir.join(format!("clip-{seq:04}.mp4"));
        let sidecar_path = dir.join(format!("clip-{seq:04}.jsonl"));
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src format=time ! h264parse ! mp4mux fragment-duration=1000 ! \
             filesink buffer-mode=unbuffered location=\"{}\"",
            path.display()
        ))
        .map_err(|e| io(&path, e))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| io(&path, "not a pipeline"))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| io(&path, "no appsrc"))?;
        src.set_caps(Some(caps));
        src.set_property("max-bytes", 0u64);
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| io(&path, format!("cannot start its writer: {e}")))?;
        let s = caps.structure(0);
        let dim = |f: &str| s.and_then(|s| s.get::<i32>(f).ok()).unwrap_or(0).max(0) as u32;
        let offset = first.dts().or(first.pts()).unwrap_or(gst::ClockTime::ZERO);
        Ok(Self {
            sidecar: std::io::BufWriter::new(
                std::fs::File::create(&sidecar_path).map_err(|e| io(&sidecar_path, e))?,
            ),
            pipeline,
            src,
            path,
            sidecar_path,
            offset,
            first_pts: None,
            last_pts: None,
            frames: 0,
            events: Vec::new(),
            triggers: Vec::new(),
            size: (dim("width"), dim("height")),
        })
    }

    /// Appends one encoded frame (times moved to the clip's) and its results line; `stream_pts`
    /// is its stream time (the encoder's own timeline may be offset), `triggers` the event types
    /// that make clips.
    pub fn write(
        &mut self,
        buffer: &gst::Buffer,
        stream_pts: Option<gst::ClockTime>,
        triggers: &[crate::analytics::EventKind],
    ) -> Result<()> {
        let mut record =
            crate::export::record::record(buffer, self.frames, self.size.0, self.size.1)?;
        record.pts_s = stream_pts.map(|t| t.nseconds() as f64 / 1e9);
        let mut b = buffer.copy();
        {
            let b = b.get_mut().expect("a fresh copy is writable");
            let shift = |t: Option<gst::ClockTime>| t.map(|t| t.saturating_sub(self.offset));
            b.set_pts(shift(buffer.pts()));
            b.set_dts(shift(buffer.dts()));
        }
        let clip_pts = b.pts();
        self.src
            .push_buffer(b)
            .map_err(|e| io(&self.path, format!("its writer took no more frames: {e:?}")))?;
        self.first_pts = self.first_pts.or(stream_pts);
        self.last_pts = stream_pts.or(self.last_pts);
        self.frames += 1;
        if let Some(a) = &record.analytics {
            for e in &a.events {
                let kind = e.kind.as_str().to_string();
                if triggers.contains(&e.kind) && !self.triggers.contains(&kind) {
                    self.triggers.push(kind.clone());
                }
                if !self.events.contains(&kind) {
                    self.events.push(kind);
                }
            }
        }
        record.frame = self.frames - 1;
        let mut line = serde_json::to_value(&record).map_err(|e| io(&self.sidecar_path, e))?;
        line["clip_pts_s"] = clip_pts.map(|t| t.nseconds() as f64 / 1e9).into();
        writeln!(self.sidecar, "{line}")
            .and_then(|_| self.sidecar.flush())
            .map_err(|e| io(&self.sidecar_path, e))
    }

    /// Finishes the clip: its index and the sidecar written out.
    pub fn close(mut self) -> Result<ClipInfo> {
        let _ = self.src.end_of_stream();
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(CLOSE_TIMEOUT_S),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let _ = self.pipeline.set_state(gst::State::Null);
        self.sidecar
            .flush()
            .map_err(|e| io(&self.sidecar_path, e))?;
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => {}
            Some(gst::MessageView::Error(e)) => return Err(io(&self.path, e.error())),
            _ => {
                return Err(io(
                    &self.path,
                    format!("did not finish in {CLOSE_TIMEOUT_S} s"),
                ));
            }
        }
        let name = |p: &Path| {
            p.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        };
        let secs = |t: Option<gst::ClockTime>| t.map_or(0.0, |t| t.nseconds() as f64 / 1e9);
        Ok(ClipInfo {
            clip: name(&self.path),
            sidecar: name(&self.sidecar_path),
            start_pts_s: secs(self.first_pts),
            end_pts_s: secs(self.last_pts),
            frames: self.frames,
            events: std::mem::take(&mut self.events),
            triggers: std::mem::take(&mut self.triggers),
            bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
        })
    }
}
