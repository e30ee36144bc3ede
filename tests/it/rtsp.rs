//! RTSP camera feeds through `sapiens run`, served by a local gstreamer-rtsp-server on
//! 127.0.0.1: a camera killed and restarted (a separate process, `kill -9`), a camera frozen,
//! and recordings that survive the `sapiens` process being killed outright.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_rtsp_server::prelude::*;

use crate::common::*;
use crate::signals::{signal, wait};

/// Frames per second the test camera sends.
const CAMERA_FPS: u64 = 15;

/// A local RTSP camera: H.264 SMPTE bars at 320×240, 15 fps, a key frame every second. The
/// picture is still, so a frame decoded from missing references (grey smears) is visible as a
/// difference to it.
struct Camera {
    url: String,
    frozen: Arc<AtomicBool>,
    gates: Arc<Mutex<Vec<gst::Element>>>,
}

impl Camera {
    /// Serves at `port` (0: any free one) from a thread of this process.
    fn start(port: u16) -> Camera {
        init();
        let frozen = Arc::new(AtomicBool::new(false));
        let gates = Arc::new(Mutex::new(Vec::<gst::Element>::new()));
        let (tx, rx) = mpsc::channel();
        let (f, g) = (frozen.clone(), gates.clone());
        std::thread::spawn(move || {
            let ctx = glib::MainContext::new();
            let _guard = ctx.acquire().unwrap();
            let server = gst_rtsp_server::RTSPServer::new();
            server.set_address("127.0.0.1");
            server.set_service(&port.to_string());
            let factory = gst_rtsp_server::RTSPMediaFactory::new();
            factory.set_launch(&format!(
                "( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=240,framerate={CAMERA_FPS}/1 ! \
                 valve name=gate ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={CAMERA_FPS} ! \
                 rtph264pay name=pay0 pt=96 )"
            ));
            factory.set_shared(true);
            // A frozen camera stays frozen for clients that reconnect (a new media each time).
            factory.connect_media_configure(move |_, media| {
                let bin = media.element().downcast::<gst::Bin>().unwrap();
                let gate = bin.by_name("gate").unwrap();
                gate.set_property("drop", f.load(Ordering::SeqCst));
                g.lock().unwrap().push(gate);
            });
            server.mount_points().unwrap().add_factory("/cam", factory);
            let _source = server.attach(Some(&ctx)).unwrap();
            tx.send(server.bound_port()).unwrap();
            glib::MainLoop::new(Some(&ctx), false).run();
        });
        let port = rx.recv().unwrap();
        Camera {
            url: format!("rtsp://127.0.0.1:{port}/cam"),
            frozen,
            gates,
        }
    }

    /// Freezes (no frame leaves) or thaws the camera, the connection staying up.
    fn freeze(&self, on: bool) {
        self.frozen.store(on, Ordering::SeqCst);
        for gate in self.gates.lock().unwrap().iter() {
            gate.set_property("drop", on);
        }
    }
}

/// Not a test: the body of the camera process that `spawn_camera` starts (and kills).
#[test]
#[ignore = "the test camera process, started by the RTSP tests"]
fn rtsp_camera_process() {
    let Ok(port) = std::env::var("SAPIENS_TEST_CAMERA_PORT") else {
        return;
    };
    let camera = Camera::start(port.parse().unwrap());
    println!("serving {}", camera.url);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A camera in a separate process (this test binary, running `rtsp_camera_process`), so that it
/// can be killed for real; returns once it serves.
fn spawn_camera(port: u16) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rtsp::rtsp_camera_process",
            "--ignored",
            "--nocapture",
        ])
        .env("SAPIENS_TEST_CAMERA_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("serving") {
            std::thread::spawn(move || for _ in lines {});
            return child;
        }
    }
    panic!("the camera process did not start");
}

/// A TCP port free on 127.0.0.1 now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `sapiens run` on `url` with pose (no overlay: the recording shows the camera's pixels),
/// recording to `out` with stats to `json`; its stdout lines arrive on the returned channel.
fn spawn_run(
    url: &str,
    out: &std::path::Path,
    json: &std::path::Path,
    extra: &[&str],
) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i", url, "-c"])
        .arg(config("pose-tiny-coco17.toml"))
        .args([
            "--execution-provider",
            "cpu",
            "--no-overlay",
            "--stats-interval",
            "0.5",
            "--stall-timeout",
            "1.5",
            "--retry-delay",
            "0.5",
            "--rtsp-transport",
            "tcp",
            "-o",
        ])
        .arg(out)
        .arg("--stats-json")
        .arg(json)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sapiens binary");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits (at most a minute) for a line of the run's output matching `pred`; the lines read.
