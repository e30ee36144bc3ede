//! `sapiensanalytics`: zones and lines over scripted tracks, keypoint anchors through the
//! analytic pose model, and the whole CLI on vtest.avi. Expected frames are worked out by hand
//! from each script (comments give the arithmetic).
use std::path::{Path, PathBuf};

use gst::prelude::*;
use gst_video::VideoFormat;

use crate::common::*;

/// Frame period of the scripts, ms (25 fps).
const FRAME_MS: u64 = 40;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A box-bottom door line at x = 160 (in = right) and a 1 s dwell, crowded-at-2 zone.
const RULES: &str = r#"
schema_version = 1
[defaults]
margin = 8
forget_after = 1.0
[[line]]
name = "door"
points = [[160, 0], [160, 240]]
in = [300, 120]
[[zone]]
name = "counter"
polygon = [[200, 40], [300, 40], [300, 200], [200, 200]]
dwell = 1.0
crowded = 2
"#;

/// A black 320×240 RGB frame at `i` × 40 ms.
fn black(i: u64) -> (gst::Buffer, gst_video::VideoInfo) {
    painted_frame(VideoFormat::Rgb, 320, 240, i * FRAME_MS, |_, _| [0, 0, 0])
}

/// Adds a tracked person ROI (as `sapienstrack` writes it) whose box bottom centre is (x, y).
fn tracked(buf: &mut gst::Buffer, id: u32, x: u32, y: u32) {
    let mut roi = gst_video::VideoRegionOfInterestMeta::add(
        buf.get_mut().unwrap(),
        "person",
        (x - 10, y - 60, 20, 60),
    );
    roi.set_id(id as i32);
    roi.add_param(gst::Structure::builder("tracking").field("id", id).build());
}

/// Runs `frames` through `appsrc ! {chain} ! appsink`; the buffers out and the element
/// messages named `sapiens-analytics-event`, in order.
fn run(
    chain: &str,
    info: &gst_video::VideoInfo,
    frames: Vec<gst::Buffer>,
) -> (Vec<gst::Buffer>, Vec<gst::Structure>) {
    init();
    let pipe = launch(&format!(
        "appsrc name=src format=time ! {chain} ! appsink name=sink sync=false"
    ));
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    src.set_caps(Some(&info.to_caps().unwrap()));
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    for b in frames {
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(s.buffer_owned().unwrap());
    }
    let bus = pipe.bus().unwrap();
    let mut messages = Vec::new();
    while let Some(m) = bus.pop() {
        match m.view() {
            gst::MessageView::Element(e) => {
                let s = e.structure().unwrap();
                if s.name() == "sapiens-analytics-event" {
                    messages.push(s.to_owned());
                }
            }
            gst::MessageView::Error(e) => panic!("{}: {:?}", e.error(), e.debug()),
            _ => {}
        }
    }
    pipe.set_state(gst::State::Null).unwrap();
    (out, messages)
}

/// Every event of `buffers`' metas: (frame index, type, rule, id).
fn events(buffers: &[gst::Buffer]) -> Vec<(u64, String, String, Option<u32>)> {
    buffers
        .iter()
        .flat_map(|b| {
            let i = b.pts().unwrap().mseconds() / FRAME_MS;
            let a = sapiens_stream::meta::analytics::from_buffer(b)
                .unwrap()
                .expect("every frame leaves with an analytics meta");
            a.events
                .into_iter()
                .map(move |e| (i, e.kind.as_str().to_string(), e.rule, e.id))
        })
        .collect()
}

