//! The `sapienscamsrc` bin: `fallbacksrc` → `videorate` → `videoconvert` → `videoscale` →
//! `capsfilter` (the camera's caps) → ghost `src` pad.
//!
//! Which frames are "no signal" is known from their caps: fallbacksrc's dummy source is asked
//! for [`NO_SIGNAL_SIZE`] frames, a size no camera has, so every caps event at `videoconvert`'s
//! sink says, in stream order, whether the frames after it are the camera's or stand-ins.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::{CameraStats, Transport};
use crate::elements::lock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapienscamsrc",
        gst::DebugColorFlags::empty(),
        Some("Sapiens reconnecting camera source"),
    )
});

/// Width and height of the dummy frames (black; scaled up to the camera's size on the way out).
const NO_SIGNAL_SIZE: i32 = 2;

pub const DEFAULT_STALL_TIMEOUT_MS: u32 = 5_000;
pub const DEFAULT_RETRY_DELAY_MS: u32 = 1_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_LATENCY_MS: u32 = 200;
pub const DEFAULT_MAX_BACKLOG: u32 = 8;

#[derive(Debug, Clone)]
struct Settings {
    uri: Option<String>,
    transport: Transport,
    connect_timeout_ms: u32,
    stall_timeout_ms: u32,
    retry_delay_ms: u32,
    give_up_s: u32,
    first_frame_timeout_s: u32,
    latency_ms: u32,
    max_backlog: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            uri: None,
            transport: Transport::Tcp,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
            retry_delay_ms: DEFAULT_RETRY_DELAY_MS,
            give_up_s: 0,
            first_frame_timeout_s: 0,
            latency_ms: DEFAULT_LATENCY_MS,
            max_backlog: DEFAULT_MAX_BACKLOG,
        }
    }
}

/// What the probes see of the feed; shared with the `stats` property.
#[derive(Default)]
struct Feed {
    camera_frames: AtomicU64,
    no_signal_frames: AtomicU64,
    /// Frames that left the bin (after the backlog queue).
    frames_out: AtomicU64,
    outages: AtomicU64,
    /// The frames after the last caps event are stand-ins.
    stand_ins: AtomicBool,
    /// The last frame out was a stand-in: the camera is lost.
    lost: AtomicBool,
    /// EOS was asked for: the next frame is replaced by EOS, later ones are dropped.
    eos_requested: AtomicBool,
    eos_sent: AtomicBool,
    times: Mutex<Times>,
    /// The cause of the last failed connection attempt and when it was last posted.
    failure: Mutex<Option<(String, Instant)>>,
    /// A diagnosis is running (one at a time).
    diagnosing: AtomicBool,
    /// fallbacksrc's `num-retry` already looked into.
    retries_seen: AtomicU64,
}

#[derive(Default)]
struct Times {
    /// When the element started playing (the baseline before the first camera frame).
    started: Option<Instant>,
    /// When the last camera frame arrived from the camera (before videorate).
    last_frame: Option<Instant>,
    /// When the current outage began: the last camera frame's arrival.
    lost_since: Option<Instant>,
    /// `no_signal_frames` when the current outage began.
    lost_frames_before: u64,
}

impl Feed {
    /// The counters, `queued` frames being in the backlog now.
    fn stats(&self, reconnects: u64, queued: u64) -> CameraStats {
        let times = lock(&self.times);
        let camera_frames = self.camera_frames.load(Ordering::Relaxed);
        let no_signal_frames = self.no_signal_frames.load(Ordering::Relaxed);
        let out = self.frames_out.load(Ordering::Relaxed);
        CameraStats {
            camera_frames,
            no_signal_frames,
            dropped_behind: (camera_frames + no_signal_frames).saturating_sub(out + queued),
            outages: self.outages.load(Ordering::Relaxed),
            reconnects,
            lost: self.lost.load(Ordering::Relaxed),
            since_frame_s: times.last_frame.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            last_failure: lock(&self.failure).as_ref().map(|(f, _)| f.clone()),
        }
    }
}

