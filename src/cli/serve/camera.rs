//! One camera of `sapiens serve`: its own pipeline (the one `sapiens run` builds, heads sharing
//! sessions with the other cameras), watched by a thread of its own that restarts it after an
//! error (with backoff) and drains it on removal, so that one camera's fault or removal never
//! touches another's.
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::super::run::{self, FINALIZE_TIMEOUT};
use super::fleet::CameraSpec;
use super::lock;
use crate::config::Config;
use crate::elements::sapienscamsrc::CameraStats;
use crate::meta::pose::PoseResult;
use crate::pipelining::ExecutorStats;

/// What a camera is doing, as the API and the metrics say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Its pipeline is built; no frame has come through yet.
    Starting,
    /// Frames come through.
    Running,
    /// An RTSP camera lost: no-signal frames while it is reconnected.
    Reconnecting,
    /// Its pipeline failed; restarted after a backoff.
    Failed,
    /// A file input reached its end (the recording is finalized).
    Ended,
    /// Being removed or the service stops: draining.
    Stopping,
    /// Removed.
    Stopped,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Starting,
        State::Running,
        State::Reconnecting,
        State::Failed,
        State::Ended,
        State::Stopping,
        State::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Reconnecting => "reconnecting",
            State::Failed => "failed",
            State::Ended => "ended",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }
}

/// Longest wait before restarting a failed pipeline; the wait doubles from 1 s up to it.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Frame counts kept for the live rates: one a second.
const RATE_WINDOW: usize = 6;

/// Counters the pipeline's pad probes keep.
#[derive(Default)]
struct Counters {
    /// Frames decoded into the pipeline.
    frames_in: AtomicU64,
    /// Frames out of the last inference element.
    frames_out: AtomicU64,
    /// Frames that reached the recording's encoder.
    recorded: AtomicU64,
    /// Persons in the last frame out of the heads.
    persons: AtomicU64,
}

/// The camera's current pipeline and what is known of the ones before.
struct Inner {
    state: State,
    pipeline: Option<gst::Pipeline>,
    counters: Arc<Counters>,
    /// The recording the current pipeline writes.
    recording: Option<PathBuf>,
    /// Recordings finished by earlier pipelines of this camera (after a restart).
    earlier_recordings: Vec<PathBuf>,
    /// The last error, in words.
    error: Option<String>,
    /// Pipelines restarted after an error.
    restarts: u64,
    /// (when, frames in, frames out), one a second.
    rates: VecDeque<(Instant, u64, u64)>,
    /// Stats of the inference elements, read at the pipeline's end (the last word of a stopped
    /// camera).
    last_heads: Vec<HeadInfo>,
}

/// An inference element's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeadInfo {
    /// Its name in the pipeline: `detector`, `head0`, `head1`, ...
    pub name: String,
    /// Its element factory: `sapienspose`, `sapiensdetect`, ...
    pub element: String,
    /// The execution provider its session runs on (empty: no ONNX model).
    pub provider: String,
    /// Its session's process-unique id: equal ids are one session shared (0: none).
    pub session_id: u64,
    /// It infers every `interval`-th frame, under `policy` (both change while it plays).
    pub interval: u32,
    pub policy: String,
    pub stats: ExecutorStats,
}

/// A camera's figures for the API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraInfo {
    pub id: String,
    pub state: State,
    /// The input, a password in it masked.
    pub input: String,
    pub error: Option<String>,
    pub restarts: u64,
    pub uptime_s: f64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames per second in and out over the last few seconds.
    pub fps_in: f64,
    pub fps_out: f64,
    pub persons: u64,
    /// People watching its live view now.
    pub viewers: usize,
    pub recording: Option<Recording>,
    pub earlier_recordings: Vec<PathBuf>,
    /// The RTSP camera's own figures (outages, reconnections); `None` for other inputs.
    pub camera: Option<CameraStats>,
    pub heads: Vec<HeadInfo>,
    /// The camera's own keys, as given (the input's password masked).
    pub settings: serde_json::Value,
    /// Analytics events (`analytics` key) since the camera started, by type and rule.
    pub events: Vec<EventCount>,
    /// The latest analytics events, oldest first (at most 50).
    pub recent_events: Vec<crate::analytics::Event>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Recording {
    pub path: PathBuf,
    pub bytes: u64,
}