#[test]
fn scripted_tracks_give_crossings_stays_crowding_and_loss_at_the_right_frames() {
    let dir = scratch("analytics-script");
    let rules = write(&dir, "rules.toml", RULES);
    let json = dir.join("records.jsonl");
    // Track 7: box bottom at y = 180, x = 102 + 5i to frame 30 (252), there until frame 70, then
    // x = 252 − 5(i − 70) back to 102 at frame 100. Track 9 stands at (260, 150) in frames
    // 40..=60, then disappears.
    let x7 = |i: u64| match i {
        0..=30 => 102 + 5 * i,
        31..=70 => 252,
        _ => 252 - 5 * (i - 70),
    };
    let mut frames = Vec::new();
    let mut info = None;
    for i in 0..=100u64 {
        let (mut b, inf) = black(i);
        tracked(&mut b, 7, x7(i) as u32, 180);
        if (40..=60).contains(&i) {
            tracked(&mut b, 9, 260, 150);
        }
        frames.push(b);
        info = Some(inf);
    }
    let (out, messages) = run(
        &format!(
            "sapiensanalytics config=\"{}\" ! sapiensjson location=\"{}\"",
            rules.display(),
            json.display()
        ),
        &info.unwrap(),
        frames,
    );
    assert_eq!(out.len(), 101, "every frame leaves");
    let s = |v: &str| v.to_string();
    let want = vec![
        // In once x ≥ 160 + 8: 102 + 5i ≥ 168 → i = 14.
        (14, s("line_crossed"), s("door"), Some(7)),
        // Inside once x > 200: i = 20 (x = 202).
        (20, s("zone_entered"), s("counter"), Some(7)),
        // Track 9 appears inside: occupancy 2 = crowded.
        (40, s("zone_entered"), s("counter"), Some(9)),
        (40, s("crowded"), s("counter"), None),
        // 1 s = 25 frames after entering.
        (45, s("dwell_exceeded"), s("counter"), Some(7)),
        // Out of the zone once 8 px past x = 200: 252 − 5j ≤ 192 → j = 12, frame 82.
        (82, s("zone_left"), s("counter"), Some(7)),
        // Track 9 last seen at frame 60; more than 1 s later is frame 86 (26 frames).
        (86, s("zone_left"), s("counter"), Some(9)),
        // Out once x ≤ 152: j = 20, frame 90.
        (90, s("line_crossed"), s("door"), Some(7)),
    ];
    assert_eq!(events(&out), want);
    // The bus got the same events, with their details.
    let got: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                (m.get::<f64>("pts-s").unwrap() * 1000.0 / FRAME_MS as f64).round() as u64,
                m.get::<String>("type").unwrap(),
                m.get::<String>("rule").unwrap(),
                m.get::<u32>("id").ok(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let dir_of = |m: &gst::Structure| m.get::<String>("direction").ok();
    assert_eq!(dir_of(&messages[0]).as_deref(), Some("in"));
    assert_eq!(dir_of(&messages[7]).as_deref(), Some("out"));
    // No pose meta: the default ankle anchor fell back to the box's bottom centre, and says so.
    assert_eq!(messages[0].get::<String>("anchor").unwrap(), "box-bottom");
    assert_eq!(messages[0].get::<f32>("x").unwrap(), 172.0);
    let dwell = |m: &gst::Structure| m.get::<f64>("dwell-s").unwrap();
    assert!((dwell(&messages[5]) - 62.0 * 0.04).abs() < 1e-6);
    assert!((dwell(&messages[6]) - 20.0 * 0.04).abs() < 1e-6);
    assert_eq!(messages[6].get::<String>("reason").unwrap(), "lost");
    assert_eq!(messages[3].get::<u32>("occupancy").unwrap(), 2);
    // The JSON records carry the same: per frame zones, lines and events.
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 101);
    let a = &records[50]["analytics"];
    assert_eq!(a["zones"][0]["occupancy"], 2);
    assert_eq!(a["zones"][0]["ids"], serde_json::json!([7, 9]));
    assert_eq!(a["zones"][0]["crowded"], true);
    // Track 7 inside since frame 20: 30 frames.
    let stay = a["persons"][0]["zones"][0]["dwell_s"].as_f64().unwrap();
    assert!((stay - 1.2).abs() < 1e-6, "{stay}");
    assert_eq!(
        a["lines"][0],
        serde_json::json!({"name": "door", "in": 1, "out": 0})
    );
    let last = &records[100]["analytics"];
    assert_eq!(
        last["lines"][0],
        serde_json::json!({"name": "door", "in": 1, "out": 1})
    );
    let e = &records[90]["analytics"]["events"][0];
    assert_eq!(
        (
            e["type"].as_str(),
            e["direction"].as_str(),
            e["id"].as_u64()
        ),
        (Some("line_crossed"), Some("out"), Some(7))
    );
}