pub struct SapiensCamSrc {
    settings: Mutex<Settings>,
    feed: Arc<Feed>,
    fallback: gst::Element,
    rate: gst::Element,
    convert: gst::Element,
    scale: gst::Element,
    filter: gst::Element,
    /// Leaky queue: the camera is never held back by a slow pipeline (which fallbacksrc would
    /// take for a stalled camera); frames it drops are counted.
    backlog: gst::Element,
    /// The once-a-second check for `give-up-s` (while playing).
    watchdog: Mutex<Option<gst::PeriodicClockId>>,
}

/// Before the camera's first caps, nothing but stream-start leaves: the stand-ins' caps and
/// frames are dropped, their segment held back to follow the camera's caps.
#[derive(Default)]
struct Opening {
    camera_caps: Option<gst::Caps>,
    held_segment: Option<gst::Event>,
    /// One camera frame (from its caps' frame rate; 0 when unknown).
    frame: gst::ClockTime,
    /// The frames now are stand-ins (after open).
    stand_in: bool,
    /// Where the last camera frame ends (its PTS + duration).
    camera_end: Option<gst::ClockTime>,
    /// The outage's stand-ins are moved back to start where the camera's last frame ended, then
    /// catch up at twice their pace: (that end, the first stand-in's own PTS). See
    /// [`Opening::track`].
    catch_up: Option<(gst::ClockTime, Option<gst::ClockTime>)>,
}

impl Opening {
    /// After the camera's first caps: follows caps (camera or stand-ins), notes each camera
    /// frame's arrival and end, and retimes an outage's stand-ins so that the recording has no
    /// hole where the stall was being noticed (`stall-timeout-ms` without a frame before the
    /// first stand-in comes): the first starts where the camera's last frame ended, the next
    /// ones advance two frames' time per frame (videorate, after this, doubles each) until they
    /// are back on their own times. Twice the frame rate for as long as the stall lasted, never
    /// a burst the backlog would drop.
    fn track(&mut self, info: &mut gst::PadProbeInfo<'_>, feed: &Feed) {
        match &mut info.data {
            Some(gst::PadProbeData::Event(e)) => {
                if let gst::EventView::Caps(c) = e.view() {
                    let stand_in = is_no_signal(c.caps());
                    if stand_in && !self.stand_in {
                        self.catch_up = self.camera_end.map(|end| (end, None));
                    }
                    self.stand_in = stand_in;
                }
            }
            Some(gst::PadProbeData::Buffer(b)) if self.stand_in => {
                let (Some((end, first)), Some(pts)) = (self.catch_up, b.pts()) else {
                    return;
                };
                let first = first.unwrap_or(pts);
                let retimed = end + (pts.saturating_sub(first)) * 2;
                if retimed >= pts {
                    self.catch_up = None;
                } else {
                    self.catch_up = Some((end, Some(first)));
                    b.make_mut().set_pts(retimed);
                }
            }
            Some(gst::PadProbeData::Buffer(b)) => {
                lock(&feed.times).last_frame = Some(Instant::now());
                if let Some(pts) = b.pts() {
                    self.camera_end = Some(pts + b.duration().unwrap_or(self.frame));
                }
            }
            _ => {}
        }
    }
}

/// One frame at the frame rate of `caps` (0 when it has none).
fn frame_of(caps: &gst::CapsRef) -> gst::ClockTime {
    caps.structure(0)
        .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
        .filter(|f| f.numer() > 0 && f.denom() > 0)
        .map_or(gst::ClockTime::ZERO, |f| {
            gst::ClockTime::SECOND
                .mul_div_floor(f.denom() as u64, f.numer() as u64)
                .unwrap_or(gst::ClockTime::ZERO)
        })
}

/// A named child element (fallbacksrc is registered by [`ensure_fallbacksrc`] first).
fn make(factory: &str, name: &str) -> gst::Element {
    crate::elements::make_element(factory, Some(name))
}

