//! `sapiens run`: source → decode → heads → overlay → encode → file, with live and final stats.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::config::{Config, Weights};
use crate::elements::inference::stats;
use crate::elements::sapienscamsrc::{CameraStats, Transport};
use crate::elements::sapiensoverlay::Layout;
use crate::error::{Error, Result};
use crate::pipelining::{
    DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL, DEFAULT_MAX_INFLIGHT, ExecutorStats, Policy,
};
use crate::render::anonymize::Anonymize;
use crate::runtime::ProviderChoice;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Video file, URI (rtsp://, file://, http://) or camera device (/dev/video0).
    #[arg(long, short)]
    pub input: String,
    /// Model config, one per head (see `sapiens models`).
    #[arg(long, short, required = true)]
    pub config: Vec<PathBuf>,
    /// Annotated recording: .mp4 or .mkv (H.264). Without it, results are only counted.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Stop after this many frames (the recording is finalized properly).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: Option<u64>,
    /// ONNX Runtime execution provider: auto, tensorrt, cuda or cpu.
    #[arg(long)]
    pub execution_provider: Option<ProviderChoice>,
    /// Frames inside each head at once (1 = sequential).
    #[arg(long, default_value_t = DEFAULT_MAX_INFLIGHT, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_inflight: u32,
    /// Run the heads' models on this inference server (`grpc://host:port`, Triton or any KServe
    /// v2 server), each under its config's name (`sapiens triton-repo` writes such a repository).
    #[arg(long)]
    pub triton: Option<String>,
    /// Model runs in flight at once per head (> 1 hides a server's round trip).
    #[arg(long, default_value_t = crate::pipelining::DEFAULT_REQUESTS, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub inflight_requests: u32,
    /// ONNX Runtime intra-op threads (0 = one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub intra_op_threads: Option<u32>,
    /// When a head falls behind: block (wait), drop (oldest waiting frame), skip (carry results).
    #[arg(long, value_enum, default_value_t = Policy::Block)]
    pub policy: Policy,
    /// Infer every Nth frame; the others carry the last results.
    #[arg(long, default_value_t = DEFAULT_INTERVAL, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub interval: u32,
    /// Person crops (pose) or frames (dense heads) per model run.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub batch_size: u32,
    /// Longest a batch waits to fill, ms.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub batch_timeout_ms: u32,
    /// Do not draw results (recording shows the plain video).
    #[arg(long)]
    pub no_overlay: bool,
    /// Overlay layout: `overlay` (on the frame) or `grid` (2x2: pose, seg, depth, normal).
    #[arg(long, value_enum, default_value_t = Layout::Overlay)]
    pub layout: Layout,
    /// Seconds between live stats lines (0 = none; at most a day).
    #[arg(long, default_value_t = 2.0, value_parser = seconds_between(0.0, 86_400.0))]
    pub stats_interval: f64,
    /// Person detector before the heads: `nanodet` (the trained NanoDet of
    /// configs/detector-nanodet.toml; any `detector-NAME.toml` config goes by NAME), `hog`
    /// (OpenCV's people detector, no model), `seg` (the foreground of a seg head), a detector
    /// model `.onnx` (YOLOv8/YOLO11, YOLOX, mmdeploy RTMDet or NanoDet GFL export, pre-processing
    /// of its family) or a detector config `.toml` (`[detector]`). Without one, pose takes the
    /// whole frame as one person.
    #[arg(long)]
    pub detector: Option<String>,
    /// Run the detector on every Nth frame (the tracker predicts boxes in between).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub detect_interval: u32,
    /// Track persons (stable ids, boxes predicted between detections); needs --detector.
    #[arg(long)]
    pub track: bool,
    /// Smooth each tracked person's keypoints over time (One-Euro filter); needs --track.
    #[arg(long)]
    pub smoothing: bool,
    /// Zones and counting lines (a TOML file, e.g. configs/analytics/vtest.toml) tested on each
    /// tracked person's keypoints: occupancy, crossings, dwell, events in the JSON records, on
    /// the bus and drawn; needs --track.
    #[arg(long)]
    pub analytics: Option<PathBuf>,
    /// Write an MP4 clip around each analytics event into this folder (from --clip-pre s before
    /// to --clip-post s after the last event, no re-encoding) with a JSON-lines sidecar of every
    /// frame's results; needs --analytics.
    #[arg(long)]
    pub clips: Option<PathBuf>,
    /// Seconds of video a clip keeps before its event (back to the key frame before).
    #[arg(long, default_value_t = 5.0, value_parser = seconds_between(0.0, 600.0))]
    pub clip_pre: f64,
    /// Seconds of video a clip keeps after its last event.
    #[arg(long, default_value_t = 5.0, value_parser = seconds_between(0.0, 600.0))]
    pub clip_post: f64,
    /// Event types that make clips, comma-separated (line_crossed, zone_entered, zone_left,
    /// dwell_exceeded, crowded, fall, lying), or all.
    #[arg(long, default_value = "all")]
    pub clip_events: String,
    /// Most clips kept in the --clips folder (the oldest go; 0 = no limit).
    #[arg(long, default_value_t = 100)]
    pub max_clips: u32,
    /// Hide who people are in everything written and shown: blur, pixelate or fill each person
    /// (by a seg head's mask when there is one, else by the person boxes), or blank / blur-all
    /// the whole picture under the drawing.
    #[arg(long, value_enum, default_value_t = Anonymize::None)]
    pub anonymize: Anonymize,
    /// With --anonymize: the recording (and its clips) keep the original pixels; only the live
    /// view and the RTSP re-stream are anonymized.
    #[arg(long)]
    pub record_original: bool,
    /// Also write the final stats as JSON here.
    #[arg(long)]
    pub stats_json: Option<PathBuf>,
    /// RTSP cameras: no frame for this long (s) = camera lost: no-signal frames keep the
    /// recording going while it is reconnected.
    #[arg(long, default_value_t = 5.0, value_parser = seconds_between(0.1, 600.0))]
    pub stall_timeout: f64,
    /// RTSP cameras: least time a reconnection attempt gets before the next (s; at least
    /// --stall-timeout, as a camera's first key frame can be seconds away; after an error the
    /// next attempt is 1 s later).
    #[arg(long, default_value_t = 1.0, value_parser = seconds_between(0.0, 600.0))]
    pub retry_delay: f64,
    /// RTSP cameras: longest wait for the server to answer (s).
    #[arg(long, default_value_t = 10.0, value_parser = seconds_between(0.1, 600.0))]
    pub connect_timeout: f64,
    /// RTSP cameras: end with an error when the camera is not back after this long (s;
    /// 0 = keep trying forever).
    #[arg(long, default_value_t = 0.0, value_parser = seconds_between(0.0, 2_592_000.0))]
    pub give_up: f64,
    /// RTSP cameras: end with an error when the camera has sent no first frame after this long
    /// (s; 0 = as --give-up says): a wrong URL fails in a minute, not never.
    #[arg(long, default_value_t = 60.0, value_parser = seconds_between(0.0, 2_592_000.0))]
    pub first_frame_timeout: f64,
    /// RTSP cameras: RTP transport: tcp (inside the RTSP connection, no port opened here), auto
    /// (UDP, then TCP) or udp (both open RTP/RTCP ports on every interface).
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    pub rtsp_transport: Transport,
    /// RTSP cameras: frames waiting for a pipeline slower than the camera, at most; older ones
    /// are dropped (counted) rather than holding the camera back.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub camera_backlog: u32,
    /// RTSP cameras: jitter buffer (s).
    #[arg(long, default_value_t = 0.2, value_parser = seconds_between(0.0, 60.0))]
    pub rtsp_latency: f64,
    /// Write every frame's results as JSON lines here (`-`: stdout, the run's own messages then
    /// go to stderr). Schema: README, "Results as JSON".
    #[arg(long)]
    pub json: Option<String>,
    /// Publish every frame's results as JSON to this MQTT broker and topic (QoS 1).
    #[arg(long, value_name = "HOST:PORT/TOPIC")]
    pub mqtt: Option<crate::export::mqtt::Target>,
    /// Re-stream the annotated video over RTSP at ADDRESS:PORT/PATH (several clients at once).
    #[arg(long, value_name = "ADDRESS:PORT/PATH")]
    pub rtsp_serve: Option<super::restream::ServeTarget>,
    /// With --rtsp-serve: a file holding USER:PASSWORD (mode 600) that clients must give
    /// (digest authentication).
    #[arg(long, requires = "rtsp_serve")]
    pub rtsp_serve_credentials: Option<PathBuf>,
    /// A run killed outright (`kill -9`, power loss) leaves an MP4 playable up to at most this
    /// many seconds before: live inputs write a fragment this often, files rewrite the index
    /// (kept in space reserved at the start of the file) this often (0 = one index written at
    /// the end: a killed run leaves no playable MP4).
    #[arg(long, default_value_t = 1.0, value_parser = seconds_between(0.0, 3600.0))]
    pub fragment: f64,
    /// After a stop signal (SIGINT, SIGTERM, SIGHUP): seconds to wait for the frames inside the
    /// heads to drain before stopping fast (EOS straight into the encoder, those frames dropped).
    #[arg(long, default_value_t = 10.0, value_parser = seconds_between(0.1, 3600.0))]
    pub stop_timeout: f64,
    /// Play a file at its own frame rate, as a camera would deliver it (default: as fast as the
    /// heads go).
    #[arg(long)]
    pub realtime: bool,
    /// A live view branch: the annotated video as JPEG into an appsink named `live` (at most
    /// 5 fps, 640 px wide), behind a valve named `liveview` that drops every frame until opened
    /// (`sapiens serve`'s dashboard opens it while someone watches).
    #[arg(skip)]
    pub live_view: bool,
    /// Heads share one session per model config and runtime options with every other pipeline
    /// of the process naming the same (`model-instance`): `sapiens serve`'s cameras.
    #[arg(skip)]
    pub share_models: bool,
}

