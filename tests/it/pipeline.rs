//! Whole pipelines on real video and from other languages.

use gst::prelude::*;

use crate::common::*;

/// A recording as GStreamer reads it: frames, width, height and the RGB of pixel (2, 2) of the
/// first frame (0 frames for a file it cannot read).
pub(crate) fn read_back(path: &std::path::Path) -> (u64, i32, i32, [u8; 3]) {
    init();
    let line = format!(
        "filesrc location=\"{}\" ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        path.display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let (mut n, mut dims, mut first) = (0, (0, 0), [0; 3]);
    let bus = pipe.bus().unwrap();
    // An unreadable file is an error on the bus, not an end of stream: 0 frames, never a hang.
    let next = || loop {
        if let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            return Some(s);
        }
        if sink.is_eos() || bus.pop_filtered(&[gst::MessageType::Error]).is_some() {
            return None;
        }
    };
    while let Some(sample) = next() {
        if n == 0 {
            let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
            dims = (info.width() as i32, info.height() as i32);
            let map = sample.buffer().unwrap().map_readable().unwrap();
            let o = 2 * info.stride()[0] as usize + 2 * 3;
            first = [map[o], map[o + 1], map[o + 2]];
        }
        n += 1;
    }
    pipe.set_state(gst::State::Null).unwrap();
    (n, dims.0, dims.1, first)
}

#[test]
fn cli_run_records_every_frame_of_real_video_with_skeletons_and_the_untrained_banner() {
    let (video, cfg) = (vtest(), config("pose-tiny-coco17.toml"));
    let args = [
        "--input",
        video.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--max-frames",
        "24",
        "--execution-provider",
        "cpu",
    ];
    let (out, stats) = sapiens_run("cli", &args);
    let head = &stats["heads"][0];
    assert_eq!(
        head["provider"], "cpu",
        "pinned, so a GPU build says so too"
    );
    assert_eq!(head["stats"]["frames_in"], 24);
    assert_eq!(head["stats"]["frames_out"], 24);
    let (frames, w, h, corner) = read_back(&out);
    assert_eq!(
        (frames, w, h),
        (24, 768, 576),
        "the recording has every frame at the source size"
    );
    // The banner's red survives H.264: R high, G and B low.
    assert!(
        corner[0] > 150 && corner[1] < 90 && corner[2] < 90,
        "no UNTRAINED banner at (2,2): {corner:?}"
    );
}

#[test]
fn cli_runs_the_three_dense_heads_into_a_grid_recording() {
    let video = vtest();
    let cfgs = ["seg-tiny.toml", "depth-tiny.toml", "normal-tiny.toml"].map(config);
    let mut args = vec![
        "--input",
        video.to_str().unwrap(),
        "--max-frames",
        "6",
        "--layout",
        "grid",
    ];
    for c in &cfgs {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    let (out, stats) = sapiens_run("grid", &args);
    for i in 0..3 {
        assert_eq!(stats["heads"][i]["stats"]["frames_out"], 6, "head {i}");
    }
    let (frames, w, h, _) = read_back(&out);
    assert_eq!(
        (frames, w, h),
        (6, 2 * 768, 2 * 576),
        "grid recording: every frame, twice the size"
    );
}

#[test]
fn python_reads_the_pose_meta_with_pygobject() {
    let dots = [(100, 100, 0), (300, 200, 3), (500, 120, 9)];
    let mut args = vec![
        config("pose-analytic-coco17.toml").display().to_string(),
        root()
            .join("tests/models/pose_analytic_coco17.json")
            .display()
            .to_string(),
    ];
    args.extend(dots.iter().map(|(x, y, k)| format!("{x},{y},{k}")));
    let v = run_python("read_pose_meta.py", &args);
    assert_eq!(v["keypoint_set"], "coco-17");
    assert_eq!(v["untrained"], true);
    assert_eq!(v["ids"], serde_json::json!([-1]), "untracked");
    // Names from the package's label data, in channel order (the official COCO order).
    let coco: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("configs/keypoints/coco-17.json")).unwrap(),
    )
    .unwrap();
    for (i, name) in v["names"].as_array().unwrap().iter().enumerate() {
        assert_eq!(name, &coco["keypoints"][i]["name"]);
    }
    assert_eq!(v["names"][0], "nose");
    assert_eq!(v["boxes"][0], serde_json::json!([0.0, 0.0, 640.0, 360.0]));
    for (x, y, k) in dots {
        let kp = &v["keypoints"][0][k];
        let (dx, dy) = (
            kp[0].as_f64().unwrap() - x as f64,
            kp[1].as_f64().unwrap() - y as f64,
        );
        assert!(
            dx.hypot(dy) <= 1.5,
            "keypoint {k} read from Python at {kp}, drawn at ({x}, {y})"
        );
    }
}