/// How a camera's removal ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StopReport {
    pub id: String,
    /// The recordings it wrote, each finalized (playable to its end).
    pub recordings: Vec<PathBuf>,
    pub frames_recorded: u64,
    /// Why the drain did not end cleanly, if it did not.
    pub error: Option<String>,
}

/// Keys a running camera takes without a restart (set on its elements while they play).
pub const LIVE_KEYS: [&str; 3] = ["interval", "policy", "detect_interval"];

pub struct Camera {
    pub id: String,
    /// Its settings now, and the model configs they load.
    spec: Mutex<(CameraSpec, Vec<Config>)>,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    /// Drain the pipeline and build it again from the (new) settings.
    restart: AtomicBool,
    live: Arc<super::live::Live>,
    thread: Mutex<Option<JoinHandle<StopReport>>>,
    started: Instant,
    /// Analytics events of all its pipelines (`--analytics`).
    events: Mutex<EventLog>,
}

/// Recent analytics events kept for the API.
const RECENT_EVENTS: usize = 50;

/// A camera's analytics events: counts by (type, rule) since it started, and the latest ones.
#[derive(Debug, Default)]
struct EventLog {
    counts: std::collections::BTreeMap<(String, String), u64>,
    recent: VecDeque<crate::analytics::Event>,
}

/// How many events of one type one rule gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventCount {
    #[serde(rename = "type")]
    pub kind: String,
    pub rule: String,
    pub count: u64,
}

