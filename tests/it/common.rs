//! Shared test helpers: initialization, paths, synthetic frames with coloured dots.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use gst_video::prelude::*;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        sapiens_stream::elements::register_static().unwrap();
    });
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn config(name: &str) -> PathBuf {
    root().join("configs").join(name)
}

/// A scratch folder for this test process.
pub fn scratch(tag: &str) -> PathBuf {
    // Under target/tmp (cargo's CARGO_TARGET_TMPDIR), so `cargo clean` removes what runs leave.
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sapiens-it-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A COCO-17 pose config for the deliberately slow model (`tests/models/pose_slow_coco17.onnx`:
/// the analytic model plus 400 MatMuls, ≈ 115 ms a frame on one core here), pinned to the CPU
/// and one thread, so a live source outruns it on any machine.
pub fn slow_pose_config() -> PathBuf {
    let p = scratch("slow").join("pose-slow.toml");
    let text = format!(
        "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n\
         [runtime]\nexecution_provider = \"cpu\"\nintra_op_threads = 1\n\
         [pose]\nkeypoint_set = \"coco-17\"\n",
        root().join("tests/models/pose_slow_coco17.onnx").display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

/// The real video: `data/vtest.avi` after `make setup`, else opencv-doc's copy.
pub fn vtest() -> PathBuf {
    let local = root().join("data/vtest.avi");
    if local.is_file() {
        return local;
    }
    let system = PathBuf::from("/usr/share/doc/opencv-doc/examples/data/vtest.avi");
    assert!(
        system.is_file(),
        "vtest.avi missing: run `make setup` (package opencv-doc)"
    );
    system
}

/// Keypoint colours of the analytic model (its JSON sidecar), RGB.
pub fn analytic_colours() -> Vec<[u8; 3]> {
    let text =
        std::fs::read_to_string(root().join("tests/models/pose_analytic_coco17.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["colours_rgb"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let c = c.as_array().unwrap();
            [0, 1, 2].map(|i| c[i].as_u64().unwrap() as u8)
        })
        .collect()
}

/// A dot: keypoint index, centre (frame px, integer), radius (frame px).
#[derive(Debug, Clone, Copy)]
pub struct Dot {
    pub k: usize,
    pub x: i32,
    pub y: i32,
    pub r: i32,
}

/// A black RGB frame of `width` x `height` with filled discs of the analytic colours, converted to
/// `format` with GStreamer's own converter (so YUV inputs are tested against real YUV).
pub fn dots_frame(
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    dots: &[Dot],
    pts_ms: u64,
) -> (gst::Buffer, gst_video::VideoInfo) {
    let colours = analytic_colours();
    painted_frame(format, width, height, pts_ms, |x, y| {
        dots.iter()
            .find(|d| (x - d.x).pow(2) + (y - d.y).pow(2) <= d.r * d.r)
            .map_or([0, 0, 0], |d| colours[d.k])
    })
}

/// A frame whose pixel (x, y) has the RGB colour `paint(x, y)`, converted to `format`.
pub fn painted_frame(
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    pts_ms: u64,
    paint: impl Fn(i32, i32) -> [u8; 3],
) -> (gst::Buffer, gst_video::VideoInfo) {
    init();
    let rgb_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width, height)
        .fps(gst::Fraction::new(25, 1))
        .build()
        .unwrap();
    let mut rgb = gst::Buffer::with_size(rgb_info.size()).unwrap();
    {
        let mut f =
            gst_video::VideoFrameRef::from_buffer_ref_writable(rgb.get_mut().unwrap(), &rgb_info)
                .unwrap();
        let stride = f.plane_stride()[0] as usize;
        let data = f.plane_data_mut(0).unwrap();
        for y in 0..height as usize {
            for x in 0..width as usize {
                let o = y * stride + x * 3;
                data[o..o + 3].copy_from_slice(&paint(x as i32, y as i32));
            }
        }
    }
    let info = gst_video::VideoInfo::builder(format, width, height)
        .fps(gst::Fraction::new(25, 1))
        .build()
        .unwrap();
    let mut out = if format == gst_video::VideoFormat::Rgb {
        rgb
    } else {
        let conv = gst_video::VideoConverter::new(&rgb_info, &info, None).unwrap();
        let mut out = gst::Buffer::with_size(info.size()).unwrap();
        {
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(rgb.as_ref(), &rgb_info)
                .unwrap();
            let mut dst =
                gst_video::VideoFrameRef::from_buffer_ref_writable(out.get_mut().unwrap(), &info)
                    .unwrap();
            conv.frame_ref(&src, &mut dst);
        }
        out
    };
    {
        let b = out.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(pts_ms));
        b.set_duration(gst::ClockTime::from_mseconds(40));
    }
    (out, info)
}

/// Adds a `person` region-of-interest meta for the box `(x, y, w, h)`.
pub fn add_person(buffer: &mut gst::Buffer, rect: (u32, u32, u32, u32)) {
    gst_video::VideoRegionOfInterestMeta::add(buffer.get_mut().unwrap(), "person", rect);
}

/// A `sapienspose` harness on `config`, playing, with caps of `info`.
pub fn pose_harness(
    config: &str,
    info: &gst_video::VideoInfo,
    props: &[(&str, glib::Value)],
) -> gst_check::Harness {
    init();
    let el = gst::ElementFactory::make("sapienspose")
        .property("config", self::config(config).to_str().unwrap())
        .build()
        .unwrap();
    for (k, v) in props {
        el.set_property_from_value(k, v);
    }
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    if let Err(e) = start(&el) {
        panic!("sapienspose with {config} does not start: {e}");
    }
    h.set_src_caps(info.to_caps().unwrap());
    h
}

/// Sets `el` to PLAYING; on failure, the error message it posted.
pub fn start(el: &gst::Element) -> Result<(), String> {
    let bus = gst::Bus::new();
    el.set_bus(Some(&bus));
    match el.set_state(gst::State::Playing) {
        Ok(_) => Ok(()),
        Err(_) => {
            let msg = bus.pop_filtered(&[gst::MessageType::Error]);
            Err(match msg.as_ref().map(|m| m.view()) {
                Some(gst::MessageView::Error(e)) => e.error().to_string(),
                _ => "no error message".into(),
            })
        }
    }
}

/// `line` as a pipeline (panics with the parse error).
pub fn launch(line: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(line)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap()
}

/// The element `name` of `pipe`, as `T` (e.g. `gst_app::AppSink`).
pub fn by_name<T: IsA<gst::Element>>(pipe: &gst::Pipeline, name: &str) -> T {
    use gst::prelude::*;
    pipe.by_name(name)
        .unwrap_or_else(|| panic!("no element {name}"))
        .downcast::<T>()
        .unwrap()
}

/// Pulls events until EOS; returns how many buffers were already queued when it arrived.
pub fn buffers_before_eos(h: &mut gst_check::Harness) -> u32 {
    loop {
        let ev = h.pull_event().expect("an event before the timeout");
        if ev.type_() == gst::EventType::Eos {
            return h.buffers_in_queue();
        }
    }
}

/// Runs `sapiens run` with `args` (after `run`), recording to `<scratch>/out.mp4` with the final
/// stats as JSON; returns the recording's path and the stats.
pub fn sapiens_run(tag: &str, args: &[&str]) -> (PathBuf, serde_json::Value) {
    use clap::Parser;
    let dir = scratch(tag);
    let (out, json) = (dir.join("out.mp4"), dir.join("stats.json"));
    let mut all = vec![
        "sapiens",
        "run",
        "--output",
        out.to_str().unwrap(),
        "--stats-interval",
        "0",
    ];
    all.extend(["--stats-json", json.to_str().unwrap()]);
    all.extend(args);
    sapiens_stream::cli::Cli::parse_from(all).execute().unwrap();
    (
        out,
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap(),
    )
}

/// The `stats` property of an inference element, parsed.
pub fn element_stats(el: &gst::Element) -> sapiens_stream::pipelining::ExecutorStats {
    use gst::prelude::*;
    sapiens_stream::elements::inference::stats::from_structure(
        &el.property::<gst::Structure>("stats"),
    )
    .unwrap()
}

/// Runs `tests/python/<script>` with `.venv-gi`'s Python (the system's PyGObject and numpy plus
/// the `sapiens_stream` package, `make setup`) and the debug plugin; returns the JSON it prints.
pub fn run_python(script: &str, args: &[String]) -> serde_json::Value {
    let plugin_dir = root().join("target/debug");
    assert!(
        plugin_dir.join("libgstsapiens.so").is_file(),
        "build the plugin first: cargo build --workspace (make test does)"
    );
    let python = root().join(".venv-gi/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run make setup (it installs the sapiens_stream package there)",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root().join("tests/python").join(script))
        .args(args)
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .output()
        .expect("the .venv-gi Python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `cmd`, asserts it succeeded (its stderr the message), and parses each line of its stdout
/// as JSON (a JSON-lines producer: the CLI's `--json -`, `sapiensjson location=-`, examples).
pub fn json_lines_of(cmd: &mut Command) -> Vec<serde_json::Value> {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A TCP port free on 127.0.0.1 now (for servers the tests start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pushes `buffers` through `line` (between an appsrc with `info`'s caps and an appsink); the
/// outputs in order, and the pipeline's elements (stopped) for their stats.
pub fn push_through(
    line: &str,
    buffers: Vec<gst::Buffer>,
    info: &gst_video::VideoInfo,
) -> (Vec<gst::Buffer>, Vec<gst::Element>) {
    init();
    let pipe = launch(&format!(
        "appsrc name=src format=time ! {line} ! appsink name=sink sync=false"
    ));
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    src.set_caps(Some(&info.to_caps().unwrap()));
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let n = buffers.len();
    for b in buffers {
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let out = (0..n)
        .map(|_| {
            sink.pull_sample()
                .unwrap_or_else(|_| {
                    let msg = pipe.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
                    panic!("no output: {msg:?}")
                })
                .buffer_owned()
                .unwrap()
        })
        .collect();
    let elements = pipe
        .iterate_sorted()
        .into_iter()
        .filter_map(|e| e.ok())
        .collect();
    pipe.set_state(gst::State::Null).unwrap();
    (out, elements)
}

/// A ROI rect (x, y, w, h) and its tracking id.
pub type Roi = ((u32, u32, u32, u32), Option<u32>);

/// The person ROI metas of a buffer.
pub fn rois(b: &gst::BufferRef) -> Vec<Roi> {
    b.iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == "person")
        .map(|m| {
            (
                m.rect(),
                m.param("tracking").and_then(|p| p.get::<u32>("id").ok()),
            )
        })
        .collect()
}

/// The first `frames` frames of vtest.avi through `chain` into an appsink; the buffers and the
/// final stats of the inference elements `named`.
pub fn run_vtest(
    chain: &str,
    frames: u32,
    named: &[&str],
) -> (
    Vec<sapiens_stream::pipelining::ExecutorStats>,
    Vec<gst::Buffer>,
) {
    init();
    let line = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! \
         identity eos-after={frames} ! {chain} ! appsink name=sink sync=false",
        vtest().display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(s.buffer_owned().unwrap());
    }
    let stats = named
        .iter()
        .map(|n| element_stats(&pipe.by_name(n).unwrap()))
        .collect();
    pipe.set_state(gst::State::Null).unwrap();
    (stats, out)
}

/// Pushes `frames` (raw video of `caps`) through `appsrc ! {chain} ! appsink`; the buffers that
/// come out, and the stats of the inference element named `d` if the chain has one.
pub fn through(
    chain: &str,
    caps: &gst::Caps,
    frames: &[gst::Buffer],
) -> (
    Vec<gst::Buffer>,
    Option<sapiens_stream::pipelining::ExecutorStats>,
) {
    init();
    let pipe = launch(&format!(
        "appsrc name=src format=time caps=\"{caps}\" ! {chain} ! appsink name=sink"
    ));
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    for b in frames {
        src.push_buffer(b.clone()).unwrap();
    }
    src.end_of_stream().unwrap();
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(s.buffer_owned().unwrap());
    }
    let stats = pipe.by_name("d").map(|d| element_stats(&d));
    pipe.set_state(gst::State::Null).unwrap();
    (out, stats)
}

/// Every frame that entered the inference element of `s` left it, none failed or dropped, and
/// at least `least` reached the sink (`out` of them; `identity eos-after` upstream decides how
/// many enter, give or take).
pub fn assert_every_frame_through(
    s: &sapiens_stream::pipelining::ExecutorStats,
    out: usize,
    least: usize,
) {
    assert_eq!(
        (s.frames_out, s.failed, s.dropped, out as u64),
        (s.frames_in, 0, 0, s.frames_in),
        "{s:?}"
    );
    assert!(
        out >= least,
        "{out} frames reached the sink, expected {least} or more"
    );
}