/// `n` frames of a magenta 20×60 person (the analytic detector's) whose box is centred on
/// x = `cx(i)` on frame i, from y = 120 to 180, on grey.
fn walker(n: u64, cx: impl Fn(u64) -> i32) -> (Vec<gst::Buffer>, gst_video::VideoInfo) {
    let mut frames = Vec::new();
    let mut info = None;
    for i in 0..n {
        let cx = cx(i);
        let (b, inf) = painted_frame(VideoFormat::Rgb, 320, 240, i * FRAME_MS, |x, y| {
            if (cx - 10..cx + 10).contains(&x) && (120..180).contains(&y) {
                [255, 0, 255]
            } else {
                [30, 30, 30]
            }
        });
        frames.push(b);
        info = Some(inf);
    }
    (frames, info.unwrap())
}

#[test]
fn detector_and_tracker_count_a_painted_person_once_each_way_despite_jitter() {
    // A magenta rectangle (the analytic detector's person) walks right across the door line,
    // jitters ±5 px around it (inside the 8 px margin) after crossing, stays in the counter zone,
    // then walks back. Boxes go through the real detector and the Kalman tracker, so event
    // frames may lag the painted positions by a frame or two; counts must be exact.
    let dir = scratch("analytics-painted");
    let rules = write(&dir, "rules.toml", RULES);
    let x_of = |i: u64| -> i64 {
        match i {
            0..=14 => 100 + 5 * i as i64,                              // to 170
            15..=34 => 170 + if i.is_multiple_of(2) { 5 } else { -5 }, // jitter 165 / 175
            35..=50 => 170 + 5 * (i as i64 - 34),                      // to 250
            51..=90 => 250,
            _ => 250 - 5 * (i as i64 - 90), // back to 100 at frame 120
        }
    };
    let (frames, info) = walker(121, |i| x_of(i) as i32);
    let (out, _) = run(
        &format!(
            "sapiensdetect backend=onnx config=\"{}\" ! sapienstrack ! sapiensanalytics config=\"{}\"",
            config("detector-analytic-yolox.toml").display(),
            rules.display()
        ),
        &info,
        frames,
    );
    assert_eq!(out.len(), 121);
    let ev = events(&out);
    let kinds: Vec<_> = ev.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "line_crossed",
            "zone_entered",
            "dwell_exceeded",
            "zone_left",
            "line_crossed"
        ],
        "{ev:?}"
    );
    // Painted: in at x ≥ 168 (frame 14: 170), inside x > 200 (frame 41: 205), dwell 25 frames
    // later (66), out of the zone at x ≤ 192 (frame 102: 190), out at x ≤ 152 (frame 110: 150).
    for ((got, ..), want) in ev.iter().zip([14u64, 41, 66, 102, 110]) {
        assert!(
            (want..=want + 2).contains(got),
            "event at frame {got}, painted position says {want}: {ev:?}"
        );
    }
    let a = sapiens_stream::meta::analytics::from_buffer(out.last().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((a.lines[0].count_in, a.lines[0].count_out), (1, 1));
}

/// Analytic pose (heatmap k peaks where colour k shows): dots for the two ankles only.
fn ankles_frame(box_: (u32, u32, u32, u32), ankle_y: i32) -> gst::Buffer {
    let (x, _, w, _) = box_;
    let cx = (x + w / 2) as i32;
    let dots = [
        Dot {
            k: 15,
            x: cx - 8,
            y: ankle_y,
            r: 3,
        },
        Dot {
            k: 16,
            x: cx + 8,
            y: ankle_y,
            r: 3,
        },
    ];
    let (mut b, _) = dots_frame(VideoFormat::Rgb, 320, 240, &dots, 0);
    let mut roi = gst_video::VideoRegionOfInterestMeta::add(b.get_mut().unwrap(), "person", box_);
    roi.add_param(
        gst::Structure::builder("tracking")
            .field("id", 3u32)
            .build(),
    );
    b
}