fn wait_line(rx: &mpsc::Receiver<String>, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let t = Instant::now();
    let mut seen = Vec::new();
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = pred(&l);
            seen.push(l);
            if hit {
                return seen;
            }
        }
    }
    panic!("no such line in a minute; output: {seen:#?}");
}

/// Camera frames recorded so far, from a `[camera]` live line.
fn camera_frames(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("[camera]")?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "frames,")?;
    words.get(i - 1)?.parse().ok()
}

/// The recording as FFmpeg reads it (tests/python/read_video.py).
fn read_video(path: &std::path::Path) -> serde_json::Value {
    run_python("read_video.py", &[path.display().to_string()])
}

/// Frames of a recording of the test camera: (camera pictures, black no-signal frames, others).
/// A camera picture differs from the first frame by little (H.264 noise), a no-signal frame is
/// black; anything else (a frame decoded from missing references) is neither.
fn classify(video: &serde_json::Value) -> (u64, u64, u64) {
    let (mut camera, mut black, mut other) = (0, 0, 0);
    let means = video["mean"].as_array().unwrap();
    let diffs = video["diff_to_first"].as_array().unwrap();
    for (m, d) in means.iter().zip(diffs) {
        let (m, d) = (m.as_f64().unwrap(), d.as_f64().unwrap());
        if d < 6.0 {
            camera += 1;
        } else if m < 20.0 {
            black += 1;
        } else {
            other += 1;
        }
    }
    (camera, black, other)
}

fn stats(json: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn cli_runs_pose_on_an_rtsp_feed_and_records_it() {
    let camera = Camera::start(0);
    let cfg = config("pose-tiny-coco17.toml");
    let args = [
        "--input",
        &camera.url,
        "--config",
        cfg.to_str().unwrap(),
        "--max-frames",
        "10",
        "--policy",
        "skip",
    ];
    let (out, stats) = sapiens_run("rtsp", &args);
    let s = &stats["heads"][0]["stats"];
    assert_eq!(s["frames_in"], 10);
    // `skip` passes frames the model cannot take, carrying results; a frame is dropped only when
    // the element's backlog is full, and every loss is counted.
    let (out_n, dropped) = (
        s["frames_out"].as_u64().unwrap(),
        s["dropped"].as_u64().unwrap(),
    );
    assert_eq!(out_n + dropped, 10, "{s}");
    assert!(out_n >= 5 && s["carried"].as_u64().unwrap() <= out_n, "{s}");
    let (frames, w, h, _) = crate::pipeline::read_back(&out);
    assert_eq!((w, h), (320, 240));
    // Every frame that left the head is in the recording; with frames dropped, x264enc + mp4mux
    // can lose one more on irregular spacing (README, known issue outside these elements).
    let lost = if dropped > 0 { 1 } else { 0 };
    assert!(
        frames <= out_n && frames + lost >= out_n,
        "{frames} frames recorded, {out_n} left the head"
    );
    assert_eq!(stats["camera"]["outages"], 0, "{stats}");
}

#[test]
fn a_camera_killed_and_restarted_is_reconnected_and_the_recording_goes_on() {
    let port = free_port();
    let mut cam = spawn_camera(port);
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let dir = scratch("rtsp-kill");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let frames = 20 * CAMERA_FPS;
    let (run, rx) = spawn_run(&url, &out, &json, &["--max-frames", &frames.to_string()]);
    wait_line(&rx, |l| camera_frames(l).is_some_and(|n| n >= 2 * CAMERA_FPS));
    cam.kill().unwrap();
    cam.wait().unwrap();
    let lost = wait_line(&rx, |l| l.starts_with("WARNING: camera lost"));
    std::thread::sleep(Duration::from_secs(4));
    let mut cam = spawn_camera(port);
    let back = wait_line(&rx, |l| l.starts_with("camera back after"));
    let (status, _) = wait(run, Duration::from_secs(60));
    let _ = cam.kill();
    assert!(status.success(), "exit {status:?}; {lost:?} {back:?}");

    let v = stats(&json);
    let (c, head) = (&v["camera"], &v["heads"][0]["stats"]);
    assert_eq!(c["outages"], 1, "{v}");
    assert!(c["reconnects"].as_u64().unwrap() >= 1, "{v}");
    // About 5.5 s without the camera (4 s down + detection + reconnection) at 15 fps.
    let no_signal = c["no_signal_frames"].as_u64().unwrap();
    assert!((3 * CAMERA_FPS..=12 * CAMERA_FPS).contains(&no_signal), "{v}");
    // Every frame is accounted for: the camera's and the stand-ins entered the head and left it
    // (the source counts the few it sent past --max-frames before EOS too).
    assert_eq!(head["frames_in"], frames, "{v}");
    let sent = c["camera_frames"].as_u64().unwrap() + no_signal;
    assert!((frames..=frames + CAMERA_FPS).contains(&sent), "{v}");
    assert_eq!(head["frames_out"], frames, "{v}");

    // The recording, read by FFmpeg: every frame, each either the camera's picture or black
    // (no frame decoded from missing references after the reconnection), timeline at 15 fps.
    let video = read_video(&out);
    assert_eq!(video["frames"], frames, "{}", video["fps"]);
    assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(320), Some(240)));
    let (pictures, black, other) = classify(&video);
    assert_eq!(other, 0, "corrupt frames in the recording");
    assert!(
        black.abs_diff(no_signal) <= 2,
        "{black} black frames recorded, {no_signal} no-signal frames counted"
    );
    assert_eq!(pictures + black, frames);
}