impl Camera {
    /// Checks what can be checked before anything runs (configs, input, the launch line) and
    /// makes the folders of its recording and JSON lines.
    /// `make_dirs` false (`--check`): the folders are left to the start.
    pub fn check(spec: &CameraSpec, make_dirs: bool) -> Result<Vec<Config>, String> {
        let at = |e: crate::Error| format!("camera {}: {e}", spec.id);
        let configs = spec
            .args
            .config
            .iter()
            .map(Config::load)
            .collect::<crate::Result<Vec<_>>>()
            .map_err(at)?;
        run::check_input(&spec.args.input).map_err(at)?;
        // A service makes the folders its cameras write into.
        let json = spec.args.json.as_deref().map(Path::new);
        for (key, file) in [("output", spec.args.output.as_deref()), ("json", json)] {
            let Some(dir) = file
                .and_then(Path::parent)
                .filter(|d| make_dirs && !d.as_os_str().is_empty())
            else {
                continue;
            };
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "camera {}: key {key}: cannot make folder {}: {e}",
                    spec.id,
                    dir.display()
                )
            })?;
        }
        run::launch_line(&spec.args, &configs, None).map_err(at)?;
        Ok(configs)
    }

    /// Starts the camera (its pipeline on a thread of its own).
    pub fn start(spec: CameraSpec) -> Result<Arc<Camera>, String> {
        let configs = Self::check(&spec, true)?;
        let camera = Arc::new(Camera {
            id: spec.id.clone(),
            spec: Mutex::new((spec, configs)),
            restart: AtomicBool::new(false),
            live: Arc::default(),
            inner: Arc::new(Mutex::new(Inner {
                state: State::Starting,
                pipeline: None,
                counters: Arc::default(),
                recording: None,
                earlier_recordings: Vec::new(),
                error: None,
                restarts: 0,
                rates: VecDeque::new(),
                last_heads: Vec::new(),
            })),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
            started: Instant::now(),
            events: Mutex::default(),
        });
        let c = camera.clone();
        let thread = std::thread::Builder::new()
            .name(format!("camera-{}", camera.id))
            .spawn(move || c.supervise())
            .map_err(|e| format!("camera {}: cannot start its thread: {e}", camera.id))?;
        *lock(&camera.thread) = Some(thread);
        Ok(camera)
    }

    /// A viewer of the camera's live view (pictures while it lives).
    pub fn watch_live(&self) -> super::live::Viewer {
        let inner = self.inner.clone();
        self.live
            .watch(Arc::new(move || lock(&inner).pipeline.clone()))
    }

    /// The camera's settings now.
    pub fn spec(&self) -> CameraSpec {
        lock(&self.spec).0.clone()
    }

    /// Takes `new` settings that differ from the current ones in [`LIVE_KEYS`] only: set on
    /// the playing elements (the heads' and the detector's `policy`, the heads' `interval`, the
    /// detector's `interval` from `detect_interval`).
    pub fn update_live(&self, new: CameraSpec) {
        if let Some(p) = &lock(&self.inner).pipeline {
            let a = &new.args;
            for i in 0..16 {
                if let Some(h) = p.by_name(&format!("head{i}")) {
                    h.set_property("interval", a.interval);
                    h.set_property("policy", a.policy);
                }
            }
            if let Some(d) = p.by_name("detector") {
                d.set_property("interval", a.detect_interval);
                d.set_property("policy", a.policy);
            }
        }
        lock(&self.spec).0 = new;
    }

    /// Drains the current pipeline (its recording finalized) and builds one from `new`
    /// settings (checked first; recording into the next numbered file).
    pub fn restart_with(&self, new: CameraSpec) -> Result<(), String> {
        let configs = Self::check(&new, true)?;
        *lock(&self.spec) = (new, configs);
        self.restart.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Drains the camera (EOS through its pipeline, the recording finalized; past its
    /// `stop_timeout`, EOS straight into the encoder) and waits for its thread.
    pub fn stop(&self) -> StopReport {
        self.stop.store(true, Ordering::SeqCst);
        let handle = lock(&self.thread).take();
        match handle.map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(_)) => StopReport {
                id: self.id.clone(),
                recordings: Vec::new(),
                frames_recorded: 0,
                error: Some("its thread panicked".into()),
            },
            None => StopReport {
                id: self.id.clone(),
                recordings: Vec::new(),
                frames_recorded: 0,
                error: Some("already stopped".into()),
            },
        }
    }

    /// The camera's state now.
    pub fn state(&self) -> State {
        let inner = lock(&self.inner);
        live_state(&inner, self.camera_stats(&inner).as_ref())
    }

    fn camera_stats(&self, inner: &Inner) -> Option<CameraStats> {
        inner
            .pipeline
            .as_ref()
            .and_then(|p| p.by_name("camera"))
            .and_then(|c| run::camera_stats(&c))
    }

    /// The camera's figures now.
    pub fn info(&self) -> CameraInfo {
        let inner = lock(&self.inner);
        let camera = self.camera_stats(&inner);
        let heads = match &inner.pipeline {
            Some(p) => heads_of(p),
            None => inner.last_heads.clone(),
        };
        let c = &inner.counters;
        let (fps_in, fps_out) = rates(&inner.rates);
        let spec = self.spec();
        let log = lock(&self.events);
        let mut settings = serde_json::to_value(&spec.table).unwrap_or_default();
        if let Some(input) = settings.get_mut("input")
            && let Some(s) = input.as_str()
        {
            *input = crate::elements::sapienscamsrc::redacted(s).into();
        }
        CameraInfo {
            id: self.id.clone(),
            state: live_state(&inner, camera.as_ref()),
            input: crate::elements::sapienscamsrc::redacted(&spec.args.input),
            error: inner.error.clone(),
            restarts: inner.restarts,
            uptime_s: self.started.elapsed().as_secs_f64(),
            frames_in: c.frames_in.load(Ordering::Relaxed),
            frames_out: c.frames_out.load(Ordering::Relaxed),
            fps_in,
            fps_out,
            persons: c.persons.load(Ordering::Relaxed),
            viewers: self.live.viewers(),
            recording: inner.recording.as_ref().map(|p| Recording {
                path: p.clone(),
                bytes: std::fs::metadata(p).map_or(0, |m| m.len()),
            }),
            earlier_recordings: inner.earlier_recordings.clone(),
            camera,
            heads,
            settings,
            events: log
                .counts
                .iter()
                .map(|((kind, rule), &count)| EventCount {
                    kind: kind.clone(),
                    rule: rule.clone(),
                    count,
                })
                .collect(),
            recent_events: log.recent.iter().cloned().collect(),
        }
    }

    /// The thread's body: pipelines, one after the other, until stopped or ended.
    fn supervise(&self) -> StopReport {
        let id = &self.id;
        let mut backoff = Duration::from_secs(1);
        let mut recordings = Vec::new();
        let mut frames_recorded = 0;
        let mut error = None;
        for attempt in 0u64.. {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let output = self.spec().args.output.map(|o| numbered(&o, attempt));
            self.restart.store(false, Ordering::SeqCst);
            let outcome = self.play_once(output.as_deref());
            release_freed_memory();
            let counters = lock(&self.inner).counters.clone();
            let recorded = counters.recorded.load(Ordering::Relaxed);
            frames_recorded += recorded;
            if let Some(out) = &output {
                if recorded == 0 {
                    let _ = std::fs::remove_file(out);
                } else {
                    recordings.push(out.clone());
                }
            }
            let mut inner = lock(&self.inner);
            if let Some(out) = inner.recording.take()
                && recorded > 0
            {
                inner.earlier_recordings.push(out);
            }
            match outcome {
                Outcome::Ended => {
                    tracing::info!("camera {id}: its input ended");
                    inner.state = State::Ended;
                    return StopReport {
                        id: id.clone(),
                        recordings,
                        frames_recorded,
                        error: None,
                    };
                }
                Outcome::Stopped(e) => {
                    error = e;
                    break;
                }
                Outcome::Restart => {
                    tracing::info!("camera {id}: restarting with new settings");
                    inner.state = State::Starting;
                    continue;
                }
                Outcome::Failed(e) => {
                    eprintln!(
                        "camera {id}: {e}; restarting in {:.0} s",
                        backoff.as_secs_f64()
                    );
                    inner.state = State::Failed;
                    inner.error = Some(e);
                    inner.restarts += 1;
                }
            }
            drop(inner);
            let until = Instant::now() + backoff;
            while Instant::now() < until
                && !self.stop.load(Ordering::SeqCst)
                && !self.restart.load(Ordering::SeqCst)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        lock(&self.inner).state = State::Stopped;
        StopReport {
            id: id.clone(),
            recordings,
            frames_recorded,
            error,
        }
    }

    /// Builds, plays and tears down one pipeline writing `output`.
    fn play_once(&self, output: Option<&Path>) -> Outcome {
        let (spec, configs) = lock(&self.spec).clone();
        let mut args = spec.args;
        args.output = output.map(Path::to_path_buf);
        let probed = (!run::is_live(&args.input))
            .then(|| super::super::input::probe(&args.input))
            .flatten();
        let line = match run::launch_line(&args, &configs, probed.as_ref()) {
            Ok(l) => l,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let pipeline = match gst::parse::launch(&line)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                p.downcast::<gst::Pipeline>()
                    .map_err(|_| "not a pipeline".to_string())
            }) {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(format!("cannot build the pipeline: {e}")),
        };
        pipeline.set_property("name", format!("camera-{}", self.id));
        let counters = Arc::new(Counters::default());
        count_frames(&pipeline, &counters);
        {
            let mut inner = lock(&self.inner);
            inner.counters = counters.clone();
            inner.recording = args.output.clone();
            inner.pipeline = Some(pipeline.clone());
            inner.state = State::Starting;
            inner.rates.clear();
        }
        let outcome = self.watch(&pipeline, &counters, args.stop_timeout);
        let heads = heads_of(&pipeline);
        let _ = pipeline.set_state(gst::State::Null);
        let mut inner = lock(&self.inner);
        inner.pipeline = None;
        inner.last_heads = heads;
        outcome
    }

    /// Plays `pipeline` until its end, an error, or a stop (drained within `stop_timeout` s).
    fn watch(&self, pipeline: &gst::Pipeline, counters: &Counters, stop_timeout: f64) -> Outcome {
        let bus = pipeline.bus().expect("pipelines have a bus");
        if pipeline.set_state(gst::State::Playing).is_err() {
            let why = bus
                .pop_filtered(&[gst::MessageType::Error])
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(run::error_of(e).to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "the pipeline cannot start".into());
            return Outcome::Failed(why);
        }
        let stop_timeout = Duration::from_secs_f64(stop_timeout);
        let mut eos_sent: Option<Instant> = None;
        let mut fast_since: Option<Instant> = None;
        let mut error: Option<String> = None;
        let mut next_rate = Instant::now();
        loop {
            let restart = self.restart.load(Ordering::SeqCst);
            let stopping = self.stop.load(Ordering::SeqCst);
            if (restart || stopping) && eos_sent.is_none() {
                if stopping {
                    lock(&self.inner).state = State::Stopping;
                }
                pipeline.send_event(gst::event::Eos::new());
                eos_sent = Some(Instant::now());
            }
            let overdue = eos_sent.is_some_and(|t| t.elapsed() > stop_timeout);
            if fast_since.is_none() && (overdue || error.is_some()) {
                fast_since = Some(Instant::now());
                if counters.recorded.load(Ordering::Relaxed) == 0
                    || !run::finish_recording(pipeline)
                {
                    return self.ended_by(error, eos_sent.is_some());
                }
            }
            if fast_since.is_some_and(|t| t.elapsed() > FINALIZE_TIMEOUT) {
                let late = "the recording did not finalize in time".to_string();
                let restarting =
                    !self.stop.load(Ordering::SeqCst) && self.restart.swap(false, Ordering::SeqCst);
                return match error {
                    Some(e) => Outcome::Failed(format!("{e} ({late})")),
                    None if restarting => {
                        eprintln!(
                            "camera {}: {late}; restarting with the new settings",
                            self.id
                        );
                        Outcome::Restart
                    }
                    None => Outcome::Stopped(Some(late)),
                };
            }
            if Instant::now() >= next_rate {
                let mut inner = lock(&self.inner);
                if inner.rates.len() == RATE_WINDOW {
                    inner.rates.pop_front();
                }
                inner.rates.push_back((
                    Instant::now(),
                    counters.frames_in.load(Ordering::Relaxed),
                    counters.frames_out.load(Ordering::Relaxed),
                ));
                next_rate += Duration::from_secs(1);
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => return self.ended_by(error, eos_sent.is_some()),
                gst::MessageView::Error(e) => {
                    let err = run::error_of(e).to_string();
                    // Finalize a recording before reporting the error (once).
                    if counters.recorded.load(Ordering::Relaxed) > 0
                        && fast_since.is_none()
                        && error.is_none()
                    {
                        error = Some(err);
                        continue;
                    }
                    return Outcome::Failed(error.unwrap_or(err));
                }
                gst::MessageView::Warning(w) => {
                    tracing::warn!("camera {}: {}", self.id, w.error());
                }
                gst::MessageView::Element(m) => {
                    if let Some(s) = m.structure()
                        && s.name() == crate::elements::sapiensanalytics::EVENT_MESSAGE
                    {
                        self.log_event(s);
                    }
                }
                _ => {}
            }
        }
    }

    /// Counts an analytics event message and keeps it among the recent ones.
    fn log_event(&self, s: &gst::StructureRef) {
        match crate::meta::analytics::event_from_structure(s) {
            Ok(e) => {
                let mut log = lock(&self.events);
                *log.counts
                    .entry((e.kind.as_str().to_string(), e.rule.clone()))
                    .or_default() += 1;
                if log.recent.len() == RECENT_EVENTS {
                    log.recent.pop_front();
                }
                log.recent.push_back(e);
            }
            Err(e) => tracing::warn!("camera {}: unreadable analytics event: {e}", self.id),
        }
    }

    fn ended_by(&self, error: Option<String>, stopping: bool) -> Outcome {
        let restart = stopping
            && !self.stop.load(Ordering::SeqCst)
            && self.restart.swap(false, Ordering::SeqCst);
        match (error, stopping) {
            (Some(e), _) => Outcome::Failed(e),
            (None, true) if restart => Outcome::Restart,
            (None, true) => Outcome::Stopped(None),
            (None, false) => Outcome::Ended,
        }
    }
}

