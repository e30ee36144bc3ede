//! Results out as JSON: `sapiensjson` records checked field by field against the metas they come
//! from, the CLI's `--json` for pose, seg and depth runs, and `--mqtt` through Debian's
//! `mosquitto` broker on 127.0.0.1, read back with `mosquitto_sub`.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The fields every record has, whatever the heads.
fn check_common(r: &serde_json::Value, frame: u64, w: u64, h: u64) {
    assert_eq!(r["schema"], "sapiens-stream/frame", "{r}");
    assert_eq!(r["version"], 1, "{r}");
    assert_eq!(r["frame"], frame, "{r}");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(w), Some(h))
    );
    assert!(r["pts_s"].as_f64().is_some(), "{r}");
}

/// Detector → tracker → pose → sapiensjson on real video: each record holds exactly the persons
/// of the pose meta on the same buffer (boxes, track ids, every keypoint with its name).
#[test]
fn json_records_hold_the_pose_metas_person_by_person() {
    init();
    let out = scratch("json-pose").join("pose.jsonl");
    let frames = 12;
    let line = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! \
         identity eos-after={frames} ! sapiensdetect backend=hog ! sapienstrack ! \
         sapienspose config=\"{}\" ! sapiensjson location=\"{}\" ! appsink name=sink sync=false",
        vtest().display(),
        config("pose-tiny-coco17.toml").display(),
        out.display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let mut metas = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        let b = s.buffer().unwrap();
        metas.push((
            b.pts().unwrap(),
            PoseResult::from_buffer(b).unwrap().unwrap(),
        ));
    }
    pipe.set_state(gst::State::Null).unwrap();
    let records = lines(&out);
    assert_eq!(records.len(), metas.len());
    let names = sapiens_stream::labels::KeypointSetId::Coco17.set();
    let mut persons = 0;
    for (i, (r, (pts, meta))) in records.iter().zip(&metas).enumerate() {
        check_common(r, i as u64, 768, 576);
        assert!((r["pts_s"].as_f64().unwrap() - pts.nseconds() as f64 / 1e9).abs() < 1e-6);
        let p = &r["pose"];
        assert_eq!(p["keypoint_set"], "coco-17");
        assert_eq!(p["untrained"], true);
        let people = p["persons"].as_array().unwrap();
        assert_eq!(people.len(), meta.persons.len(), "frame {i}");
        persons += people.len();
        for (jp, mp) in people.iter().zip(&meta.persons) {
            let b: Vec<f64> = jp["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let want = [mp.bbox.x1, mp.bbox.y1, mp.bbox.x2, mp.bbox.y2];
            assert!(
                b.iter().zip(want).all(|(a, w)| (a - w as f64).abs() < 1e-3),
                "{b:?} {want:?}"
            );
            assert_eq!(jp["id"].as_u64(), mp.id.map(u64::from), "track id");
            let kps = jp["keypoints"].as_array().unwrap();
            assert_eq!(kps.len(), 17);
            for ((jk, mk), def) in kps.iter().zip(&mp.keypoints).zip(&names.keypoints) {
                assert_eq!(jk["name"], def.name.as_str());
                for (field, want) in [("x", mk.x), ("y", mk.y), ("score", mk.score)] {
                    assert!((jk[field].as_f64().unwrap() - want as f64).abs() < 1e-3);
                }
            }
        }
    }
    assert!(
        persons > frames,
        "HOG found people on vtest: {persons} in {frames} frames"
    );
    // Timestamps increase.
    let pts: Vec<f64> = records
        .iter()
        .map(|r| r["pts_s"].as_f64().unwrap())
        .collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]));
}

/// `sapiens run --json` with seg and depth heads: one record a frame; the seg class pixels cover
/// the class map exactly; the depth foreground range is ordered.
#[test]
fn cli_json_for_seg_and_depth_runs() {
    let json = scratch("json-dense").join("dense.jsonl");
    let (video, seg, depth) = (vtest(), config("seg-tiny.toml"), config("depth-tiny.toml"));
    let args = [
        "--input",
        video.to_str().unwrap(),
        "-c",
        seg.to_str().unwrap(),
        "-c",
        depth.to_str().unwrap(),
        "--max-frames",
        "4",
        "--json",
        json.to_str().unwrap(),
    ];
    let (_, stats) = sapiens_run("json-dense", &args);
    let records = lines(&json);
    assert_eq!(
        records.len() as u64,
        stats["heads"][0]["stats"]["frames_out"].as_u64().unwrap()
    );
    assert_eq!(records.len(), 4);
    for (i, r) in records.iter().enumerate() {
        check_common(r, i as u64, 768, 576);
        assert!(r.get("pose").is_none(), "no pose head, no pose field");
        let s = &r["seg"];
        let area = s["map_width"].as_u64().unwrap() * s["map_height"].as_u64().unwrap();
        let classes = s["classes"].as_array().unwrap();
        let total: u64 = classes.iter().map(|c| c["pixels"].as_u64().unwrap()).sum();
        assert_eq!(total, area, "{s}");
        for c in classes {
            let id = c["id"].as_u64().unwrap() as usize;
            assert_eq!(
                c["name"],
                sapiens_stream::labels::SegClassSetId::GoliathSeg28.classes()[id]
                    .name
                    .as_str()
            );
        }
        let d = &r["depth"];
        assert_eq!(d["masked"], true, "seg upstream masks depth: {d}");
        if let Some(fg) = d["foreground"].as_object() {
            assert!(
                fg["min"].as_f64().unwrap() <= fg["max"].as_f64().unwrap(),
                "{d}"
            );
        }
    }
}