/// Registers gst-plugins-rs's `fallbackswitch` plugin (linked into this library) in this
/// process, unless a `fallbacksrc` is already installed.
fn ensure_fallbacksrc() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        if gst::ElementFactory::find("fallbacksrc").is_none()
            && let Err(e) = gstfallbackswitch::plugin_register_static()
        {
            gst::error!(CAT, "cannot register fallbacksrc: {e}");
        }
    });
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensCamSrc {
    const NAME: &'static str = "GstSapiensCamSrc";
    type Type = super::SapiensCamSrc;
    type ParentType = gst::Bin;

    fn with_class(_klass: &Self::Class) -> Self {
        ensure_fallbacksrc();
        let fallback = make("fallbacksrc", "fallback");
        let rate = make("videorate", "rate");
        rate.set_property("skip-to-first", true);
        Self {
            settings: Mutex::new(Settings::default()),
            feed: Arc::default(),
            fallback,
            rate,
            convert: make("videoconvert", "convert"),
            scale: make("videoscale", "scale"),
            filter: make("capsfilter", "camera-caps"),
            backlog: make("queue", "backlog"),
            watchdog: Mutex::new(None),
        }
    }
}

impl ObjectImpl for SapiensCamSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let ms = |name: &str, blurb: &str, min: u32, max: u32, default: u32| {
                glib::ParamSpecUInt::builder(name)
                    .blurb(blurb)
                    .minimum(min)
                    .maximum(max)
                    .default_value(default)
                    .mutable_ready()
                    .build()
            };
            vec![
                glib::ParamSpecString::builder("uri")
                    .blurb("Camera URI (rtsp://, rtsps://; any URI uridecodebin3 reads)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("protocols", Transport::Tcp)
                    .blurb(
                        "RTP transport for RTSP cameras (auto and udp open UDP ports on every \
                         interface)",
                    )
                    .mutable_ready()
                    .build(),
                ms(
                    "connect-timeout-ms",
                    "Longest wait for the RTSP server to answer, ms (rtspsrc tcp-timeout)",
                    100,
                    600_000,
                    DEFAULT_CONNECT_TIMEOUT_MS,
                ),
                ms(
                    "stall-timeout-ms",
                    "No frame for this long = camera lost: no-signal frames, then reconnect, ms",
                    100,
                    600_000,
                    DEFAULT_STALL_TIMEOUT_MS,
                ),
                ms(
                    "retry-delay-ms",
                    "Least time a reconnection attempt gets before the next, ms (at least \
                     stall-timeout-ms: a camera's first key frame can be seconds away; after an \
                     error the next attempt is 1 s later)",
                    0,
                    600_000,
                    DEFAULT_RETRY_DELAY_MS,
                ),
                ms(
                    "give-up-s",
                    "Post an error when the camera is not back after this long, s (0 = never)",
                    0,
                    30 * 86_400,
                    0,
                ),
                ms(
                    "first-frame-timeout-s",
                    "Post an error when the camera sent no first frame after this long, s (0 = \
                     give-up-s rules)",
                    0,
                    30 * 86_400,
                    0,
                ),
                ms(
                    "latency-ms",
                    "RTSP jitter buffer, ms (rtspsrc latency)",
                    0,
                    60_000,
                    DEFAULT_LATENCY_MS,
                ),
                ms(
                    "max-backlog",
                    "Frames waiting for the pipeline at most; older ones are dropped (counted)",
                    1,
                    1000,
                    DEFAULT_MAX_BACKLOG,
                ),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .blurb(
                        "camera-frames, no-signal-frames, outages, reconnects (u64), lost (bool), \
                         since-frame-s (seconds since the last camera frame), last-failure \
                         (string, why the last connection attempt failed)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "uri" => s.uri = value.get().expect("type checked upstream"),
            "protocols" => s.transport = value.get().expect("type checked upstream"),
            "connect-timeout-ms" => {
                s.connect_timeout_ms = value.get().expect("type checked upstream")
            }
            "stall-timeout-ms" => s.stall_timeout_ms = value.get().expect("type checked upstream"),
            "retry-delay-ms" => s.retry_delay_ms = value.get().expect("type checked upstream"),
            "give-up-s" => s.give_up_s = value.get().expect("type checked upstream"),
            "first-frame-timeout-s" => {
                s.first_frame_timeout_s = value.get().expect("type checked upstream")
            }
            "latency-ms" => s.latency_ms = value.get().expect("type checked upstream"),
            "max-backlog" => s.max_backlog = value.get().expect("type checked upstream"),
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "uri" => s.uri.to_value(),
            "protocols" => s.transport.to_value(),
            "connect-timeout-ms" => s.connect_timeout_ms.to_value(),
            "stall-timeout-ms" => s.stall_timeout_ms.to_value(),
            "retry-delay-ms" => s.retry_delay_ms.to_value(),
            "give-up-s" => s.give_up_s.to_value(),
            "first-frame-timeout-s" => s.first_frame_timeout_s.to_value(),
            "latency-ms" => s.latency_ms.to_value(),
            "max-backlog" => s.max_backlog.to_value(),
            "stats" => {
                drop(s);
                let reconnects = self
                    .fallback
                    .property::<gst::Structure>("statistics")
                    .get::<u64>("num-retry")
                    .unwrap_or(0);
                let queued = self.backlog.property::<u32>("current-level-buffers") as u64;
                let st = self.feed.stats(reconnects, queued);
                gst::Structure::builder("sapienscamsrc-stats")
                    .field("camera-frames", st.camera_frames)
                    .field("no-signal-frames", st.no_signal_frames)
                    .field("outages", st.outages)
                    .field("reconnects", st.reconnects)
                    .field("dropped-behind", st.dropped_behind)
                    .field("lost", st.lost)
                    .field("since-frame-s", st.since_frame_s)
                    .field("last-failure", st.last_failure)
                    .build()
                    .to_value()
            }
            other => unreachable!("no property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_many([
            &self.fallback,
            &self.rate,
            &self.convert,
            &self.scale,
            &self.filter,
            &self.backlog,
        ])
        .expect("fresh elements join the bin");
        gst::Element::link_many([
            &self.rate,
            &self.convert,
            &self.scale,
            &self.filter,
            &self.backlog,
        ])
        .expect("raw video elements link");
        self.backlog.set_property_from_str("leaky", "downstream");
        self.backlog.set_property("max-size-bytes", 0u32);
        self.backlog.set_property("max-size-time", 0u64);
        let target = self.backlog.static_pad("src").expect("queue has src");
        let ghost = gst::GhostPad::builder_from_template_with_target(
            &obj.pad_template("src").expect("src template"),
            &target,
        )
        .expect("ghost pad on capsfilter")
        .build();
        obj.add_pad(&ghost).expect("one src pad");

        self.fallback.set_property(
            "dummy-video-caps",
            gst::Caps::builder("video/x-raw")
                .field("width", NO_SIGNAL_SIZE)
                .field("height", NO_SIGNAL_SIZE)
                .build(),
        );
        self.fallback.set_property("restart-on-eos", true);
        // Video only (fallbacksrc would add a silent audio stream to a camera without audio).
        self.fallback.set_property("enable-audio", false);
        let rate_sink = self.rate.static_pad("sink").expect("videorate has sink");
        let weak = obj.downgrade();
        self.fallback.connect_pad_added(move |_, pad| {
            let Some(bin) = weak.upgrade() else { return };
            if pad.name().starts_with("video") && !rate_sink.is_linked() {
                bin.imp().gate(pad);
                if let Err(e) = pad.link(&rate_sink) {
                    gst::error!(CAT, "linking the camera video: {e}");
                }
            } else {
                // Audio (or a second video stream) is not used: a fakesink takes it.
                let sink = make("fakesink", &format!("unused-{}", pad.name()));
                sink.set_property("sync", false);
                sink.set_property("async", false);
                let added = bin.add(&sink).is_ok();
                // A source bin: the pipeline must not wait for this sink's EOS.
                bin.unset_element_flags(gst::ElementFlags::SINK);
                let linked = added
                    && sink.sync_state_with_parent().is_ok()
                    && pad
                        .link(&sink.static_pad("sink").expect("fakesink has sink"))
                        .is_ok();
                if !linked {
                    gst::warning!(CAT, "cannot discard stream {}", pad.name());
                }
            }
        });
        self.count_frames();
        let feed = self.feed.clone();
        target.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            feed.frames_out.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        obj.connect_deep_element_added(|bin, _, element| {
            bin.imp().configure_child(element);
        });
        // fallbacksrc notifies `statistics` after each failed attempt (error, timeout, EOS).
        let weak = obj.downgrade();
        self.fallback
            .connect_notify(Some("statistics"), move |fallback, _| {
                if let Some(bin) = weak.upgrade() {
                    bin.imp().attempt_failed(fallback);
                }
            });
    }
}