#[test]
fn a_frozen_camera_is_detected_and_recovered() {
    let camera = Camera::start(0);
    let dir = scratch("rtsp-freeze");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let frames = 16 * CAMERA_FPS;
    let (run, rx) = spawn_run(
        &camera.url,
        &out,
        &json,
        &["--max-frames", &frames.to_string()],
    );
    wait_line(&rx, |l| camera_frames(l).is_some_and(|n| n >= 2 * CAMERA_FPS));
    camera.freeze(true);
    let t = Instant::now();
    wait_line(&rx, |l| l.starts_with("WARNING: camera lost"));
    let detected = t.elapsed();
    // While frozen the live line keeps warning (the frame count does not move on).
    wait_line(&rx, |l| l.starts_with("WARNING: no frame from the camera for"));
    std::thread::sleep(Duration::from_secs(4).saturating_sub(t.elapsed()));
    camera.freeze(false);
    wait_line(&rx, |l| l.starts_with("camera back after"));
    let (status, _) = wait(run, Duration::from_secs(60));
    assert!(status.success());
    assert!(
        detected < Duration::from_secs(4),
        "stall detected after {detected:?} (stall timeout 1.5 s)"
    );
    let v = stats(&json);
    assert_eq!(v["camera"]["outages"], 1, "{v}");
    assert_eq!(v["heads"][0]["stats"]["frames_out"], frames, "{v}");
    let video = read_video(&out);
    assert_eq!(video["frames"], frames);
    let (_, black, other) = classify(&video);
    assert_eq!(other, 0, "corrupt frames in the recording");
    assert!(black > 0);
}

#[test]
fn a_live_recording_survives_kill_9() {
    let camera = Camera::start(0);
    let dir = scratch("rtsp-kill9");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let (run, rx) = spawn_run(&camera.url, &out, &json, &[]);
    // Well into the run: at least 6 s of frames recorded.
    wait_line(&rx, |l| camera_frames(l).is_some_and(|n| n >= 6 * CAMERA_FPS));
    let seen = wait_line(&rx, |l| camera_frames(l).is_some());
    let recorded = seen.iter().rev().find_map(|l| camera_frames(l)).unwrap();
    signal(&run, "-KILL");
    let (status, _) = wait(run, Duration::from_secs(10));
    assert!(!status.success());
    // Fragmented MP4 (1 s fragments): everything but the last moments plays.
    let video = read_video(&out);
    let n = video["frames"].as_u64().unwrap();
    assert!(
        n + 3 * CAMERA_FPS >= recorded && n > 0,
        "{n} frames playable after kill -9, {recorded} had entered"
    );
    let (_, _, other) = classify(&video);
    assert_eq!(other, 0);
}