/// With `--json -` the records own stdout: the run's messages go to stderr.
static HUMAN_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// A line of the run's own output (live lines, summary) on stdout, or stderr under `--json -`.
macro_rules! say {
    ($($arg:tt)*) => {
        if HUMAN_TO_STDERR.load(Ordering::Relaxed) {
            eprintln!($($arg)*)
        } else {
            println!($($arg)*)
        }
    };
}

/// A clap parser for a number of seconds in `min..=max`.
fn seconds_between(
    min: f64,
    max: f64,
) -> impl Fn(&str) -> std::result::Result<f64, String> + Clone + Send + Sync + 'static {
    move |v: &str| {
        let s: f64 = v.parse().map_err(|e| format!("{v}: {e}"))?;
        if s.is_finite() && (min..=max).contains(&s) {
            Ok(s)
        } else {
            Err(format!("{v} is not a number of seconds in {min}..={max}"))
        }
    }
}

/// Whole milliseconds of `s` seconds (a flag already range-checked).
fn ms(s: f64) -> u32 {
    (s * 1000.0).round() as u32
}

/// A file the run will write: its folder must exist (checked before the run, not after it).
pub(super) fn check_writable(flag: &str, path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{flag} {}: folder {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Quotes a value for `gst_parse_launch`.
pub(super) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An RTSP camera URI (read through `sapienscamsrc`, which reconnects).
pub(super) fn is_camera(input: &str) -> bool {
    ["rtsp://", "rtsps://", "rtspt://", "rtspu://"]
        .iter()
        .any(|p| input.to_ascii_lowercase().starts_with(p))
}

/// A live input (a camera): no end is known, recordings are fragmented (see `--fragment`).
pub(super) fn is_live(input: &str) -> bool {
    is_camera(input) || input.starts_with("/dev/video")
}

/// The source part of the launch line for an RTSP camera: `sapienscamsrc name=camera`.
fn camera_source(args: &RunArgs) -> String {
    format!(
        "sapienscamsrc name=camera uri={} protocols={} stall-timeout-ms={} retry-delay-ms={} \
         connect-timeout-ms={} give-up-s={} first-frame-timeout-s={} latency-ms={} max-backlog={}",
        quote(&args.input),
        args.rtsp_transport.as_str(),
        ms(args.stall_timeout),
        ms(args.retry_delay),
        ms(args.connect_timeout),
        args.give_up.ceil() as u32,
        args.first_frame_timeout.ceil() as u32,
        ms(args.rtsp_latency),
        args.camera_backlog,
    )
}

/// The source and decoder part of the launch line.
pub(super) fn source(input: &str) -> String {
    if input.contains("://") {
        format!("uridecodebin uri={}", quote(input))
    } else if input.starts_with("/dev/video") {
        format!("v4l2src device={} ! decodebin", quote(input))
    } else {
        format!("filesrc location={} ! decodebin", quote(input))
    }
}

/// The `[detector]` config `--detector NAME` names: a `.toml` path, or a bare name such as
/// `nanodet` for the shipped `detector-nanodet.toml` (found as `sapiens models` finds configs).
fn detector_config(name: &str) -> Result<String> {
    let path = if name.ends_with(".toml") {
        std::path::PathBuf::from(name)
    } else {
        crate::datadir::resolve_config(std::path::Path::new(&format!("detector-{name}")))
            .or_else(|_| crate::datadir::resolve_config(std::path::Path::new(name)))
            .map_err(|_| {
                Error::Invalid(format!(
                    "--detector {name}: use hog, seg, a named detector config (nanodet: \
                     configs/detector-nanodet.toml), a detector model .onnx, or a detector config \
                     .toml (a [detector] section naming the ONNX model)"
                ))
            })?
    };
    let cfg = Config::load(&path)?;
    if cfg.detector().is_none() {
        return Err(Error::Invalid(format!(
            "--detector {name}: a detector config needs a [detector] section (this one is for {})",
            cfg.element()
        )));
    }
    Ok(path.to_string_lossy().into_owned())
}

/// The rules file `--analytics` names: a path, or the name of a shipped one
/// (`vtest`: configs/analytics/vtest.toml, also in the installed data folder).
fn analytics_file(name: &Path) -> Result<PathBuf> {
    if name.is_file() || name.components().count() > 1 {
        return Ok(name.to_owned());
    }
    let mut shipped = Path::new("configs/analytics").join(name);
    if shipped.extension().is_none() {
        shipped.set_extension("toml");
    }
    crate::datadir::resolve_config(&shipped).map_err(|tried| {
        Error::Invalid(format!(
            "--analytics {}: no such rules file (looked at {})",
            name.display(),
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The detector and tracker part of the launch line (the detector is named `detector`).
fn detection(args: &RunArgs) -> Result<Vec<String>> {
    if args.detect_interval == 0 {
        return Err(Error::Invalid(
            "--detect-interval must be at least 1".into(),
        ));
    }
    if args.smoothing && !args.track {
        return Err(Error::Invalid(
            "--smoothing smooths tracked persons: add --track (and a --detector)".into(),
        ));
    }
    let Some(detector) = args.detector.as_deref() else {
        if args.track {
            return Err(Error::Invalid("--track needs a --detector".into()));
        }
        return Ok(Vec::new());
    };
    let backend = match detector {
        "hog" | "seg" => detector.to_string(),
        path if path.ends_with(".onnx") => format!("onnx model={}", quote(path)),
        name => format!("onnx config={}", quote(&detector_config(name)?)),
    };
    let mut parts = vec![format!(
        "sapiensdetect name=detector backend={backend} interval={} policy={}",
        args.detect_interval,
        args.policy.as_str()
    )];
    if let Some(p) = args.execution_provider {
        parts[0] += &format!(" execution-provider={}", p.as_str());
    }
    if args.share_models && backend.starts_with("onnx") {
        parts[0] += &format!(" model-instance={}", quote(&format!("detector {backend}")));
    }
    if args.track {
        parts.push("sapienstrack name=tracker".into());
    }
    Ok(parts)
}

/// The whole launch line; the detector is named `detector`, heads `head0`, `head1`, … The
/// detector (and tracker) go first; with `--detector seg`, right after the seg head it reads.
/// `probed`: what is known of a file input (sizes the recording's index).
pub fn launch_line(
    args: &RunArgs,
    configs: &[Config],
    probed: Option<&super::input::Probed>,
) -> Result<String> {
    let input = if is_camera(&args.input) {
        camera_source(args)
    } else {
        source(&args.input)
    };
    let mut parts = vec![input];
    if args.realtime && !is_live(&args.input) {
        parts.push("identity name=pace sync=true".into());
    }
    parts.push("videoconvert name=entry".into());
    let mut detection = Some(detection(args)?);
    let after_seg = args.detector.as_deref() == Some("seg");
    let seg_head = configs
        .iter()
        .position(|c| c.head() == crate::config::Head::Seg);
    if after_seg && seg_head.is_none() {
        return Err(Error::Invalid(
            "--detector seg boxes the people a seg head finds: add a seg config (-c configs/seg-….toml)".into(),
        ));
    }
    let mut order: Vec<usize> = (0..configs.len()).collect();
    if let Some(s) = seg_head.filter(|_| after_seg) {
        order.retain(|&i| i != s);
        order.insert(0, s);
    } else {
        parts.extend(detection.take().unwrap_or_default());
    }
    for i in order {
        let cfg = &configs[i];
        let mut head = format!(
            "{} name=head{i} config={} max-inflight={}",
            cfg.element(),
            quote(&cfg.source.to_string_lossy()),
            args.max_inflight
        );
        if let Some(p) = args.execution_provider {
            head += &format!(" execution-provider={}", p.as_str());
        }
        head += &format!(
            " policy={} interval={} batch-size={} batch-timeout-ms={}",
            args.policy.as_str(),
            args.interval,
            args.batch_size,
            args.batch_timeout_ms
        );
        if let Some(t) = args.intra_op_threads {
            head += &format!(" intra-op-threads={t}");
        }
        if let Some(server) = &args.triton {
            head += &format!(" backend=triton server={}", quote(server));
        }
        if args.inflight_requests > 1 {
            head += &format!(" inflight-requests={}", args.inflight_requests);
        }
        if args.smoothing && cfg.head() == crate::config::Head::Pose {
            head += " smoothing=true";
        }
        if args.share_models {
            head += &format!(" model-instance={}", quote(&instance_key(args, cfg)));
        }
        parts.push(head);
        if cfg.head() == crate::config::Head::Seg && after_seg {
            parts.extend(detection.take().unwrap_or_default());
        }
    }
    if let Some(file) = &args.analytics {
        if !args.track {
            return Err(Error::Invalid(
                "--analytics counts crossings and stays of tracked persons: add --track (and a --detector)".into(),
            ));
        }
        let file = analytics_file(file)?;
        crate::analytics::Rules::load(&file)?;
        parts.push(format!(
            "sapiensanalytics name=analytics config={}",
            quote(&file.to_string_lossy())
        ));
    }
    if args.json.is_some() || args.mqtt.is_some() {
        let mut json = "sapiensjson name=json".to_string();
        if let Some(path) = &args.json {
            json += &format!(" location={}", quote(path));
        }
        if let Some(t) = &args.mqtt {
            json += &format!(
                " mqtt={}",
                quote(&format!("{}:{}/{}", t.host, t.port, t.topic))
            );
        }
        parts.push(json);
    }
    let drawn = args.output.is_some()
        || args.rtsp_serve.is_some()
        || args.live_view
        || args.clips.is_some();
    // --record-original: the recording (and its clips) get an overlay of their own that hides
    // nothing, the live view and the re-stream one that does.
    let split_overlay = args.record_original && args.anonymize != Anonymize::None;
    if split_overlay && args.rtsp_serve.is_none() && !args.live_view {
        return Err(Error::Invalid(
            "--record-original keeps the recording's pixels and hides people in what is watched: add --rtsp-serve (or run it in `sapiens serve`)".into(),
        ));
    }
    if drawn
        && !split_overlay
        && let Some(o) = overlay(args, args.anonymize)
    {
        parts.push(o);
    }
    let clips = match &args.clips {
        Some(dir) => {
            if args.analytics.is_none() {
                return Err(Error::Invalid(
                    "--clips writes a clip around each analytics event: add --analytics FILE"
                        .into(),
                ));
            }
            Some(format!(
                "sapiensclips name=clips location={} pre-roll={} post-roll={} events={} max-clips={}",
                quote(&dir.to_string_lossy()),
                args.clip_pre,
                args.clip_post,
                quote(&args.clip_events),
                args.max_clips
            ))
        }
        None => None,
    };
    let sink = match &args.output {
        Some(out) => {
            let safety = super::recording::plan(
                is_live(&args.input),
                probed,
                args.fragment,
                args.max_frames,
            );
            super::recording::branch(out, safety, clips.as_deref())?
        }
        None => match &clips {
            Some(c) => super::recording::clips_only(c),
            None => "fakesink sync=false".into(),
        },
    };
    let (sink, watched) = match split_overlay {
        true => (
            match overlay(args, Anonymize::None) {
                Some(o) => format!("{o} ! {sink}"),
                None => sink,
            },
            overlay(args, args.anonymize),
        ),
        false => (sink, None),
    };
    let mut others: Vec<String> = args
        .rtsp_serve
        .iter()
        .map(|t| match &watched {
            Some(o) => format!(
                "queue leaky=downstream max-size-buffers=2 ! {o} ! {}",
                super::restream::branch(t, args.rtsp_serve_credentials.as_deref())
            ),
            None => super::restream::branch(t, args.rtsp_serve_credentials.as_deref()),
        })
        .collect();
    if args.live_view {
        others.push(live_view_branch(watched.as_deref()));
    }
    if others.is_empty() {
        parts.push(sink);
    } else {
        let branches: String = others.iter().map(|b| format!(" split. ! {b}")).collect();
        parts.push(format!("tee name=split ! queue ! {sink}{branches}"));
    }
    Ok(parts.join(" ! "))
}

/// The live view branch (after a `tee`): a leaky one-frame queue (never holds the others back),
/// the `liveview` valve (closed: frames dropped before any work, but caps, segments and EOS go
/// through: the pipeline's EOS waits for every sink's), 5 fps at most, 640 px wide,
/// JPEG, and the `live` appsink keeping only the newest picture (not waiting for a first
/// picture to preroll: the closed valve never gives it one).
/// `overlay`: an overlay of the live view's own (after the valve and the rate limit: it only
/// draws what someone watches).
fn live_view_branch(overlay: Option<&str>) -> String {
    let overlay = overlay.map(|o| format!("{o} ! ")).unwrap_or_default();
    format!(
        "queue leaky=downstream max-size-buffers=1 ! valve name=liveview drop=true drop-mode=forward-sticky-events ! \
         videorate drop-only=true max-rate=5 ! {overlay}videoconvert ! videoscale ! \
         video/x-raw,width=640,pixel-aspect-ratio=1/1 ! jpegenc quality=75 ! \
         appsink name=live max-buffers=1 drop=true sync=false async=false"
    )
}

/// The overlay drawing the results and hiding what `anonymize` says (`None` when there is
/// nothing to do: --no-overlay and nothing hidden; with --no-overlay it hides without drawing
/// the poses).
fn overlay(args: &RunArgs, anonymize: Anonymize) -> Option<String> {
    if args.no_overlay && anonymize == Anonymize::None {
        return None;
    }
    let mut o = format!("sapiensoverlay layout={}", args.layout.as_str());
    if args.no_overlay {
        o += " draw-boxes=false draw-keypoints=false draw-links=false draw-seg=false";
    }
    if anonymize != Anonymize::None {
        o += &format!(" anonymize={}", anonymize.as_str());
    }
    Some(o)
}

/// The shared-session name of `cfg` under `args`: pipelines whose heads load the same config
/// file with the same provider, batch size and threads share one session.
fn instance_key(args: &RunArgs, cfg: &Config) -> String {
    let path = std::fs::canonicalize(&cfg.source).unwrap_or_else(|_| cfg.source.clone());
    format!(
        "{}|{}|batch {}|threads {}|{}",
        path.display(),
        args.execution_provider.map_or("auto", |p| p.as_str()),
        args.batch_size,
        args.intra_op_threads
            .map_or("default".into(), |t| t.to_string()),
        args.triton.as_deref().unwrap_or("local")
    )
}

pub(super) fn head_stats(head: &gst::Element) -> Result<ExecutorStats> {
    stats::from_structure(&head.property::<gst::Structure>("stats"))
}

pub(super) fn camera_stats(camera: &gst::Element) -> Option<CameraStats> {
    CameraStats::from_structure(&camera.property::<gst::Structure>("stats"))
}

/// The camera's live line: frames per second in since `prev` (`interval` ago), outages, and a
/// warning while it is lost.
fn print_camera(camera: &gst::Element, prev: &mut Option<CameraStats>, interval: Duration) {
    let Some(now) = camera_stats(camera) else {
        return;
    };
    let before = prev.as_ref().map_or(0, |p| p.camera_frames);
    let fps = (now.camera_frames - before) as f64 / interval.as_secs_f64();
    say!(
        "[camera] {fps:>6.2} fps in  {} frames, {} outages ({} no-signal frames), {} reconnection attempts, {} dropped (pipeline behind)",
        now.camera_frames,
        now.outages,
        now.no_signal_frames,
        now.reconnects,
        now.dropped_behind
    );
    let cause = now
        .last_failure
        .as_deref()
        .map(|c| format!("; last failure: {c}"))
        .unwrap_or_default();
    if now.camera_frames == 0 {
        say!(
            "WARNING: waiting for the camera's first frame ({} connection attempts so far){cause}",
            now.reconnects + 1
        );
    } else if now.lost || now.since_frame_s > 2.0 * interval.as_secs_f64() {
        say!(
            "WARNING: no frame from the camera for {:.1} s{}",
            now.since_frame_s,
            if now.lost {
                format!("; showing no-signal frames while reconnecting{cause}")
            } else {
                String::new()
            }
        );
    }
    *prev = Some(now);
}

fn print_live(heads: &[gst::Element]) {
    for h in heads {
        if let Ok(s) = head_stats(h) {
            let backlog =
                s.frames_in - (s.frames_out + s.dropped + s.flushed + s.failed).min(s.frames_in);
            say!(
                "[{}] frames {:>6} ({} dropped, {} carried, {backlog} inside)  {:>6.2} fps  latency ms p50: pre {:.1} infer {:.1} post {:.1} total {:.1}",
                h.name(),
                s.frames_out,
                s.dropped,
                s.carried,
                s.fps,
                s.pre.p50_ms,
                s.infer.p50_ms,
                s.post.p50_ms,
                s.total.p50_ms
            );
        }
    }
}

pub fn run(args: &RunArgs) -> Result<()> {
    HUMAN_TO_STDERR.store(args.json.as_deref() == Some("-"), Ordering::Relaxed);
    gst::init().map_err(|e| Error::Invalid(format!("GStreamer: {e}")))?;
    crate::elements::register_static().map_err(|e| Error::Invalid(e.to_string()))?;
    if is_camera(&args.input) {
        crate::logging::quiet_known_harmless_criticals();
    }
    let configs = args
        .config
        .iter()
        .map(Config::load)
        .collect::<Result<Vec<_>>>()?;
    for c in configs
        .iter()
        .filter(|c| c.model.weights == Weights::Untrained)
    {
        say!(
            "WARNING: {} uses UNTRAINED weights ({}): results are noise, for testing the pipeline only.",
            c.source.display(),
            c.model.path.display()
        );
    }
    if let Some(out) = &args.output {
        check_writable("--output", out)?;
    }
    if let Some(json) = &args.stats_json {
        check_writable("--stats-json", json)?;
    }
    if let Some(path) = args.json.as_deref().filter(|p| *p != "-") {
        check_writable("--json", Path::new(path))?;
    }
    check_input(&args.input)?;
    let probed = if is_live(&args.input) {
        None
    } else {
        super::input::probe(&args.input)
    };
    let line = launch_line(args, &configs, probed.as_ref())?;
    say!(
        "pipeline: {}",
        line.replace(
            &args.input,
            &crate::elements::sapienscamsrc::redacted(&args.input)
        )
    );
    let pipeline = gst::parse::launch(&line)
        .map_err(|e| Error::Invalid(format!("cannot build the pipeline: {e}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| Error::Invalid("launch line is not a pipeline".into()))?;
    // Frames that reached the encoder: with none, there is no recording to finalize or keep.
    let recorded = Arc::new(AtomicU64::new(0));
    let result = play(args, &pipeline, configs.len(), probed.as_ref(), &recorded);
    // From here on the file sinks have opened their files: what holds nothing goes.
    if let Some(out) = &args.output {
        if recorded.load(Ordering::Relaxed) == 0 {
            let _ = std::fs::remove_file(out);
            say!("no frame was recorded: {} not written", out.display());
        } else if result.is_ok() {
            say!("wrote {}", out.display());
        }
    }
    if let Some(path) = args.json.as_deref().filter(|p| *p != "-")
        && result.is_err()
        && std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
    {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// A plain path as `--input` must be a file (URIs and devices are their sources' to check).
pub(super) fn check_input(input: &str) -> Result<()> {
    if input.contains("://") || input.starts_with("/dev/") {
        return Ok(());
    }
    let path = Path::new(input);
    if path.is_dir() {
        return Err(Error::Invalid(format!(
            "--input {input}: is a directory, not a video file"
        )));
    }
    if !path.exists() {
        return Err(Error::Invalid(format!("--input {input}: no such file")));
    }
    Ok(())
}

/// Plays `pipeline` (built for `args`, with `n_heads` heads, the input `probed`) to its end, a
/// stop signal or an error; prints the summary and writes the stats. `recorded` counts the
/// frames that reached the encoder. A file that ends short of its declared length fails the run
/// (after the recording is finalized).
fn play(
    args: &RunArgs,
    pipeline: &gst::Pipeline,
    n_heads: usize,
    probed: Option<&super::input::Probed>,
    recorded: &Arc<AtomicU64>,
) -> Result<()> {
    // The inference elements, in stream order: the detector (if any), then the heads.
    let heads: Vec<gst::Element> = std::iter::once("detector".to_string())
        .chain((0..n_heads).map(|i| format!("head{i}")))
        .filter_map(|name| pipeline.by_name(&name))
        .collect();

    // --max-frames: let N frames into the first element after decoding, drop the rest, then end
    // the stream.
    let limit_reached = Arc::new(AtomicBool::new(false));
    if let (Some(max), Some(first)) = (args.max_frames, pipeline.by_name("entry")) {
        let count = AtomicU64::new(0);
        let flag = limit_reached.clone();
        let pad = first
            .static_pad("sink")
            .expect("videoconvert has a sink pad");
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= max {
                flag.store(true, Ordering::SeqCst);
            }
            if n > max {
                // Frames past the limit (until EOS arrives) are dropped here, before any element.
                info.data.take();
                info.flow_res = Ok(gst::FlowSuccess::Ok);
                gst::PadProbeReturn::Handled
            } else {
                gst::PadProbeReturn::Ok
            }
        });
    }
    // Where the last frame into the heads ends (stream time, ns): a file that ends short of its
    // declared length is said to be truncated.
    let read_until = Arc::new(AtomicU64::new(0));
    if let (Some(p), Some(first)) = (probed, pipeline.by_name("entry")) {
        let read_until = read_until.clone();
        let frame = if p.fps > 0.0 {
            gst::ClockTime::from_nseconds((1e9 / p.fps) as u64)
        } else {
            gst::ClockTime::ZERO
        };
        let pad = first
            .static_pad("sink")
            .expect("videoconvert has a sink pad");
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer()
                && let Some(pts) = b.pts()
            {
                let end = pts + b.duration().unwrap_or(frame);
                read_until.fetch_max(end.nseconds(), Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
    }
    if let Some(pad) = pipeline
        .by_name("encoder")
        .and_then(|e| e.static_pad("sink"))
    {
        let recorded = recorded.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            recorded.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    // SIGINT, SIGTERM, SIGHUP: the first ends the stream cleanly (EOS through every element, the
    // recording finalized); a second, or no end within --stop-timeout, stops fast but still
    // cleanly: EOS straight into the encoder, the frames still inside the heads are dropped.
    let signals = Arc::new(AtomicU64::new(0));
    let counter = signals.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }) {
        tracing::debug!("no signal handler: {e}");
    }

    let bus = pipeline.bus().expect("pipelines have a bus");
    let started = Instant::now();
    if pipeline.set_state(gst::State::Playing).is_err() {
        let err =
            bus_error(&bus).unwrap_or_else(|| Error::Invalid("the pipeline cannot start".into()));
        let _ = pipeline.set_state(gst::State::Null);
        return Err(err);
    }
    if let Some(target) = &args.rtsp_serve {
        say!(
            "serving the annotated video at {}{}",
            target.url(),
            if args.rtsp_serve_credentials.is_some() {
                " (clients give the user and password of --rtsp-serve-credentials)"
            } else {
                ""
            }
        );
    }
    let camera = pipeline.by_name("camera");
    let mut camera_prev = None;
    let interval = Duration::from_secs_f64(args.stats_interval);
    let mut next_print = Instant::now() + interval;
    // A file on a terminal: a progress bar in place of the live lines.
    let bar = if interval.is_zero() || HUMAN_TO_STDERR.load(Ordering::Relaxed) {
        None
    } else {
        super::progress::bar(is_live(&args.input))
    };
    let entry = pipeline.by_name("entry");
    let stop_timeout = Duration::from_secs_f64(args.stop_timeout);
    // When EOS was sent, the first signal came, and the fast stop began.
    let mut eos_sent: Option<Instant> = None;
    let mut stop_asked: Option<Instant> = None;
    let mut fast_since: Option<Instant> = None;
    let mut error: Option<Error> = None;
    let result = loop {
        let signalled = signals.load(Ordering::SeqCst);
        if signalled > 0 && stop_asked.is_none() {
            stop_asked = Some(Instant::now());
            say!(
                "stopping: ending the stream so that the recording is finalized (signal again to stop faster)"
            );
        }
        if eos_sent.is_none() && (limit_reached.load(Ordering::SeqCst) || stop_asked.is_some()) {
            pipeline.send_event(gst::event::Eos::new());
            eos_sent = Some(Instant::now());
        }
        // The stop timeout runs from the first signal only: a run ended by --max-frames (or the
        // end of its file) drains every frame, however long that takes.
        let overdue = stop_asked.is_some_and(|t| t.elapsed() > stop_timeout);
        if fast_since.is_none() && (signalled > 1 || overdue || error.is_some()) {
            fast_since = Some(Instant::now());
            if recorded.load(Ordering::Relaxed) == 0 || !finish_recording(pipeline) {
                break error.take().map_or(Ok(()), Err);
            }
        }
        if fast_since.is_some_and(|t| t.elapsed() > FINALIZE_TIMEOUT) {
            let late = "the recording did not finalize in time";
            break Err(match error.take() {
                Some(e) => Error::Invalid(format!("{e} ({late})")),
                None => Error::Invalid(late.into()),
            });
        }
        if let (Some(bar), Some(last)) = (&bar, heads.last()) {
            if let Some(e) = &entry {
                super::progress::set_length(bar, pipeline, e, args.max_frames);
            }
            if let Ok(s) = head_stats(last) {
                bar.set_position(s.frames_out + s.dropped + s.failed + s.flushed);
                bar.set_message(format!("{:.1} fps in {}", s.fps, last.name()));
            }
        } else if !interval.is_zero() && Instant::now() >= next_print {
            if let Some(c) = &camera {
                print_camera(c, &mut camera_prev, interval);
            }
            print_live(&heads);
            next_print += interval;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_)
                if stop_asked.is_none() && !limit_reached.load(Ordering::SeqCst) =>
            {
                // The input's own end: the whole file, or is it cut short?
                let early = probed.and_then(|p| {
                    super::input::ended_early(
                        p.length,
                        Duration::from_nanos(read_until.load(Ordering::Relaxed)),
                        Duration::ZERO,
                    )
                });
                break match (error.take(), early) {
                    (Some(e), _) => Err(e),
                    (None, Some(msg)) => Err(Error::Invalid(format!("{}: {msg}", args.input))),
                    (None, None) => Ok(()),
                };
            }
            gst::MessageView::Eos(_) => break error.take().map_or(Ok(()), Err),
            gst::MessageView::Error(e) => {
                let err = error_of(e);
                // With a recording, finalize it before reporting (once): an error upstream
                // leaves the encoder and muxer able to finish.
                if recorded.load(Ordering::Relaxed) > 0 && fast_since.is_none() && error.is_none() {
                    eprintln!("error: {err}; finalizing the recording");
                    error = Some(err);
                    continue;
                }
                break Err(error.take().unwrap_or(err));
            }
            gst::MessageView::Warning(w) => {
                eprintln!("warning from {}: {}", src_name(w.src()), w.error());
            }
            gst::MessageView::Element(e) => print_camera_event(e.structure()),
            _ => {}
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let wall = started.elapsed();
    let finals: Vec<(String, ExecutorStats)> = heads
        .iter()
        .filter_map(|h| Some((h.name().to_string(), head_stats(h).ok()?)))
        .collect();
    let providers: Vec<String> = heads
        .iter()
        .map(|h| h.property::<String>("provider"))
        .collect();
    let camera_final = camera.as_ref().and_then(camera_stats);
    let _ = pipeline.set_state(gst::State::Null);
    // The summary and the stats JSON are written whatever ended the run.
    print_summary(&finals, &providers, wall);
    if let Some(c) = &camera_final {
        say!(
            "camera: {} frames, {} outages, {} frames lost (no-signal frames in their place), {} reconnection attempts, {} frames dropped because the pipeline was behind",
            c.camera_frames,
            c.outages,
            c.no_signal_frames,
            c.reconnects,
            c.dropped_behind
        );
    }
    if let Some(path) = &args.stats_json {
        let json = serde_json::json!({
            "wall_s": wall.as_secs_f64(),
            "camera": camera_final,
            "heads": finals.iter().zip(&providers).map(|((n, s), p)| serde_json::json!({"name": n, "provider": p, "stats": s})).collect::<Vec<_>>(),
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        )
        .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", path.display())))?;
    }
    result
}

/// Longest wait for the recording to finalize once EOS went straight into the encoder.
pub(super) const FINALIZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends EOS straight into the recording's encoder, so the muxer finalizes the file even with
/// frames stuck upstream; `false` when there is no recording.
pub(super) fn finish_recording(pipeline: &gst::Pipeline) -> bool {
    let Some(pad) = pipeline
        .by_name("encoder")
        .and_then(|e| e.static_pad("sink"))
    else {
        return false;
    };
    pad.send_event(gst::event::Eos::new());
    true
}

/// A `sapienscamsrc` outage message as a line of the run's output.
fn print_camera_event(s: Option<&gst::StructureRef>) {
    let Some(s) = s else { return };
    match s.name().as_str() {
        "sapiens-camera-lost" => say!(
            "WARNING: camera lost (outage {}): no frame for {:.1} s; reconnecting, no-signal frames meanwhile",
            s.get::<u64>("outages").unwrap_or(0),
            s.get::<f64>("since-frame-s").unwrap_or(0.0)
        ),
        "sapiens-camera-back" => say!(
            "camera back after {:.1} s ({} no-signal frames)",
            s.get::<f64>("outage-s").unwrap_or(0.0),
            s.get::<u64>("no-signal-frames").unwrap_or(0)
        ),
        _ => {}
    }
}

fn src_name(src: Option<&gst::Object>) -> String {
    src.map(|s| s.path_string().to_string())
        .unwrap_or_else(|| "pipeline".into())
}

/// A bus error as the user reads it: the element and the message (the debug string, with its
/// source locations, goes to the debug log only).
pub(super) fn error_of(e: &gst::message::Error) -> Error {
    if let Some(d) = e.debug() {
        tracing::debug!("error details: {d}");
    }
    Error::Invalid(format!("{}: {}", src_name(e.src()), e.error()))
}

/// The first error message already on the bus (a failed state change posts one).
fn bus_error(bus: &gst::Bus) -> Option<Error> {
    let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(error_of(e)),
        _ => None,
    }
}

fn print_summary(finals: &[(String, ExecutorStats)], providers: &[String], wall: Duration) {
    say!("\n== summary ({:.1} s wall) ==", wall.as_secs_f64());
    for ((name, s), provider) in finals.iter().zip(providers) {
        let provider = if provider.is_empty() {
            "no ONNX model"
        } else {
            provider
        };
        say!(
            "{name} [{provider}]: {} frames in, {} out ({} with carried results), {} dropped, {} flushed, {} failed; {:.2} fps",
            s.frames_in,
            s.frames_out,
            s.carried,
            s.dropped,
            s.flushed,
            s.failed,
            s.fps
        );
        say!("  latency ms      mean     p50     p95     p99");
        for (stage, l) in [
            ("pre-process", s.pre),
            ("inference", s.infer),
            ("post-process", s.post),
            ("in element", s.total),
        ] {
            say!(
                "  {stage:<12} {:>8.1} {:>7.1} {:>7.1} {:>7.1}",
                l.mean_ms,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `sapiens run ARGS` parsed as the CLI does.
    fn args(extra: &[&str]) -> RunArgs {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            run: RunArgs,
        }
        let mut all = vec!["run", "-i", "rtsp://127.0.0.1:8554/cam", "-c", "pose.toml"];
        all.extend(extra);
        Wrap::parse_from(all).run
    }

    fn line(a: &RunArgs) -> Result<String> {
        launch_line(a, &[], None)
    }

    #[test]
    fn anonymize_hides_in_every_branch_or_all_but_the_recording() {
        // One overlay before the split hides people from the recording and the re-stream alike.
        let l = line(&args(&[
            "--anonymize",
            "blur",
            "-o",
            "o.mp4",
            "--rtsp-serve",
            "127.0.0.1:8554/out",
        ]))
        .unwrap();
        assert_eq!(l.matches("sapiensoverlay").count(), 1, "{l}");
        let at = |s: &str| l.find(s).unwrap_or_else(|| panic!("{s} in {l}"));
        assert!(at("anonymize=blur") < at("tee name=split"), "{l}");
        // --record-original: the recording's overlay hides nothing, the re-stream's does.
        let l = line(&args(&[
            "--anonymize",
            "pixelate",
            "--record-original",
            "-o",
            "o.mp4",
            "--rtsp-serve",
            "127.0.0.1:8554/out",
        ]))
        .unwrap();
        let split = l.find("split. !").unwrap();
        let (recording, restream) = l.split_at(split);
        assert!(
            recording.contains("sapiensoverlay") && !recording.contains("anonymize"),
            "{l}"
        );
        assert!(
            restream.contains("sapiensoverlay") && restream.contains("anonymize=pixelate"),
            "{l}"
        );
        // Nothing watched: keeping the original everywhere would hide nothing, refused.
        let e = line(&args(&[
            "--anonymize",
            "fill",
            "--record-original",
            "-o",
            "o.mp4",
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--record-original") && e.contains("--rtsp-serve"),
            "{e}"
        );
        // The re-stream asks for the credentials of the file given.
        let l = line(&args(&[
            "--rtsp-serve",
            "0.0.0.0:8554/out",
            "--rtsp-serve-credentials",
            "viewer.credentials",
        ]))
        .unwrap();
        assert!(l.contains("credentials-file=\"viewer.credentials\""), "{l}");
        // A shipped rules file by name; a missing one names where it looked.
        let l = line(&args(&[
            "--detector",
            "hog",
            "--track",
            "--analytics",
            "vtest",
        ]))
        .unwrap();
        assert!(l.contains("configs/analytics/vtest.toml"), "{l}");
        let e = line(&args(&[
            "--detector",
            "hog",
            "--track",
            "--analytics",
            "nope",
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--analytics nope") && e.contains("configs/analytics/nope.toml"),
            "{e}"
        );
        // --no-overlay still hides, drawing nothing of the poses.
        let l = line(&args(&[
            "--anonymize",
            "fill",
            "--no-overlay",
            "-o",
            "o.mp4",
        ]))
        .unwrap();
        assert!(
            l.contains("anonymize=fill") && l.contains("draw-keypoints=false"),
            "{l}"
        );
    }
}
