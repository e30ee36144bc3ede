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
pub(crate) struct Camera {
    pub(crate) url: String,
    frozen: Arc<AtomicBool>,
    gates: Arc<Mutex<Vec<gst::Element>>>,
}

impl Camera {
    /// Serves at `port` (0: any free one) from a thread of this process.
    pub(crate) fn start(port: u16) -> Camera {
        Self::start_with(port, None, CAMERA_FPS)
    }

    /// [`Camera::start`], asking clients for `user` and `password` (RTSP Basic) when given.
    fn start_with_auth(port: u16, auth: Option<(&'static str, &'static str)>) -> Camera {
        Self::start_with(port, auth, CAMERA_FPS)
    }

    /// [`Camera::start`] with a key frame every `gop` frames (and `auth`).
    fn start_with(port: u16, auth: Option<(&'static str, &'static str)>, gop: u64) -> Camera {
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
                 valve name=gate ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} ! \
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
            if let Some((user, password)) = auth {
                let auth = gst_rtsp_server::RTSPAuth::new();
                let token = gst_rtsp_server::RTSPToken::builder()
                    .field(gst_rtsp_server::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
                    .build();
                auth.add_basic(
                    &gst_rtsp_server::RTSPAuth::make_basic(user, password),
                    &token,
                );
                server.set_auth(Some(&auth));
                factory.add_role_from_structure(
                    &gst::Structure::builder("viewer")
                        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                        .build(),
                );
            }
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

/// The camera process; killed when dropped (also when a test fails).
pub(crate) struct CameraProcess(Child);

impl CameraProcess {
    /// `kill -9`, as a crash or a power cut would.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for CameraProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A camera in a separate process (this test binary, running `rtsp_camera_process`), so that it
/// can be killed for real; returns once it serves.
pub(crate) fn spawn_camera(port: u16) -> CameraProcess {
    let child = Command::new(std::env::current_exe().unwrap())
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
    let mut child = CameraProcess(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("serving") {
            std::thread::spawn(move || for _ in lines {});
            return child;
        }
    }
    panic!("the camera process did not start");
}

/// Held by each test that runs a camera: one camera at a time. Each camera must send 15 frames a
/// second to a `sapiens run` keeping up with it; two such pairs beside the other tests on two
/// cores starved a camera past its stall timeout into an outage the test did not make (CI saw
/// two outages where one camera freeze was made).
pub(crate) fn one_camera_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `sapiens run` process; killed when dropped unfinished (a failed test leaves nothing running).
struct Run(Option<Child>);

impl Run {
    fn signal(&self, sig: &str) {
        signal(self.0.as_ref().unwrap(), sig);
    }

    /// Waits for the end (at most `limit`): exit status and time taken.
    fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        wait(self.0.take().unwrap(), limit)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `sapiens run` on `url` with pose (no overlay: the recording shows the camera's pixels),
/// recording to `out` with stats to `json`, `stall` seconds without a frame = camera lost (short
/// enough for a quick test, long enough that two loaded cores never starve the camera that long);
/// its stdout lines arrive on the returned channel.
fn spawn_run(
    url: &str,
    out: &std::path::Path,
    json: &std::path::Path,
    stall: &str,
    extra: &[&str],
) -> (Run, mpsc::Receiver<String>) {
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
            stall,
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
        // Not fatal_warnings: fallbacksrc's restart logs one critical the CLI knows to be
        // harmless (see logging.rs); `assert_clean_stderr` checks that nothing else is logged.
        .env_remove("G_DEBUG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr_path(out)).unwrap())
        .spawn()
        .expect("the sapiens binary");
    let rx = stdout_lines(&mut child);
    (Run(Some(child)), rx)
}

/// The lines `child` writes on its stdout (piped), as they come.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Where `spawn_run` writes the run's stderr.
fn stderr_path(out: &std::path::Path) -> std::path::PathBuf {
    out.with_extension("stderr.txt")
}

/// The run logged no GLib/GStreamer warning or critical on stderr, but for one seen in about
/// one run in ten while a camera reconnects, from inside gst-plugins-rs's fallbacksrc (README,
/// known issues).
fn assert_clean_stderr(out: &std::path::Path) {
    let err = std::fs::read_to_string(stderr_path(out)).unwrap();
    let bad = err.lines().filter(|l| {
        (l.contains("CRITICAL **") || l.contains("WARNING **"))
            && !l.contains("gst_event_set_seqnum: assertion 'seqnum != GST_SEQNUM_INVALID'")
    });
    assert_eq!(bad.count(), 0, "{err}");
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

/// Frames out of the first head so far, from its live line.
fn head_frames(line: &str) -> Option<u64> {
    line.strip_prefix("[head0] frames")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Camera frames recorded so far, from a `[camera]` live line.
fn camera_frames(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("[camera]")?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "frames,")?;
    words.get(i - 1)?.parse().ok()
}

/// The recording as FFmpeg reads it (tests/python/read_video.py).
pub(crate) fn read_video(path: &std::path::Path) -> serde_json::Value {
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
    let _camera = one_camera_at_a_time();
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
    // A live recording is fragmented MP4: read by FFmpeg (GStreamer 1.22's qtdemux leaves out
    // the last two frames of a fragmented file, README).
    let video = read_video(&out);
    let frames = video["frames"].as_u64().unwrap();
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
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
    let _camera = one_camera_at_a_time();
    let port = free_port();
    let mut cam = spawn_camera(port);
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let dir = scratch("rtsp-kill");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let frames = 20 * CAMERA_FPS;
    let (run, rx) = spawn_run(
        &url,
        &out,
        &json,
        "3",
        &["--max-frames", &frames.to_string()],
    );
    wait_line(&rx, |l| {
        camera_frames(l).is_some_and(|n| n >= 2 * CAMERA_FPS)
    });
    cam.kill();
    let lost = wait_line(&rx, |l| l.starts_with("WARNING: camera lost"));
    std::thread::sleep(Duration::from_secs(4));
    let _cam = spawn_camera(port);
    let back = wait_line(&rx, |l| l.starts_with("camera back after"));
    let (status, _) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}; {lost:?} {back:?}");
    assert_clean_stderr(&out);

    let v = stats(&json);
    let (c, head) = (&v["camera"], &v["heads"][0]["stats"]);
    println!(
        "{}\n{}\ncamera: {c}",
        lost.last().unwrap(),
        back.last().unwrap()
    );
    assert_eq!(c["outages"], 1, "{v}");
    assert!(c["reconnects"].as_u64().unwrap() >= 1, "{v}");
    // About 5.5 s without the camera (4 s down + detection + reconnection) at 15 fps.
    let no_signal = c["no_signal_frames"].as_u64().unwrap();
    assert!(
        (3 * CAMERA_FPS..=12 * CAMERA_FPS).contains(&no_signal),
        "{v}"
    );
    // Every frame is accounted for: the camera's and the stand-ins entered the head and left it
    // (the source counts the few it sent past --max-frames before EOS too).
    assert_eq!(head["frames_in"], frames, "{v}");
    let sent =
        c["camera_frames"].as_u64().unwrap() + no_signal - c["dropped_behind"].as_u64().unwrap();
    assert!((frames..=frames + CAMERA_FPS).contains(&sent), "{v}");
    assert_eq!(head["frames_out"], frames, "{v}");

    // The recording, read by FFmpeg: every frame, each either the camera's picture or black
    // (no frame decoded from missing references after the reconnection), timeline at 15 fps.
    let video = read_video(&out);
    assert_eq!(video["frames"], frames, "{}", video["fps"]);
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    let (pictures, black, other) = classify(&video);
    assert_eq!(other, 0, "corrupt frames in the recording");
    // Frames dropped because the pipeline was behind may be either kind.
    let behind = c["dropped_behind"].as_u64().unwrap();
    assert!(
        black <= no_signal + 2 && black + behind + 2 >= no_signal,
        "{black} black frames recorded, {no_signal} no-signal frames counted, {behind} dropped"
    );
    assert_eq!(pictures + black, frames);
}

#[test]
fn a_frozen_camera_is_detected_and_recovered() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    // Another client keeps the camera's stream going, so the run reconnects into the middle of
    // a group of pictures: it must wait for the next key frame rather than show frames decoded
    // from missing references.
    let watcher = launch(&format!(
        "rtspsrc location={} protocols=tcp ! fakesink sync=false",
        camera.url
    ));
    watcher.set_state(gst::State::Playing).unwrap();
    let dir = scratch("rtsp-freeze");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let frames = 16 * CAMERA_FPS;
    let (run, rx) = spawn_run(
        &camera.url,
        &out,
        &json,
        "2",
        &["--max-frames", &frames.to_string()],
    );
    wait_line(&rx, |l| {
        camera_frames(l).is_some_and(|n| n >= 2 * CAMERA_FPS)
    });
    camera.freeze(true);
    let t = Instant::now();
    let lost = wait_line(&rx, |l| l.starts_with("WARNING: camera lost"));
    let detected = t.elapsed();
    // While frozen the live line keeps warning (the frame count does not move on).
    wait_line(&rx, |l| {
        l.starts_with("WARNING: no frame from the camera for")
    });
    std::thread::sleep(Duration::from_secs(4).saturating_sub(t.elapsed()));
    camera.freeze(false);
    let frozen = t.elapsed();
    let back = wait_line(&rx, |l| l.starts_with("camera back after"));
    // The figures the lines give (issue 27: "no frame for 0.4 s" after 5 s without one, and an
    // outage length without the stall window).
    let seconds = |line: &str, after: &str| -> f64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let since = seconds(lost.last().unwrap(), "no frame for ");
    let outage = seconds(back.last().unwrap(), "camera back after ");
    assert!(
        (1.9..6.0).contains(&since),
        "lost after {since} s without a frame (stall timeout 2 s)"
    );
    assert!(
        outage >= frozen.as_secs_f64() - 0.5,
        "an outage of {outage} s reported, the camera was frozen {frozen:?}"
    );
    let (status, _) = run.finish(Duration::from_secs(60));
    watcher.set_state(gst::State::Null).unwrap();
    assert!(status.success());
    assert_clean_stderr(&out);
    assert!(
        detected < Duration::from_secs(4),
        "stall detected after {detected:?} (stall timeout 2 s)"
    );
    let v = stats(&json);
    assert_eq!(v["camera"]["outages"], 1, "{v}");
    assert_eq!(v["heads"][0]["stats"]["frames_out"], frames, "{v}");
    let video = read_video(&out);
    assert_eq!(video["frames"], frames);
    let (_, black, other) = classify(&video);
    assert_eq!(other, 0, "corrupt frames in the recording");
    assert!(black > 0);
    // No hole in the recording's timeline where the stall was being noticed: the first
    // no-signal frame follows the camera's last frame (before, it came 2.4 s later: the stall
    // timeout and the switch; frames dropped because the pipeline is behind stay under 0.5 s). (At the camera's return a gap of up to about a second can remain:
    // the stand-ins' catch-up unfinished or the reconnection's key frame; README.)
    let times: Vec<f64> = video["time_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let means = video["mean"].as_array().unwrap();
    let first_black = means
        .iter()
        .position(|m| m.as_f64().unwrap() < 20.0)
        .unwrap();
    let gap = times[first_black] - times[first_black - 1];
    assert!(
        gap < 0.5,
        "the no-signal frames begin {gap:.2} s after the camera's last frame"
    );
}

#[test]
fn a_live_recording_survives_kill_9() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let dir = scratch("rtsp-kill9");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let (run, rx) = spawn_run(&camera.url, &out, &json, "3", &[]);
    // Well into the run: at least 6 s of frames out of the head (on their way to the file).
    let seen = wait_line(&rx, |l| head_frames(l).is_some_and(|n| n >= 6 * CAMERA_FPS));
    let recorded = seen.iter().rev().find_map(|l| head_frames(l)).unwrap();
    run.signal("-KILL");
    let (status, _) = run.finish(Duration::from_secs(10));
    assert!(!status.success());
    // Fragmented MP4 (1 s fragments): everything but the last moments plays (the encoder's
    // look-ahead and the fragment being written).
    let video = read_video(&out);
    let n = video["frames"].as_u64().unwrap();
    assert!(
        n + 3 * CAMERA_FPS >= recorded && n > 0,
        "{n} frames playable after kill -9, {recorded} had left the head"
    );
    let (_, _, other) = classify(&video);
    assert_eq!(other, 0);
}

#[test]
fn sigterm_on_a_camera_run_finalizes_the_recording() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let dir = scratch("rtsp-sigterm");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let (run, rx) = spawn_run(&camera.url, &out, &json, "3", &[]);
    wait_line(&rx, |l| {
        camera_frames(l).is_some_and(|n| n >= 2 * CAMERA_FPS)
    });
    run.signal("-TERM");
    let (status, took) = run.finish(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}");
    assert!(
        took < Duration::from_secs(5),
        "ended {took:?} after SIGTERM"
    );
    let v = stats(&json);
    let video = read_video(&out);
    assert_eq!(video["frames"], v["heads"][0]["stats"]["frames_out"], "{v}");
}

/// `gst-launch-1.0 -e` with the plugin: the source bin is usable outside the CLI, and Ctrl-C
/// (EOS through `sapienscamsrc`) leaves a finished recording.
#[test]
fn gst_launch_users_get_the_camera_source_too() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let out = scratch("rtsp-launch").join("cam.mp4");
    let plugin_dir = root().join("target/debug");
    assert!(
        plugin_dir.join("libgstsapiens.so").is_file(),
        "build the plugin first: cargo build --workspace (make test does)"
    );
    let line = format!(
        "sapienscamsrc uri={} protocols=tcp stall-timeout-ms=2000 ! videoconvert ! \
         sapienspose config={} ! sapiensoverlay ! videoconvert ! x264enc ! h264parse ! \
         mp4mux fragment-duration=1000 ! filesink location={}",
        camera.url,
        config("pose-tiny-coco17.toml").display(),
        out.display()
    );
    let child = Command::new("gst-launch-1.0")
        .arg("-e")
        .args(line.split_whitespace())
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0");
    std::thread::sleep(Duration::from_secs(4));
    signal(&child, "-INT");
    let (status, _) = wait(child, Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}");
    let video = read_video(&out);
    let n = video["frames"].as_u64().unwrap();
    assert!(n >= CAMERA_FPS, "{n} frames in 4 s");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
}

/// A camera whose key frames are seconds apart (many are: a GOP of two to four seconds) is
/// connected at the first attempt with the default flags: the attempt has `--stall-timeout` to
/// bring its first frame (the soak of issue 27 found every attempt cut after `--retry-delay`,
/// 1 s, before a key frame two seconds apart arrived: it never connected).
#[test]
fn a_camera_with_key_frames_seconds_apart_connects_at_the_first_attempt() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start_with(0, None, 3 * CAMERA_FPS);
    // Another client keeps the stream going, so the run joins in the middle of a group of
    // pictures (as with a real camera), up to 3 s before the next key frame.
    let watcher = launch(&format!(
        "rtspsrc location={} protocols=tcp ! fakesink sync=false",
        camera.url
    ));
    watcher.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (out, stats) = sapiens_run(
        "rtsp-gop",
        &[
            "--input",
            &camera.url,
            "--config",
            config("pose-tiny-coco17.toml").to_str().unwrap(),
            "--max-frames",
            "10",
            "--policy",
            "skip",
        ],
    );
    watcher.set_state(gst::State::Null).unwrap();
    assert_eq!(stats["camera"]["reconnects"], 0, "{stats}");
    assert!(read_video(&out)["frames"].as_u64().unwrap() > 0);
}

/// UDP sockets `pid` holds bound to every interface (0.0.0.0 or ::), from /proc.
fn udp_on_every_interface(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut open = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            let any = f[1]
                .split(':')
                .next()
                .is_some_and(|a| a.chars().all(|c| c == '0'));
            if any && inodes.iter().any(|i| i == f[9]) {
                open.push(format!("{table} {}", f[1]));
            }
        }
    }
    open
}