#[test]
fn python_reads_the_dense_metas_with_pygobject() {
    // Torso (class 21), its colour from the palette file.
    let text = std::fs::read_to_string(root().join("configs/classes/goliath-seg-28.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = &v["classes"][21]["color_rgb"];
    let rgb: Vec<u64> = (0..3).map(|i| c[i].as_u64().unwrap()).collect();
    let args = [
        config("seg-analytic.toml").display().to_string(),
        config("depth-analytic.toml").display().to_string(),
        format!("{},{},{}", rgb[0], rgb[1], rgb[2]),
    ];
    let r = run_python("read_seg_meta.py", &args);
    let mean = rgb.iter().sum::<u64>() as f64 / 3.0;
    assert_eq!(
        r["labels"],
        serde_json::json!([21, 0]),
        "torso on the left, background on the right"
    );
    assert_eq!(
        r["names"],
        serde_json::json!([v["classes"][21]["name"], "Background"])
    );
    assert!(
        (r["depth"][0].as_f64().unwrap() - mean).abs() < 0.01,
        "depth = mean RGB on the torso: {r}"
    );
    assert!(
        r["depth"][1].is_null(),
        "background depth is NaN (masked by seg): {r}"
    );
    assert!((r["range"][1].as_f64().unwrap() - mean).abs() < 0.01, "{r}");
}

#[test]
fn python_reads_the_sapiens2_seg_and_pointmap_metas() {
    // Eyeglass (class 2 of dome-seg-29, new in Sapiens2): its colour from the palette.
    let c = sapiens_stream::labels::SegClassSetId::DomeSeg29.palette()[2];
    let args = [
        config("seg29-analytic.toml").display().to_string(),
        config("pointmap-analytic.toml").display().to_string(),
        format!("{},{},{}", c[0], c[1], c[2]),
    ];
    let r = run_python("read_pointmap_meta.py", &args);
    assert_eq!(r["names"], serde_json::json!(["Eyeglass", "Background"]));
    assert_eq!(r["num_classes"], 29);
    // The analytic pointmap: RGB / 100 / scale, scale = 1 + G(centre) / 255 (the centre pixel
    // is in the coloured part); the background is masked by seg.
    let scale = 1.0 + c[1] as f64 / 255.0;
    assert!((r["scale"].as_f64().unwrap() - scale).abs() < 1e-4, "{r}");
    let p = r["points"][0].as_array().unwrap();
    for k in 0..3 {
        let want = c[k] as f64 / 100.0 / scale;
        assert!((p[k].as_f64().unwrap() - want).abs() < 1e-4, "{r}");
    }
    assert!(r["points"][1].is_null() && r["masked"] == true, "{r}");
    // 640x360 letterboxed into 768x1024: 1.2 input px per frame px.
    let focal = 768.0 / scale / 1.2;
    assert!(
        (r["focal_px"].as_f64().unwrap() - focal).abs() < 1e-2,
        "{r}"
    );
}

#[test]
fn bench_times_the_bare_session_and_the_element_both_ways_on_every_frame() {
    let dir = scratch("bench");
    let json = dir.join("bench.json");
    let (video, cfg) = (vtest(), config("pose-tiny-coco17.toml"));
    let args = [
        "sapiens",
        "bench",
        "--config",
        cfg.to_str().unwrap(),
        "--input",
        video.to_str().unwrap(),
        "--frames",
        "8",
        "--distinct",
        "3",
        "--execution-provider",
        "cpu",
        "--json",
        json.to_str().unwrap(),
    ];
    use clap::Parser;
    sapiens_stream::cli::Cli::parse_from(args)
        .execute()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let modes: Vec<&str> = rows.iter().map(|r| r["mode"].as_str().unwrap()).collect();
    assert_eq!(
        modes,
        [
            "bare session",
            "element, sequential (max-inflight=1)",
            "element, pipelined (max-inflight=3)"
        ]
    );
    for r in rows {
        assert_eq!(r["frames"], 8, "{r}: every frame timed");
        assert!(
            r["fps"].as_f64().unwrap() > 0.0 && r["latency"]["p50_ms"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }
    let fps: Vec<f64> = rows.iter().map(|r| r["fps"].as_f64().unwrap()).collect();
    assert!(
        (v["ratios"]["pipelined_over_sequential"].as_f64().unwrap() - fps[2] / fps[1]).abs() < 1e-9
    );
    assert_eq!(v["provider"], "cpu");
}

/// On a terminal a file run shows a progress bar (frames done of the frames in the file, ETA);
/// into a pipe it keeps the plain live lines. The terminal is `script`'s pseudo-terminal.
#[test]
fn file_runs_show_a_progress_bar_on_a_terminal_only() {
    let cmd = format!(
        "{} run -i {} -c {} --max-frames 20 --stats-interval 0.2",
        env!("CARGO_BIN_EXE_sapiens"),
        vtest().display(),
        config("pose-tiny-coco17.toml").display()
    );
    let tty = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script (util-linux)");
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains("/20 frames") && shown.contains("ETA"),
        "{shown}"
    );
    assert!(
        !shown.contains("[head0] frames"),
        "no live lines under the bar"
    );
    let piped = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(
        !text.contains("ETA") && text.contains("[head0] frames"),
        "{text}"
    );
}

/// The example application of the Python package (`python/examples/print_results.py`): detect,
/// track and pose on real video, each frame's persons read with `sapiens_stream`.
#[test]
fn the_python_example_application_prints_each_frames_persons() {
    let python = root().join(".venv-gi/bin/python");
    assert!(python.is_file(), "run make setup (it creates .venv-gi)");
    let elements = format!(
        "sapiensdetect backend=hog ! sapienstrack ! sapienspose config={}",
        config("pose-tiny-coco17.toml").display()
    );
    let frames = json_lines_of(
        std::process::Command::new(&python)
            .arg(root().join("python/examples/print_results.py"))
            .arg(vtest())
            .arg(&elements)
            .arg("6")
            .env("GST_PLUGIN_PATH", root().join("target/debug")),
    );
    assert_eq!(frames.len(), 6);
    let mut persons = 0;
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["frame"], i as u64);
        for p in f["persons"].as_array().unwrap() {
            persons += 1;
            assert!(p["id"].as_u64().is_some(), "tracked persons have ids: {p}");
            let b: Vec<f64> = p["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(
                b[0] < b[2] && b[1] < b[3] && b[2] <= 768.0 && b[3] <= 576.0,
                "{b:?}"
            );
        }
    }
    assert!(
        persons >= 3,
        "HOG finds people on vtest (tracks confirm after a frame or two): {persons}"
    );
}

/// A meta the Python package cannot read (no `schema-version`) is refused with the reason.
#[test]
fn the_python_package_refuses_a_meta_without_its_schema_version() {
    let v = run_python("schema_check.py", &[]);
    let msg = v["refused"]
        .as_str()
        .unwrap_or_else(|| panic!("accepted: {v}"));
    assert!(
        msg.contains("SapiensPoseMeta has no schema-version"),
        "{msg}"
    );
}