impl SapiensCamSrc {
    /// Applies the settings to the `fallbacksrc` (at READY).
    fn configure_fallback(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let Some(uri) = s.uri.filter(|u| !u.is_empty()) else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("sapienscamsrc: no uri set")
            ));
        };
        if gst::Element::make_from_uri(gst::URIType::Src, &uri, None).is_err() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("sapienscamsrc: no GStreamer source reads {uri} (expected rtsp://host:port/path)")
            ));
        }
        let ns = |ms: u64| ms * 1_000_000;
        let fb = &self.fallback;
        fb.set_property("uri", &uri);
        fb.set_property("timeout", ns(s.stall_timeout_ms as u64));
        // fallbacksrc's restart timeout is also how long a (re)started source has to bring its
        // first frame while the stand-ins show: at least the stall timeout, or a camera whose key
        // frames are seconds apart is cut off before the first one (issue 27's soak: never
        // connected with a 1 s retry delay and a 2 s GOP). After an error fallbacksrc itself
        // waits 1 s before the next attempt.
        let attempt = s.retry_delay_ms.max(s.stall_timeout_ms).max(1);
        fb.set_property("restart-timeout", ns(attempt as u64));
        let give_up = if s.give_up_s == 0 {
            u64::MAX - 1
        } else {
            ns(s.give_up_s as u64 * 1000)
        };
        fb.set_property("retry-timeout", give_up);
        self.backlog.set_property("max-size-buffers", s.max_backlog);
        Ok(())
    }

    /// Settings that live on elements fallbacksrc creates (again at each reconnection).
    fn configure_child(&self, element: &gst::Element) {
        let s = lock(&self.settings).clone();
        let has = |name: &str| element.find_property(name).is_some();
        let factory = element.factory().map(|f| f.name().to_string());
        if factory.as_deref() == Some("rtspsrc") {
            element.set_property_from_str("protocols", s.transport.rtspsrc_protocols());
            element.set_property("tcp-timeout", s.connect_timeout_ms as u64 * 1000);
            element.set_property("latency", s.latency_ms);
        }
        // Resume at a key frame, never show a frame decoded from missing references.
        if has("wait-for-keyframe") {
            element.set_property("wait-for-keyframe", true);
        }
        if has("request-keyframe") {
            element.set_property("request-keyframe", true);
        }
        if has("output-corrupt") {
            element.set_property("output-corrupt", false);
        }
    }

    /// The probe on fallbacksrc's video pad (before anything reaches videorate): nothing leaves
    /// until the camera's first caps are known (they fix the output caps); EOS asked for by the
    /// application replaces the next frame.
    fn gate(&self, fallback_video: &gst::Pad) {
        let feed = self.feed.clone();
        let filter = self.filter.clone();
        let convert_sink = self.convert.static_pad("sink").expect("convert has sink");
        let rate_pad = self.rate.static_pad("sink").expect("videorate has sink");
        let opening = Mutex::new(Opening::default());
        fallback_video.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                if feed.eos_requested.load(Ordering::SeqCst) {
                    if info.buffer().is_some() {
                        // This thread is the only one pushing past videorate: EOS goes out
                        // in order, and nothing follows it.
                        if !feed.eos_sent.swap(true, Ordering::SeqCst) {
                            convert_sink.send_event(gst::event::Eos::new());
                        }
                        return consume(info);
                    }
                    return gst::PadProbeReturn::Ok;
                }
                let mut o = lock(&opening);
                if o.camera_caps.is_some() {
                    // Open: the segment held back before the camera's caps goes out first.
                    if info
                        .event()
                        .is_some_and(|e| e.type_() == gst::EventType::Segment)
                    {
                        o.held_segment = None;
                    } else if let Some(segment) = o.held_segment.take() {
                        drop(o);
                        rate_pad.send_event(segment);
                        o = lock(&opening);
                    }
                    o.track(info, &feed);
                    return gst::PadProbeReturn::Ok;
                }
                let Some(event) = info.event() else {
                    return consume(info);
                };
                match event.view() {
                    gst::EventView::Caps(c) if !is_no_signal(c.caps()) => {
                        let fixed = output_caps(c.caps());
                        gst::info!(CAT, "camera caps {}; output {fixed}", c.caps());
                        filter.set_property("caps", &fixed);
                        o.frame = frame_of(&fixed);
                        o.camera_caps = Some(fixed);
                        gst::PadProbeReturn::Ok
                    }
                    gst::EventView::Segment(_) => {
                        o.held_segment = Some(event.clone());
                        consume(info)
                    }
                    _ if event.is_sticky() && event.type_() != gst::EventType::StreamStart => {
                        consume(info)
                    }
                    _ => gst::PadProbeReturn::Ok,
                }
            },
        );
    }

    /// The probe after videorate (frames at the camera's rate): counts frames, and reports
    /// outages as the caps switch between the camera's and the stand-ins'.
    fn count_frames(&self) {
        let feed = self.feed.clone();
        let element = self.obj().downgrade();
        let convert_sink = self.convert.static_pad("sink").expect("convert has sink");
        convert_sink.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                if let Some(gst::EventView::Caps(c)) = info.event().map(|e| e.view()) {
                    feed.stand_ins
                        .store(is_no_signal(c.caps()), Ordering::SeqCst);
                } else if info.buffer().is_some() {
                    // The state changes with the first frame of the other kind: a source
                    // restarted that sends caps but no frame is still lost.
                    let lost = feed.stand_ins.load(Ordering::SeqCst);
                    if feed.lost.swap(lost, Ordering::SeqCst) != lost
                        && let Some(el) = element.upgrade()
                    {
                        el.imp().report(lost);
                    }
                    // (A camera frame's arrival is noted before videorate, which holds each
                    // frame until the next comes: see `Opening::track`.)
                    if lost {
                        feed.no_signal_frames.fetch_add(1, Ordering::Relaxed);
                    } else {
                        feed.camera_frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    /// After a failed attempt (a new `num-retry`), finds out why on a thread of its own (one at
    /// a time) and posts the cause as a warning when it differs from the last one, or a minute
    /// after it was last posted.
    fn attempt_failed(&self, fallback: &gst::Element) {
        let retries = fallback
            .property::<gst::Structure>("statistics")
            .get::<u64>("num-retry")
            .unwrap_or(0);
        let feed = &self.feed;
        if retries <= feed.retries_seen.swap(retries, Ordering::SeqCst)
            || feed.diagnosing.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let s = lock(&self.settings).clone();
        let uri = s.uri.unwrap_or_default();
        let shown = super::diagnose::redacted(&uri);
        let timeout = Duration::from_millis(s.connect_timeout_ms as u64);
        let retry_s = s.retry_delay_ms as f64 / 1000.0;
        let element = self.obj().downgrade();
        let spawned = std::thread::Builder::new()
            .name("sapiens-camera-check".into())
            .spawn(move || {
                let cause = super::diagnose::diagnose(&uri, timeout);
                let Some(el) = element.upgrade() else { return };
                let imp = el.imp();
                let post = {
                    let mut last = lock(&imp.feed.failure);
                    let post = last.as_ref().is_none_or(|(c, at)| {
                        *c != cause || at.elapsed() >= Duration::from_secs(60)
                    });
                    let at = match last.as_ref() {
                        Some((c, at)) if !post && *c == cause => *at,
                        _ => Instant::now(),
                    };
                    *last = Some((cause.clone(), at));
                    post
                };
                imp.feed.diagnosing.store(false, Ordering::SeqCst);
                if post {
                    gst::warning!(CAT, imp = imp, "camera {shown}: {cause}");
                    gst::element_imp_warning!(
                        imp,
                        gst::ResourceError::OpenRead,
                        ("camera {shown}: {cause} (attempt {retries}; retrying every {retry_s:.1} s)")
                    );
                }
            });
        if spawned.is_err() {
            self.feed.diagnosing.store(false, Ordering::SeqCst);
        }
    }

    /// With `give-up-s` (or, before the first frame, `first-frame-timeout-s`), checks once a
    /// second that the camera delivered a frame within it (or, before its first frame, since the
    /// start); posts an error naming the camera and the last failure otherwise.
    fn start_watchdog(&self) {
        let (give_up, first) = {
            let s = lock(&self.settings);
            (s.give_up_s, s.first_frame_timeout_s)
        };
        if give_up == 0 && first == 0 {
            return;
        }
        let clock = gst::SystemClock::obtain();
        let now = clock.time();
        let id = clock.new_periodic_id(now + gst::ClockTime::SECOND, gst::ClockTime::SECOND);
        let element = self.obj().downgrade();
        let posted = AtomicBool::new(false);
        let res = id.wait_async(move |_, _, _| {
            let Some(el) = element.upgrade() else { return };
            let imp = el.imp();
            let quiet = {
                let t = lock(&imp.feed.times);
                t.last_frame
                    .or(t.started)
                    .map_or(0.0, |i| i.elapsed().as_secs_f64())
            };
            let never = imp.feed.camera_frames.load(Ordering::Relaxed) == 0;
            // Before the first frame the sooner of the two limits set rules.
            let (limit, setting) = if never && first > 0 && (give_up == 0 || first < give_up) {
                (first, format!("first-frame-timeout-s={first}"))
            } else {
                (give_up, format!("give-up-s={give_up}; 0 keeps retrying"))
            };
            if limit > 0 && quiet >= limit as f64 && !posted.swap(true, Ordering::SeqCst) {
                let uri =
                    super::diagnose::redacted(&lock(&imp.settings).uri.clone().unwrap_or_default());
                let what = if never {
                    "never delivered a frame"
                } else {
                    "delivered no frame"
                };
                let cause = lock(&imp.feed.failure)
                    .as_ref()
                    .map(|(c, _)| format!("; last failure: {c}"))
                    .unwrap_or_default();
                imp.post_error_message(gst::error_msg!(
                    gst::ResourceError::Read,
                    ("camera {uri} {what} in {quiet:.0} s ({setting}){cause}")
                ));
            }
        });
        if res.is_ok() {
            *lock(&self.watchdog) = Some(id);
        }
    }

    /// Counts and posts a camera loss (`lost`) or return.
    fn report(&self, lost: bool) {
        let feed = &self.feed;
        let no_signal = feed.no_signal_frames.load(Ordering::Relaxed);
        let msg = {
            let mut times = lock(&feed.times);
            if lost {
                let outages = feed.outages.fetch_add(1, Ordering::Relaxed) + 1;
                // The outage began with the last camera frame, not when it was noticed.
                times.lost_since = times.last_frame.or(Some(Instant::now()));
                times.lost_frames_before = no_signal;
                let since = times.last_frame.map_or(0.0, |t| t.elapsed().as_secs_f64());
                gst::warning!(
                    CAT,
                    "camera lost (outage {outages}): no frame for {since:.1} s"
                );
                gst::Structure::builder("sapiens-camera-lost")
                    .field("outages", outages)
                    .field("since-frame-s", since)
                    .build()
            } else {
                let outage_s = times
                    .lost_since
                    .take()
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                let frames = no_signal - times.lost_frames_before;
                gst::info!(
                    CAT,
                    "camera back after {outage_s:.1} s ({frames} no-signal frames)"
                );
                gst::Structure::builder("sapiens-camera-back")
                    .field("outages", feed.outages.load(Ordering::Relaxed))
                    .field("outage-s", outage_s)
                    .field("no-signal-frames", frames)
                    .build()
            }
        };
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(msg).src(&*obj).build());
    }
}

/// Takes the buffer or event out of the stream (a dropped buffer counts as pushed).
fn consume(info: &mut gst::PadProbeInfo<'_>) -> gst::PadProbeReturn {
    info.data.take();
    info.flow_res = Ok(gst::FlowSuccess::Ok);
    gst::PadProbeReturn::Handled
}

/// Frames from fallbacksrc's dummy source (see [`NO_SIGNAL_SIZE`]).
fn is_no_signal(caps: &gst::CapsRef) -> bool {
    caps.structure(0).is_some_and(|s| {
        s.get::<i32>("width") == Ok(NO_SIGNAL_SIZE) && s.get::<i32>("height") == Ok(NO_SIGNAL_SIZE)
    })
}

/// The output caps for a camera's decoded caps: its format, size, frame rate and pixel aspect
/// ratio, so the stand-in frames are converted to exactly these.
fn output_caps(camera: &gst::CapsRef) -> gst::Caps {
    let mut out = gst::Caps::builder("video/x-raw").build();
    if let Some(s) = camera.structure(0) {
        let caps = out.make_mut();
        let o = caps.structure_mut(0).expect("one structure");
        for field in [
            "format",
            "width",
            "height",
            "framerate",
            "pixel-aspect-ratio",
        ] {
            if let Ok(v) = s.value(field) {
                o.set_value(field, v.clone());
            }
        }
    }
    out
}

impl GstObjectImpl for SapiensCamSrc {}

impl ElementImpl for SapiensCamSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens camera source",
            "Source/Video/Network",
            "A camera (RTSP) that reconnects: no-signal frames keep the timeline flowing \
             while it is lost; outages counted and posted"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| crate::elements::raw_video_templates(&[gst::PadDirection::Src]));
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady
            && let Err(e) = self.configure_fallback()
        {
            self.post_error_message(e);
            return Err(gst::StateChangeError);
        }
        if transition == gst::StateChange::ReadyToPaused {
            self.feed.eos_requested.store(false, Ordering::SeqCst);
            self.feed.eos_sent.store(false, Ordering::SeqCst);
            lock(&self.feed.times).started = Some(Instant::now());
            self.start_watchdog();
        }
        if transition == gst::StateChange::PausedToReady
            && let Some(id) = lock(&self.watchdog).take()
        {
            id.unschedule();
        }
        self.parent_change_state(transition)
    }

    /// EOS from the application (`gst-launch-1.0 -e`, the CLI's stop) ends the stream after the
    /// frame in flight, whatever the camera is doing.
    fn send_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos {
            self.feed.eos_requested.store(true, Ordering::SeqCst);
            return true;
        }
        self.parent_send_event(event)
    }
}

impl BinImpl for SapiensCamSrc {}