#[test]
fn a_rule_tests_the_ankles_when_asked_and_the_box_when_asked() {
    let dir = scratch("analytics-anchor");
    let rules = write(
        &dir,
        "rules.toml",
        r#"
schema_version = 1
[[zone]]
name = "by-ankles"
polygon = [[0, 165], [320, 165], [320, 240], [0, 240]]
anchor = ["left_ankle", "right_ankle"]
[[zone]]
name = "by-box"
polygon = [[0, 165], [320, 165], [320, 240], [0, 240]]
anchor = "box-bottom"
"#,
    );
    let (_, info) = black(0);
    let chain = format!(
        "sapienspose config=\"{}\" ! sapiensanalytics config=\"{}\"",
        config("pose-analytic-coco17.toml").display(),
        rules.display()
    );
    // A box cut short above the feet: its bottom (y = 160) outside the zone, the ankles (170)
    // inside it: only the ankle rule fires, at the ankles' mean (x = 130, y = 170).
    let (out, messages) = run(&chain, &info, vec![ankles_frame((100, 20, 60, 140), 170)]);
    let got: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                m.get::<String>("rule").unwrap(),
                m.get::<String>("anchor").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("by-ankles".to_string(), "keypoints".to_string())]
    );
    let (x, y) = (
        messages[0].get::<f32>("x").unwrap(),
        messages[0].get::<f32>("y").unwrap(),
    );
    assert!(
        (x - 130.0).abs() <= 1.0 && (y - 170.0).abs() <= 1.0,
        "{x}, {y}"
    );
    assert_eq!(out.len(), 1);
    // A box reaching into the zone (bottom 200) with the ankles above it (150): the reverse.
    let (_, messages) = run(&chain, &info, vec![ankles_frame((100, 40, 60, 160), 150)]);
    let got: Vec<_> = messages
        .iter()
        .map(|m| m.get::<String>("rule").unwrap())
        .collect();
    assert_eq!(got, vec!["by-box".to_string()]);
}

#[test]
fn bad_analytics_files_and_flags_are_refused_by_name() {
    init();
    let dir = scratch("analytics-bad");
    let bad = write(
        &dir,
        "bad.toml",
        "schema_version = 1\n[[zone]]\nname = \"z\"\npolygon = [[0, 0], [1, 1]]\n",
    );
    let el = gst::ElementFactory::make("sapiensanalytics")
        .property("config", bad.to_str().unwrap())
        .build()
        .unwrap();
    let e = start(&el).unwrap_err();
    assert!(
        e.contains("bad.toml") && e.contains("zone \"z\": polygon has 2 points"),
        "{e}"
    );
    let _ = el.set_state(gst::State::Null);
    let none = gst::ElementFactory::make("sapiensanalytics")
        .build()
        .unwrap();
    assert!(start(&none).unwrap_err().contains("config=FILE"));
    let _ = none.set_state(gst::State::Null);
    // The CLI checks the file and the tracker before anything runs.
    use clap::Parser;
    let video = vtest();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "sapiens",
            "run",
            "-i",
            video.to_str().unwrap(),
            "-c",
            "configs/pose-analytic-coco17.toml",
        ];
        args.extend(extra);
        sapiens_stream::cli::Cli::parse_from(args)
            .execute()
            .unwrap_err()
            .to_string()
    };
    let e = run(&[
        "--analytics",
        bad.to_str().unwrap(),
        "--detector",
        "hog",
        "--track",
    ]);
    assert!(e.contains("polygon has 2 points"), "{e}");
    let e = run(&["--analytics", "configs/analytics/vtest.toml"]);
    assert!(e.contains("--analytics") && e.contains("--track"), "{e}");
}