/// By default a camera's video comes over the RTSP TCP connection: the run opens no UDP port
/// on every interface (issue 27: rtspsrc's UDP first bound its RTP/RTCP ports on 0.0.0.0).
/// Serving beyond loopback warns that anyone who reaches the machine can watch.
#[test]
fn a_camera_run_opens_no_port_to_the_network_by_default() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let out = scratch("rtsp-exposure").join("rec.mp4");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i", &camera.url, "-c"])
        .arg(config("pose-tiny-coco17.toml"))
        .args(["--stats-interval", "0.5", "--no-overlay", "-o"])
        .arg(&out)
        .args(["--rtsp-serve", &format!("0.0.0.0:{port}/s")])
        .env_remove("G_DEBUG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr_path(&out)).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let rx = stdout_lines(&mut child);
    let run = Run(Some(child));
    wait_line(&rx, |l| camera_frames(l).is_some_and(|n| n >= CAMERA_FPS));
    let udp = udp_on_every_interface(pid);
    run.signal("-TERM");
    let (status, _) = run.finish(Duration::from_secs(30));
    assert!(status.success());
    assert!(udp.is_empty(), "UDP ports open on every interface: {udp:?}");
    let err = std::fs::read_to_string(stderr_path(&out)).unwrap();
    assert!(
        err.contains(&format!(
            "serving rtsp://0.0.0.0:{port}/s on every interface without authentication"
        )),
        "{err}"
    );
}