/// Gives the memory a torn-down pipeline freed back to the system (see [`limit_arenas`]).
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own heap structures, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Arenas glibc's allocator may use at most in the service (its default: 8 per core).
pub const ARENAS: i32 = 4;

/// Limits glibc's allocator to [`ARENAS`] arenas unless `MALLOC_ARENA_MAX` says otherwise; call
/// before threads start. glibc keeps freed memory in per-thread arenas, and the many threads of
/// the pipelines a service builds and tears down spread it over up to 8 per core: adding and
/// removing a camera grew the service by ~15 MiB a cycle with the default (measured, 2 cores),
/// with 4 arenas and [`release_freed_memory`] after each pipeline it stays flat (the same with 1
/// arena: memory kept, not leaked).
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt sets an allocator parameter; called before the service's threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// How one pipeline of a camera ended.
enum Outcome {
    /// Its input ended.
    Ended,
    /// Stopped on request (with what went wrong while draining, if anything).
    Stopped(Option<String>),
    /// Drained to be built again from new settings.
    Restart,
    /// An error: the camera is restarted.
    Failed(String),
}

/// The state of a camera whose pipeline state is `inner`'s, its RTSP source's stats `camera`.
fn live_state(inner: &Inner, camera: Option<&CameraStats>) -> State {
    match inner.state {
        State::Starting | State::Running => {
            if camera.is_some_and(|c| c.lost) {
                State::Reconnecting
            } else if inner.pipeline.is_some()
                && inner.counters.frames_out.load(Ordering::Relaxed) > 0
            {
                State::Running
            } else {
                State::Starting
            }
        }
        s => s,
    }
}