#[test]
fn python_reads_the_analytics_meta() {
    let dir = scratch("analytics-python");
    let rules = write(
        &dir,
        "rules.toml",
        r#"
schema_version = 1
[defaults]
anchor = "box-bottom"
[[zone]]
name = "floor"
polygon = [[0, 150], [320, 150], [320, 240], [0, 240]]
[[line]]
name = "door"
points = [[200, 0], [200, 240]]
in = [300, 100]
"#,
    );
    let v = run_python(
        "read_analytics_meta.py",
        &[
            config("detector-analytic-yolox.toml").display().to_string(),
            rules.display().to_string(),
        ],
    );
    // The painted person's box bottom centre (120, 180) is inside "floor".
    assert_eq!(v["zones"][0]["name"], "floor");
    assert_eq!(v["zones"][0]["occupancy"], 1);
    assert_eq!(v["zones"][0]["ids"], serde_json::json!([1]));
    assert_eq!(
        v["zones"][0]["points"],
        serde_json::json!([[0.0, 150.0], [320.0, 150.0], [320.0, 240.0], [0.0, 240.0]])
    );
    assert_eq!(
        (&v["lines"][0]["name"], &v["lines"][0]["count_in"]),
        (&serde_json::json!("door"), &serde_json::json!(0))
    );
    let e = &v["events"][0];
    assert_eq!(
        (&e["type"], &e["rule"], &e["id"]),
        (
            &serde_json::json!("zone_entered"),
            &serde_json::json!("floor"),
            &serde_json::json!(1)
        )
    );
    assert_eq!(e["anchor"], "box-bottom");
    assert!(
        (e["x"].as_f64().unwrap() - 120.0).abs() <= 1.0
            && (e["y"].as_f64().unwrap() - 180.0).abs() <= 1.0,
        "{e}"
    );
    assert_eq!(v["persons"][0]["zones"]["floor"], 0.0);
    assert_eq!(v["in_results"], true);
}

/// The video samples of an MP4 file as qtdemux gives them: (PTS s, key frame), and how many
/// frames decode (`avdec_h264`) without an error.
fn clip_samples(path: &Path) -> (Vec<(f64, bool)>, usize) {
    init();
    let read = |tail: &str| -> Vec<gst::Buffer> {
        let pipe = launch(&format!(
            "filesrc location=\"{}\" ! qtdemux ! {tail} ! appsink name=sink sync=false",
            path.display()
        ));
        let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
        pipe.set_state(gst::State::Playing).unwrap();
        let mut out = Vec::new();
        while let Ok(s) = sink.pull_sample() {
            out.push(s.buffer_owned().unwrap());
        }
        let err = pipe.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
        pipe.set_state(gst::State::Null).unwrap();
        assert!(err.is_none(), "{}: {err:?}", path.display());
        out
    };
    let samples = read("h264parse")
        .iter()
        .map(|b| {
            (
                b.pts().unwrap().nseconds() as f64 / 1e9,
                !b.flags().contains(gst::BufferFlags::DELTA_UNIT),
            )
        })
        .collect();
    (samples, read("h264parse ! avdec_h264").len())
}

/// `frames` through the analytic detector, the tracker, `rules`, the encoder and
/// `sapiensclips location=clips {props}` to EOS; every element message posted, in order.
fn clip_run(
    rules: &Path,
    clips: &Path,
    props: &str,
    frames: Vec<gst::Buffer>,
    info: &gst_video::VideoInfo,
) -> Vec<gst::Structure> {
    init();
    let pipe = launch(&format!(
        "appsrc name=src format=time ! sapiensdetect backend=onnx config=\"{}\" ! sapienstrack ! \
         sapiensanalytics config=\"{}\" ! videoconvert ! video/x-raw,format=I420 ! \
         x264enc key-int-max=10 speed-preset=ultrafast ! h264parse ! \
         sapiensclips location=\"{}\" {props}",
        config("detector-analytic-yolox.toml").display(),
        rules.display(),
        clips.display()
    ));
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    src.set_caps(Some(&info.to_caps().unwrap()));
    pipe.set_state(gst::State::Playing).unwrap();
    for b in frames {
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let bus = pipe.bus().unwrap();
    let mut messages = Vec::new();
    loop {
        let m = bus
            .timed_pop(gst::ClockTime::from_seconds(120))
            .expect("the pipeline ends");
        match m.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}: {:?}", e.error(), e.debug()),
            gst::MessageView::Element(e) => messages.push(e.structure().unwrap().to_owned()),
            _ => {}
        }
    }
    pipe.set_state(gst::State::Null).unwrap();
    messages
}