/// A `mosquitto` broker on a free loopback port; killed when dropped.
struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    fn start() -> Broker {
        let port = free_port();
        let conf = scratch("mqtt").join(format!("mosquitto-{port}.conf"));
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt mosquitto; scripts/setup.sh installs it)");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, port }
    }

    /// `mosquitto_sub` waiting for `n` messages on `topic` (at most a minute).
    fn subscribe(&self, topic: &str, n: usize) -> Child {
        let child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", topic])
            .args(["-q", "1", "-C", &n.to_string(), "-W", "60"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (apt mosquitto-clients)");
        // Subscribed before anything is published (the broker keeps nothing for late comers).
        std::thread::sleep(Duration::from_millis(500));
        child
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sapiens run --mqtt`: one message per frame reaches a subscriber, each the frame's record.
#[test]
fn cli_publishes_one_mqtt_message_per_frame() {
    let broker = Broker::start();
    let frames = 6;
    let sub = broker.subscribe("sapiens/cam1", frames);
    let (video, cfg) = (vtest(), config("pose-tiny-coco17.toml"));
    let target = format!("127.0.0.1:{}/sapiens/cam1", broker.port);
    let args = [
        "--input",
        video.to_str().unwrap(),
        "-c",
        cfg.to_str().unwrap(),
        "--max-frames",
        &frames.to_string(),
        "--mqtt",
        &target,
    ];
    let (_, stats) = sapiens_run("mqtt", &args);
    assert_eq!(stats["heads"][0]["stats"]["frames_out"], frames as u64);
    let out = sub.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mosquitto_sub got fewer than {frames} messages"
    );
    let msgs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(msgs.len(), frames);
    for (i, m) in msgs.iter().enumerate() {
        check_common(m, i as u64, 768, 576);
        assert_eq!(
            m["pose"]["persons"].as_array().unwrap().len(),
            1,
            "whole frame, one person"
        );
    }
}

/// `--json -`: stdout holds the records only (the run's own messages go to stderr).
#[test]
fn cli_json_on_stdout_is_only_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i"])
        .arg(vtest())
        .arg("-c")
        .arg(config("pose-tiny-coco17.toml"))
        .args([
            "--max-frames",
            "3",
            "--json",
            "-",
            "--stats-interval",
            "0.1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("== summary"));
}

/// A broker that is not there, and a target that is not HOST:PORT/TOPIC, are refused with the
/// reason, before any frame.
#[test]
fn mqtt_targets_are_checked_up_front() {
    let port = free_port();
    for (target, says) in [
        (
            format!("127.0.0.1:{port}/t"),
            "Connection refused".to_string(),
        ),
        ("localhost/t".to_string(), "HOST:PORT/TOPIC".to_string()),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sapiens"))
            .args(["run", "-i"])
            .arg(vtest())
            .arg("-c")
            .arg(config("pose-tiny-coco17.toml"))
            .args(["--mqtt", &target])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{target} accepted");
        assert!(err.contains(&says), "{target}: {err}");
    }
}

/// The element in a `gst-launch-1.0` pipeline, writing JSON lines to stdout.
#[test]
fn gst_launch_users_get_json_on_stdout() {
    let plugin_dir = root().join("target/debug");
    assert!(
        plugin_dir.join("libgstsapiens.so").is_file(),
        "build the plugin first: cargo build --workspace (make test does)"
    );
    let line = format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=320,height=240 ! videoconvert ! \
         sapienspose config={} ! sapiensjson location=- ! fakesink",
        config("pose-tiny-coco17.toml").display()
    );
    let records = json_lines_of(
        Command::new("gst-launch-1.0")
            .arg("-q")
            .args(line.split_whitespace())
            .env("GST_PLUGIN_PATH", &plugin_dir),
    );
    assert_eq!(records.len(), 3);
    for (i, r) in records.iter().enumerate() {
        check_common(r, i as u64, 320, 240);
    }
}