/// A camera that cannot be reached says why, on its first failed attempt and in the live line
/// (a refused port, a path the server does not serve, credentials missing or refused), and a run whose camera never sends a
/// first frame ends after `--first-frame-timeout` (or `--give-up`, the sooner) with an error
/// naming the camera and the cause; no empty recording is left behind (issue 27: a refused URL
/// retried forever, saying only "waiting for the camera's first frame").
#[test]
fn an_unreachable_camera_says_why_and_is_given_up() {
    let _camera = one_camera_at_a_time();
    let camera = Camera::start(0);
    let port = free_port();
    let wrong_path = camera.url.replace("/cam", "/nothere");
    let locked = Camera::start_with_auth(0, Some(("viewer", "s3cret")));
    let wrong_password = locked.url.replace("rtsp://", "rtsp://viewer:guess@");
    let cases = [
        (
            format!("rtsp://127.0.0.1:{port}/cam"),
            ["--first-frame-timeout", "3"],
            format!("connection refused by 127.0.0.1:{port}"),
            "(first-frame-timeout-s=3)",
        ),
        (
            wrong_path.clone(),
            ["--give-up", "2"],
            "no stream at path /nothere".to_string(),
            "(give-up-s=2; 0 keeps retrying)",
        ),
        (
            locked.url.clone(),
            ["--first-frame-timeout", "3"],
            "the camera needs a user and password".to_string(),
            "(first-frame-timeout-s=3)",
        ),
        (
            wrong_password,
            ["--first-frame-timeout", "3"],
            "authentication failed: the camera refused user 'viewer'".to_string(),
            "(first-frame-timeout-s=3)",
        ),
    ];
    for (url, limit, cause, setting) in cases {
        // Messages show the URL without its password.
        let shown = url.replace(":guess@", ":***@");
        let out = scratch("rtsp-giveup").join("rec.mp4");
        let t = Instant::now();
        let run = Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["run", "-i", &url, "-c"])
            .arg(config("pose-tiny-coco17.toml"))
            .args(limit)
            .args(["--retry-delay", "0.5", "--stats-interval", "0.5", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let (stdout, err) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        assert!(!run.status.success());
        assert!(
            err.contains(&format!("camera {shown}: {cause}")) && err.contains("(attempt 1;"),
            "the first failure says why: {err}"
        );
        assert!(
            err.contains(&format!("{shown} never delivered a frame"))
                && !err.contains("guess")
                && err.contains(setting)
                && err.contains(&format!("last failure: {cause}")),
            "{err}"
        );
        assert!(
            stdout.contains("waiting for the camera's first frame")
                && stdout.contains(&format!("last failure: {cause}")),
            "the live line says why: {stdout}"
        );
        assert!(!stdout.contains("guess"), "a password printed: {stdout}");
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        assert!(!out.exists(), "an empty recording was left");
    }
}

/// `--rtsp-serve`: the annotated video reaches two RTSP clients at once, each decoding it.
#[test]
fn cli_restreams_the_annotated_video_to_two_clients_at_once() {
    init();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i"])
        .arg(vtest())
        .arg("-c")
        .arg(config("pose-tiny-coco17.toml"))
        .args(["--rtsp-serve", &format!("127.0.0.1:{port}/sapiens")])
        .args(["--stats-interval", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Run(Some(child));
    let rx = stdout_lines(run.0.as_mut().unwrap());
    let url = format!("rtsp://127.0.0.1:{port}/sapiens");
    wait_line(&rx, |l| {
        l == format!("serving the annotated video at {url}")
    });
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let pipe = launch(&format!(
                "rtspsrc location={url} protocols=tcp ! rtph264depay ! avdec_h264 ! videoconvert ! \
                 video/x-raw,format=RGB ! appsink name=sink sync=false"
            ));
            pipe.set_state(gst::State::Playing).unwrap();
            pipe
        })
        .collect();
    let t = Instant::now();
    let mut got = [0u32; 2];
    while got.iter().any(|&n| n < 20) && t.elapsed() < Duration::from_secs(30) {
        for (i, pipe) in clients.iter().enumerate() {
            let sink = by_name::<gst_app::AppSink>(pipe, "sink");
            if let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
                let info = gst_video::VideoInfo::from_caps(s.caps().unwrap()).unwrap();
                assert_eq!((info.width(), info.height()), (768, 576));
                got[i] += 1;
            }
        }
    }
    for pipe in &clients {
        pipe.set_state(gst::State::Null).unwrap();
    }
    drop(run);
    assert!(
        got.iter().all(|&n| n >= 20),
        "frames decoded by each client: {got:?}"
    );
}