#[test]
fn an_event_clip_starts_on_a_key_frame_before_the_pre_roll_and_lasts_to_the_post_roll() {
    let dir = scratch("analytics-clips");
    let rules = write(&dir, "rules.toml", RULES);
    let clips = dir.join("clips");
    // A painted person stands at x = 60 for 40 frames, then walks right 5 px a frame: across
    // the door's margin (x ≥ 168) at frame 40 + 22 = 62 (2.48 s), give or take the tracker's
    // lag. 150 frames at 25 fps, a key frame every 10 frames (0.4 s).
    let (frames, info) = walker(150, |i| (60 + 5 * i.clamp(40, 80) - 200) as i32);
    let messages = clip_run(
        &rules,
        &clips,
        "pre-roll=1.0 post-roll=1.0 events=line_crossed",
        frames,
        &info,
    );
    let crossing = messages
        .iter()
        .rev()
        .filter(|s| {
            s.name() == "sapiens-analytics-event"
                && s.get::<String>("type").unwrap() == "line_crossed"
        })
        .map(|s| s.get::<f64>("pts-s").unwrap())
        .next();
    let clip_msgs: Vec<_> = messages
        .iter()
        .filter(|s| s.name() == "sapiens-clip")
        .collect();
    let t = crossing.expect("the person crossed");
    assert!(
        (2.47..2.6).contains(&t),
        "crossing at {t} s (painted: 2.48 s + tracker lag)"
    );
    assert_eq!(clip_msgs.len(), 1, "{clip_msgs:?}");
    let index: Vec<serde_json::Value> = std::fs::read_to_string(clips.join("clips.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(index.len(), 1);
    let info = &index[0];
    assert_eq!(info["clip"], "clip-0001.mp4");
    assert_eq!(info["triggers"], serde_json::json!(["line_crossed"]));
    // From the key frame at or before t − 1 s (key frames every 0.4 s: 1.2 s) to t + 1 s.
    let start = info["start_pts_s"].as_f64().unwrap();
    let end = info["end_pts_s"].as_f64().unwrap();
    let key_before = ((t - 1.0).max(0.0) / 0.4).floor() * 0.4;
    assert!(
        (start - key_before).abs() < 1e-6,
        "start {start}, want {key_before}"
    );
    assert!(
        (end - (t + 1.0)).abs() <= 0.04 + 1e-6,
        "end {end}, want {}",
        t + 1.0
    );
    // The file: every frame decodes, the first is a key frame, and as many frames as the index
    // and the sidecar say, at the sidecar's clip times.
    let (samples, decoded) = clip_samples(&clips.join("clip-0001.mp4"));
    let frames = info["frames"].as_u64().unwrap() as usize;
    assert_eq!((samples.len(), decoded), (frames, frames));
    assert!(samples[0].1, "the clip starts on a key frame");
    assert_eq!(frames as f64, ((end - start) / 0.04).round() + 1.0);
    let sidecar: Vec<serde_json::Value> = std::fs::read_to_string(clips.join("clip-0001.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sidecar.len(), frames);
    let mut demuxed: Vec<f64> = samples.iter().map(|s| s.0).collect();
    demuxed.sort_by(f64::total_cmp);
    for (rec, pts) in sidecar.iter().zip(&demuxed) {
        assert!(
            (rec["clip_pts_s"].as_f64().unwrap() - pts).abs() < 1e-6,
            "{rec} vs {pts}"
        );
    }
    // Stream times in the sidecar: the crossing's record is there, at its time.
    let with_event = sidecar
        .iter()
        .find(|r| !r["analytics"]["events"].as_array().unwrap().is_empty())
        .expect("the crossing's frame");
    assert!((with_event["pts_s"].as_f64().unwrap() - t).abs() < 1e-6);
}

#[test]
fn a_clip_killed_while_written_plays_to_its_last_fragment() {
    let dir = scratch("analytics-clip-kill");
    let rules = write(
        &dir,
        "all.toml",
        "schema_version = 1\nunits = \"normalized\"\n[defaults]\nanchor = \"box-bottom\"\n\
         [[zone]]\nname = \"all\"\npolygon = [[0, 0], [1, 0], [1, 1], [0, 1]]\n",
    );
    let clips = dir.join("clips");
    // The first person found enters the picture's zone and opens a clip that stays open
    // (post-roll 600 s) until the process is killed.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["run", "-i"])
        .arg(vtest())
        .args(["-c"])
        .arg(config("pose-analytic-coco17.toml"))
        .args(["--detector", "hog", "--track", "--stats-interval", "0"])
        .arg("--analytics")
        .arg(&rules)
        .arg("--clips")
        .arg(&clips)
        .args(["--clip-events", "zone_entered", "--clip-post", "600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let clip = clips.join("clip-0001.mp4");
    let t = std::time::Instant::now();
    // Two or more fragments (1 s each) on disk.
    while std::fs::metadata(&clip).map_or(0, |m| m.len()) < 400_000 {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(180),
            "no clip grew: {:?}",
            std::fs::read_dir(&clips).map(|d| d.count())
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (samples, decoded) = clip_samples(&clip);
    assert!(
        decoded >= 10 && decoded == samples.len(),
        "{decoded} of {}",
        samples.len()
    );
    assert!(samples[0].1, "starts on a key frame");
    // The sidecar is written frame by frame: it holds at least what the file does.
    let lines = std::fs::read_to_string(clips.join("clip-0001.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(lines >= decoded, "{lines} sidecar lines, {decoded} frames");
}

/// Runs the walker that crosses the door line in, then back out 3 s later, into `clips` with
/// `props` on `sapiensclips`; the clip messages' locations.
fn clips_of_two_crossings(rules: &Path, clips: &Path, props: &str) -> Vec<String> {
    // In at about frame 22 (x ≥ 168), out at about frame 122 (x ≤ 152): 4 s apart.
    let (frames, info) = walker(160, |i| match i {
        0..=40 => 60 + 5 * i as i32,
        41..=100 => 260,
        _ => 260 - 5 * (i as i32 - 100),
    });
    clip_run(
        rules,
        clips,
        &format!("pre-roll=0.5 post-roll=0.5 events=line_crossed {props}"),
        frames,
        &info,
    )
    .iter()
    .filter(|s| s.name() == "sapiens-clip")
    .map(|s| s.get::<String>("location").unwrap())
    .collect()
}

#[test]
fn old_clips_go_past_the_limit_and_numbering_goes_on_after_a_restart() {
    let dir = scratch("analytics-clip-retention");
    let rules = write(&dir, "rules.toml", RULES);
    let clips = dir.join("clips");
    let names = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|p| {
                Path::new(p)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    let on_disk = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&clips)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("clip-"))
            .collect();
        v.sort();
        v
    };
    // Two crossings 4 s apart: two clips; with max-clips=1 the first goes (video and sidecar).
    let saved = clips_of_two_crossings(&rules, &clips, "max-clips=1");
    assert_eq!(names(&saved), ["clip-0001.mp4", "clip-0002.mp4"]);
    assert_eq!(on_disk(), ["clip-0002.jsonl", "clip-0002.mp4"]);
    // The same again into the same folder: numbers go on from the highest there.
    let saved = clips_of_two_crossings(&rules, &clips, "max-clips=1");
    assert_eq!(names(&saved), ["clip-0003.mp4", "clip-0004.mp4"]);
    assert_eq!(on_disk(), ["clip-0004.jsonl", "clip-0004.mp4"]);
    // A byte limit below one clip keeps the newest clip alone; the index lists all four.
    let bytes = std::fs::metadata(clips.join("clip-0004.mp4"))
        .unwrap()
        .len();
    clips_of_two_crossings(
        &rules,
        &clips,
        &format!("max-clips=0 max-bytes={}", bytes / 2),
    );
    assert_eq!(on_disk(), ["clip-0006.jsonl", "clip-0006.mp4"]);
    let index = std::fs::read_to_string(clips.join("clips.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 6);
}