/// Frames per second in and out between the oldest and the newest of `rates`.
fn rates(rates: &VecDeque<(Instant, u64, u64)>) -> (f64, f64) {
    match (rates.front(), rates.back()) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            let s = (b.0 - a.0).as_secs_f64();
            ((b.1 - a.1) as f64 / s, (b.2 - a.2) as f64 / s)
        }
        _ => (0.0, 0.0),
    }
}

/// The recording of a camera's `n`-th pipeline: `output` itself first, then `NAME-n.EXT`, so a
/// restart never overwrites what an earlier pipeline recorded.
fn numbered(output: &Path, n: u64) -> PathBuf {
    if n == 0 {
        return output.to_path_buf();
    }
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    let name = match output.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    output.with_file_name(name)
}

/// The inference elements of `pipeline` (detector, head0, head1, ...) and their figures.
fn heads_of(pipeline: &gst::Pipeline) -> Vec<HeadInfo> {
    std::iter::once("detector".to_string())
        .chain((0..16).map(|i| format!("head{i}")))
        .filter_map(|name| {
            let e = pipeline.by_name(&name)?;
            Some(HeadInfo {
                element: e
                    .factory()
                    .map(|f| f.name().to_string())
                    .unwrap_or_default(),
                provider: e.property::<String>("provider"),
                session_id: e
                    .find_property("session-id")
                    .map_or(0, |_| e.property::<u64>("session-id")),
                interval: e.property::<u32>("interval"),
                policy: e
                    .property::<crate::pipelining::Policy>("policy")
                    .as_str()
                    .into(),
                stats: run::head_stats(&e).ok()?,
                name,
            })
        })
        .collect()
}