/// `--rtsp-serve` with a recording, stopped by SIGINT while a client watches: the server shuts
/// down cleanly (exit 0, no panic, no GLib critical: issue 27 saw `Source ID 1 was not found`,
/// then a panic in the server thread, hidden by exit 0), the recording plays; a port already
/// taken is refused up front as "address in use", leaving no file.
#[test]
fn a_served_run_stops_cleanly_and_a_taken_port_is_named() {
    init();
    let port = free_port();
    let dir = scratch("serve-stop");
    let out = dir.join("rec.mp4");
    let spawn = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["run", "-i"])
            .arg(vtest())
            .arg("-c")
            .arg(config("pose-tiny-coco17.toml"))
            .args(["--rtsp-serve", &format!("127.0.0.1:{port}/s")])
            .args(["--stats-interval", "0", "-o"])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_path(out)).unwrap())
            .spawn()
            .unwrap()
    };
    let mut run = Run(Some(spawn(&out)));
    let rx = stdout_lines(run.0.as_mut().unwrap());
    let url = format!("rtsp://127.0.0.1:{port}/s");
    wait_line(&rx, |l| l.starts_with("serving the annotated video"));
    assert!(client_frames(&url, 5, Duration::from_secs(30)) >= 5);
    run.signal("-INT");
    let (status, _) = run.finish(Duration::from_secs(60));
    let err = std::fs::read_to_string(stderr_path(&out)).unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("CRITICAL"),
        "{err}"
    );
    let (frames, _, _, _) = crate::pipeline::read_back(&out);
    assert!(frames > 0);

    let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let second = dir.join("second.mp4");
    let run = Run(Some(spawn(&second)));
    let (status, _) = run.finish(Duration::from_secs(30));
    let err = std::fs::read_to_string(stderr_path(&second)).unwrap();
    assert!(!status.success());
    assert!(
        err.contains(&format!("cannot serve {url}: address in use")),
        "{err}"
    );
    assert!(!second.exists(), "an empty recording was left");
}

