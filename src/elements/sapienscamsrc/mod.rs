//! `sapienscamsrc` (`GstSapiensCamSrc`, a `GstBin`): a camera feed (RTSP) that survives faults,
//! for `gst-launch-1.0` users and the `sapiens` CLI alike. It wraps gst-plugins-rs's
//! `fallbacksrc`: when no frame arrives for `stall-timeout-ms` (camera frozen, network lost,
//! server restarted), the output switches to black "no signal" frames so the timeline keeps
//! flowing (recordings and RTSP clients go on), and the camera is reconnected every
//! `retry-delay-ms` until it is back (or `give-up-s` passes). The decoder restarts at a key frame
//! (depayloaders wait for one, decoders drop corrupt frames). Output caps are fixed to the
//! camera's first decoded caps (format, size, frame rate), so encoders and muxers never see a
//! caps change. Outages post `sapiens-camera-lost` / `sapiens-camera-back` element messages and
//! are counted in the read-only `stats` property.
mod diagnose;
mod imp;

use gst::glib;

pub use diagnose::redacted;

/// `protocols`: how RTP reaches us from an RTSP camera.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum, clap::ValueEnum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensCamTransport")]
pub enum Transport {
    /// rtspsrc's default: UDP first, TCP if UDP brings nothing. Opens RTP/RTCP ports on every
    /// interface (rtspsrc binds them to 0.0.0.0).
    #[enum_value(name = "UDP first, then TCP (rtspsrc's default)", nick = "auto")]
    Auto,
    /// The default: RTP interleaved in the RTSP TCP connection (through NAT and firewalls, no
    /// port opened on this machine).
    #[default]
    #[enum_value(name = "RTP over the RTSP TCP connection", nick = "tcp")]
    Tcp,
    /// RTP over UDP only (lowest latency; lost packets are lost frames; ports on every
    /// interface).
    #[enum_value(name = "RTP over UDP only", nick = "udp")]
    Udp,
}

impl Transport {
    /// The name the property and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Auto => "auto",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// rtspsrc's `protocols` flags for this choice.
    fn rtspsrc_protocols(self) -> &'static str {
        match self {
            Transport::Auto => "udp+udp-mcast+tcp",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// What a camera feed did so far (the `stats` property, the CLI's live line and summary).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CameraStats {
    /// Frames that came from the camera.
    pub camera_frames: u64,
    /// Black "no signal" frames put in their place while the camera was lost.
    pub no_signal_frames: u64,
    /// Frames dropped because the pipeline was behind the camera (the `max-backlog` queue was
    /// full): a live camera is never held back.
    pub dropped_behind: u64,
    /// Times the camera was lost (no frame for `stall-timeout-ms`, or an error) after it had
    /// delivered frames.
    pub outages: u64,
    /// Reconnection attempts (fallbacksrc's `num-retry`).
    pub reconnects: u64,
    /// The camera is lost now.
    pub lost: bool,
    /// Seconds since the last camera frame (0 before the first).
    pub since_frame_s: f64,
    /// Why the last connection attempt failed, in words (refused, not found, authentication
    /// failed, no answer, ...); `None` before any failure.
    pub last_failure: Option<String>,
}

impl CameraStats {
    /// Reads the `stats` structure of a `sapienscamsrc`.
    pub fn from_structure(s: &gst::StructureRef) -> Option<Self> {
        Some(Self {
            camera_frames: s.get("camera-frames").ok()?,
            no_signal_frames: s.get("no-signal-frames").ok()?,
            dropped_behind: s.get("dropped-behind").ok()?,
            outages: s.get("outages").ok()?,
            reconnects: s.get("reconnects").ok()?,
            lost: s.get("lost").ok()?,
            since_frame_s: s.get("since-frame-s").ok()?,
            last_failure: s.get::<Option<String>>("last-failure").ok().flatten(),
        })
    }
}

glib::wrapper! {
    pub struct SapiensCamSrc(ObjectSubclass<imp::SapiensCamSrc>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}
