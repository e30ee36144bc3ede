//! A recording is never lost: `sapiens run` stopped by SIGTERM (what systemd and docker send) or
//! SIGINT finalizes its MP4, writes its summary and stats, and exits 0; a second signal stops
//! faster, still with a playable file. Bad flags are refused before anything runs.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::pipeline::read_back;

/// Starts `sapiens run` on the whole of vtest.avi (795 frames: it is still running when
/// signalled) recording to `out`, stats to `json`.
fn spawn_run(out: &std::path::Path, json: &std::path::Path) -> Child {
    spawn_run_with(out, json, &config("pose-tiny-coco17.toml"), &[])
}

/// `spawn_run` with a pose config and more flags.
fn spawn_run_with(
    out: &std::path::Path,
    json: &std::path::Path,
    cfg: &std::path::Path,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i"])
        .arg(vtest())
        .args(["-c"])
        .arg(cfg)
        .args(extra)
        .args([
            "--execution-provider",
            "cpu",
            "--stats-interval",
            "0.5",
            "-o",
        ])
        .arg(out)
        .arg("--stats-json")
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sapiens binary")
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Waits for `child` at most `limit`; its exit status and how long it took.
pub(crate) fn wait(mut child: Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, t.elapsed());
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("sapiens run still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the run has recorded something (its live line says frames went out).
fn wait_running(child: &mut Child) {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("[head0] frames") && !l.contains("frames      0") => break,
            Some(_) => {}
            None => panic!("sapiens run ended before it was signalled"),
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
}

#[test]
fn sigterm_finalizes_the_recording_and_writes_the_stats() {
    let dir = scratch("sigterm");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let mut child = spawn_run(&out, &json);
    wait_running(&mut child);
    signal(&child, "-TERM");
    let (status, took) = wait(child, Duration::from_secs(60));
    assert!(status.success(), "exit {status:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let frames_out = v["heads"][0]["stats"]["frames_out"].as_u64().unwrap();
    assert!(
        frames_out > 0 && frames_out < 795,
        "stopped mid-video: {frames_out}"
    );
    let (frames, w, h, _) = read_back(&out);
    assert_eq!((w, h), (768, 576));
    assert_eq!(
        frames, frames_out,
        "every frame that left the head is in the playable file"
    );
    assert!(
        took < Duration::from_secs(30),
        "ended {took:?} after SIGTERM"
    );
}

#[test]
fn a_second_signal_stops_fast_and_the_file_still_plays() {
    let dir = scratch("sigint2");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let mut child = spawn_run(&out, &json);
    wait_running(&mut child);
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "-INT");
    let (status, took) = wait(child, Duration::from_secs(40));
    assert!(status.success(), "exit {status:?}");
    let (frames, _, _, _) = read_back(&out);
    assert!(frames > 0, "a playable file");
    assert!(
        took < Duration::from_secs(20),
        "ended {took:?} after the second signal"
    );
    assert!(json.is_file(), "stats written");
}

/// One signal and heads slower than `--stop-timeout` to drain: the run stops fast when that
/// time is up (the frames still inside are dropped), with a playable file of what left the head.
#[test]
fn a_signal_stops_fast_once_the_stop_timeout_is_up() {
    let dir = scratch("stop-timeout");
    let (out, json) = (dir.join("rec.mp4"), dir.join("stats.json"));
    let flags = ["--max-inflight", "16", "--stop-timeout", "0.5"];
    let mut child = spawn_run_with(&out, &json, &slow_pose_config(), &flags);
    wait_running(&mut child);
    signal(&child, "-TERM");
    let (status, took) = wait(child, Duration::from_secs(40));
    assert!(status.success(), "exit {status:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let head = &v["heads"][0]["stats"];
    let (frames_in, frames_out) = (
        head["frames_in"].as_u64().unwrap(),
        head["frames_out"].as_u64().unwrap(),
    );
    // 16 frames in flight at ≈ 115 ms each: draining them all would take about 2 s.
    assert!(frames_out < frames_in, "nothing was left to drop: {head}");
    // Playable, with what reached the encoder before the EOS sent straight into it (a frame
    // between the head and the encoder then may be dropped too).
    let (frames, _, _, _) = read_back(&out);
    assert!(
        frames > 0 && frames <= frames_out,
        "{frames} frames in the file, {frames_out} left the head"
    );
    assert!(
        took < Duration::from_secs(15),
        "ended {took:?} after SIGTERM"
    );
}

/// `--max-frames` ends a file run however long the frames inside the heads take to drain: the
/// stop timeout is for signals only (CI saw a slow machine stop fast after 10 s and lose the
/// frames still inside the heads). The slow model (≈ 115 ms a frame) with 8 frames in flight
/// needs about 1 s to drain, far past a 0.2 s stop timeout.
#[test]
fn the_frames_limit_drains_every_frame_however_long_it_takes() {
    let cfg = slow_pose_config();
    let (out, stats) = sapiens_run(
        "limit-drain",
        &[
            "--input",
            vtest().to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--max-frames",
            "12",
            "--max-inflight",
            "8",
            "--stop-timeout",
            "0.2",
        ],
    );
    let head = &stats["heads"][0]["stats"];
    assert_eq!(
        (&head["frames_in"], &head["frames_out"]),
        (&12.into(), &12.into()),
        "{stats}"
    );
    let (frames, _, _, _) = read_back(&out);
    assert_eq!(frames, 12, "every frame in the recording");
}

#[test]
fn bad_flags_and_paths_are_refused_before_the_run() {
    let cases: [(&[&str], &str); 13] = [
        (&["--rtsp-serve", "8554"], "ADDRESS:PORT/PATH"),
        (&["--mqtt", "broker"], "HOST:PORT/TOPIC"),
        (&["--stall-timeout", "0"], "0.1..=600"),
        (&["--retry-delay=-1"], "0..=600"),
        (&["--rtsp-transport", "sctp"], "tcp"),
        (&["--fragment", "nan"], "0..=3600"),
        (&["--max-inflight", "0"], "1..=64"),
        (&["--interval", "0"], "1..=1000"),
        (&["--batch-size", "65"], "1..=64"),
        (&["--stats-interval", "inf"], "0..=86400"),
        (&["--stop-timeout", "0"], "0.1..=3600"),
        (
            &["--stats-json", "/nonexistent-dir/s.json"],
            "does not exist",
        ),
        (&["--output", "/nonexistent-dir/o.mp4"], "does not exist"),
    ];
    for (flags, says) in cases {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["run", "-i"])
            .arg(vtest())
            .arg("-c")
            .arg(config("pose-tiny-coco17.toml"))
            .args(flags)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} accepted");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(
            !err.contains(".rs:") && !err.contains("panicked"),
            "{flags:?}: {err}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{flags:?} refused only after a run"
        );
    }
}