/// Probes counting frames in (after decoding), out (into the encoder or the last element),
/// recorded, and the persons of the last frame out of the heads.
fn count_frames(pipeline: &gst::Pipeline, counters: &Arc<Counters>) {
    let probe = |el: Option<gst::Element>, pad: &str, f: fn(&Counters, &gst::BufferRef)| {
        let Some(pad) = el.and_then(|e| e.static_pad(pad)) else {
            return;
        };
        let c = counters.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                f(&c, b);
            }
            gst::PadProbeReturn::Ok
        });
    };
    probe(pipeline.by_name("entry"), "sink", |c, _| {
        c.frames_in.fetch_add(1, Ordering::Relaxed);
    });
    probe(pipeline.by_name("encoder"), "sink", |c, _| {
        c.recorded.fetch_add(1, Ordering::Relaxed);
    });
    let last_head = (0..16)
        .rev()
        .find_map(|i| pipeline.by_name(&format!("head{i}")))
        .or_else(|| pipeline.by_name("detector"));
    probe(last_head, "src", |c, b| {
        c.frames_out.fetch_add(1, Ordering::Relaxed);
        let persons = match PoseResult::from_buffer(b) {
            Ok(Some(p)) => p.persons.len(),
            _ => b
                .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
                .count(),
        };
        c.persons.store(persons as u64, Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_record_beside_the_first_recording() {
        let p = Path::new("/rec/door.mp4");
        assert_eq!(numbered(p, 0), p);
        assert_eq!(numbered(p, 2), Path::new("/rec/door-2.mp4"));
        assert_eq!(numbered(Path::new("door"), 1), Path::new("door-1"));
    }

    #[test]
    fn rates_are_frames_over_the_window() {
        let t = Instant::now();
        let mut r = VecDeque::new();
        assert_eq!(rates(&r), (0.0, 0.0));
        r.push_back((t, 10, 5));
        r.push_back((t + Duration::from_secs(2), 40, 25));
        assert_eq!(rates(&r), (15.0, 10.0));
    }
}