/// Frames an `rtspsrc` client decodes from `url` within `limit` (it stops at `want`).
fn client_frames(url: &str, want: u32, limit: Duration) -> u32 {
    let pipe = launch(&format!(
        "rtspsrc location={url} protocols=tcp ! rtph264depay ! avdec_h264 ! appsink name=sink sync=false"
    ));
    pipe.set_state(gst::State::Playing).unwrap();
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    let (t, mut n) = (Instant::now(), 0);
    while n < want && t.elapsed() < limit {
        if sink
            .try_pull_sample(gst::ClockTime::from_mseconds(100))
            .is_some()
        {
            n += 1;
        }
    }
    pipe.set_state(gst::State::Null).unwrap();
    n
}

/// `sapiensrtspsink` in a `gst-launch-1.0` pipeline serves a client; a port already taken is an
/// error naming the URL.
#[test]
fn gst_launch_users_serve_rtsp_with_the_sink_element() {
    init();
    let port = free_port();
    let plugin_dir = root().join("target/debug");
    let launch_line = format!(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! \
         sapiensrtspsink port={port} path=/test"
    );
    let server = Command::new("gst-launch-1.0")
        .args(launch_line.split_whitespace())
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Run(Some(server));
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("rtsp://127.0.0.1:{port}/test");
    let n = client_frames(&url, 10, Duration::from_secs(30));
    assert!(n >= 10, "{n} frames decoded from {url}");
    // The port is taken now: a second server says so.
    let second = Command::new("gst-launch-1.0")
        .args(launch_line.split_whitespace())
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .output()
        .unwrap();
    drop(server);
    let text = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        text.contains(&format!("cannot serve {url}: address in use")),
        "{text}"
    );
}

/// `sapiensrtspsink credentials-file=…`: a client with the user and password gets the video
/// (digest), one without is refused; a credentials file others can read is refused at start.
#[test]
fn the_rtsp_restream_asks_for_the_credentials_of_its_file() {
    use std::os::unix::fs::PermissionsExt;
    init();
    let dir = scratch("rtsp-credentials");
    let creds = dir.join("viewer.credentials");
    std::fs::write(&creds, "viewer:s3cret-pw\n").unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let line = format!(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! \
         sapiensrtspsink port={port} path=/guarded credentials-file=\"{}\"",
        creds.display()
    );
    // Readable by others: refused, naming the file and the fix.
    let pipe = launch(&line);
    assert!(pipe.set_state(gst::State::Playing).is_err());
    let msg = pipe.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
    let text = match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => e.error().to_string(),
        other => panic!("no error: {other:?}"),
    };
    assert!(
        text.contains("viewer.credentials") && text.contains("chmod 600"),
        "{text}"
    );
    pipe.set_state(gst::State::Null).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pipe = launch(&line);
    pipe.set_state(gst::State::Playing).unwrap();
    let url = format!("rtsp://127.0.0.1:{port}/guarded");
    // With the credentials: frames.
    let client = |auth: &str| {
        let c = launch(&format!(
            "rtspsrc location={url} protocols=tcp {auth} ! rtph264depay ! avdec_h264 ! \
             appsink name=sink sync=false"
        ));
        c.set_state(gst::State::Playing).unwrap();
        let sink = by_name::<gst_app::AppSink>(&c, "sink");
        let (t, mut n, mut error) = (Instant::now(), 0, None);
        while n < 5 && error.is_none() && t.elapsed() < Duration::from_secs(30) {
            if sink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
                .is_some()
            {
                n += 1;
            }
            if let Some(m) = c.bus().unwrap().pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(e) = m.view()
            {
                error = Some(e.error().to_string());
            }
        }
        c.set_state(gst::State::Null).unwrap();
        (n, error)
    };
    let (n, error) = client("user-id=viewer user-pw=s3cret-pw");
    assert!(n >= 5, "{n} frames with the credentials ({error:?})");
    // Without them, or with a wrong password: an error, no frame.
    for auth in ["", "user-id=viewer user-pw=wrong"] {
        let (n, error) = client(auth);
        assert_eq!(n, 0, "{auth:?}: frames without the right credentials");
        assert!(error.is_some(), "{auth:?}: no error");
    }
    pipe.set_state(gst::State::Null).unwrap();
}
