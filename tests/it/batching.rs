//! Batching across frames: every frame still gets its own, correct result.
use gst::prelude::*;
use gst_video::VideoFormat;
use sapiens_stream::meta::dense::SegResult;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

#[test]
fn pose_batches_person_crops_across_frames_and_splits_results_back() {
    let (_, info) = dots_frame(VideoFormat::Rgb, 640, 360, &[], 0);
    let props = [
        ("batch-size", 4u32.to_value()),
        ("batch-timeout-ms", 200u32.to_value()),
        ("max-inflight", 6u32.to_value()),
    ];
    let mut h = pose_harness("pose-analytic-coco17.toml", &info, &props);
    // Frame i: two persons, keypoint 0 of each at a frame-specific place.
    let boxes = [(40, 40, 200, 280), (380, 40, 200, 280)];
    let dot = |i: i32, p: i32| Dot {
        k: 0,
        x: 100 + 380 * p + 10 * i,
        y: 100 + 15 * i,
        r: 3,
    };
    for i in 0..5 {
        let (mut b, _) = dots_frame(
            VideoFormat::Rgb,
            640,
            360,
            &[dot(i, 0), dot(i, 1)],
            40 * i as u64,
        );
        for r in boxes {
            add_person(&mut b, r);
        }
        h.push(b).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    for i in 0..5 {
        let out = h.pull().unwrap();
        assert_eq!(
            out.pts(),
            Some(gst::ClockTime::from_mseconds(40 * i as u64))
        );
        let pose = PoseResult::from_buffer(&out).unwrap().unwrap();
        for p in 0..2 {
            let (kp, d) = (pose.persons[p].keypoints[0], dot(i, p as i32));
            let err = ((kp.x - d.x as f32).powi(2) + (kp.y - d.y as f32).powi(2)).sqrt();
            assert!(
                err <= 1.5,
                "frame {i} person {p}: ({}, {}) vs ({}, {})",
                kp.x,
                kp.y,
                d.x,
                d.y
            );
        }
    }
    // 10 crops in batches of ≥ 4 crops (2 frames): at most 3 runs, not 5.
    let s = element_stats(&h.element().unwrap());
    assert!(s.runs <= 3, "{s:?}");
}

#[test]
fn seg_batches_frames_and_each_gets_its_own_labels() {
    init();
    let (w, h) = (320u32, 240u32);
    // Frame i: Goliath palette colour of class i + 1 over the left half.
    let text = std::fs::read_to_string(root().join("configs/classes/goliath-seg-28.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let colour =
        |k: usize| [0, 1, 2].map(|i| v["classes"][k]["color_rgb"][i].as_u64().unwrap() as u8);
    let el = gst::ElementFactory::make("sapiensseg")
        .property("config", config("seg-analytic.toml").to_str().unwrap())
        .property("batch-size", 3u32)
        .property("batch-timeout-ms", 200u32)
        .build()
        .unwrap();
    let mut harness = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    start(&el).unwrap();
    let (_, info) = painted_frame(VideoFormat::Rgb, w, h, 0, |_, _| colour(0));
    harness.set_src_caps(info.to_caps().unwrap());
    for i in 0..5u64 {
        let k = i as usize + 1;
        harness
            .push(
                painted_frame(VideoFormat::Rgb, w, h, 40 * i, |x, _| {
                    if x < 160 { colour(k) } else { colour(0) }
                })
                .0,
            )
            .unwrap();
    }
    harness.push_event(gst::event::Eos::new());
    for i in 0..5u64 {
        let out = harness.pull().unwrap();
        let seg = SegResult::from_buffer(&out).unwrap().unwrap();
        let l = seg.labels();
        assert_eq!(
            (l[120 * 320 + 40], l[120 * 320 + 280]),
            (i as u8 + 1, 0),
            "frame {i}"
        );
    }
    let s = element_stats(&el);
    assert!(s.runs < 5, "5 frames in batches of up to 3: {s:?}");
    let _ = el.set_state(gst::State::Null);
}

/// Two branches sharing `instance` at `batch-size` `batch` (and a third with its own session),
/// 12 frames each: every result right; the shared instance's model runs.
fn shared_branches(instance: &str, batch: u32) -> u64 {
    init();
    let cfg = config("pose-analytic-coco17.toml");
    let line = format!(
        "appsrc name=src format=time ! tee name=t \
         t. ! queue ! sapienspose name=a config=\"{c}\" model-instance={instance} batch-size={batch} batch-timeout-ms=100 ! appsink name=sa sync=false \
         t. ! queue ! sapienspose name=b config=\"{c}\" model-instance={instance} batch-size={batch} batch-timeout-ms=100 ! appsink name=sb sync=false \
         t. ! queue ! sapienspose name=c config=\"{c}\" ! fakesink sync=false",
        c = cfg.display()
    );
    let pipe = launch(&line);
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    let dot = |i: i32| Dot {
        k: 4,
        x: 100 + 15 * i,
        y: 150,
        r: 4,
    };
    let (_, info) = dots_frame(VideoFormat::Rgb, 400, 300, &[], 0);
    src.set_caps(Some(&info.to_caps().unwrap()));
    pipe.set_state(gst::State::Playing).unwrap();
    let n = 12;
    for i in 0..n {
        src.push_buffer(dots_frame(VideoFormat::Rgb, 400, 300, &[dot(i)], 40 * i as u64).0)
            .unwrap();
    }
    src.end_of_stream().unwrap();
    for sink in ["sa", "sb"] {
        let sink = by_name::<gst_app::AppSink>(&pipe, sink);
        for i in 0..n {
            let sample = sink.pull_sample().unwrap();
            let kp = PoseResult::from_buffer(sample.buffer().unwrap())
                .unwrap()
                .unwrap()
                .persons[0]
                .keypoints[4];
            let d = dot(i);
            assert!(
                (kp.x - d.x as f32).abs() <= 1.5 && (kp.y - 150.0).abs() <= 1.5,
                "frame {i}: {kp:?} vs {d:?}"
            );
        }
    }
    let runs = sapiens_stream::runtime::shared::runs(instance).expect("the instance is alive");
    let id = |n: &str| pipe.by_name(n).unwrap().property::<u64>("session-id");
    assert!(
        id("a") != 0 && id("a") == id("b"),
        "a and b share one session"
    );
    assert_ne!(
        id("a"),
        id("c"),
        "an element without model-instance loads its own"
    );
    pipe.set_state(gst::State::Null).unwrap();
    runs
}

/// Branches naming one `model-instance` share one loaded session. With `batch-size` 2 the two
/// streams' requests are merged into shared runs (waiting up to 100 ms for each other; without
/// merging there would be 2n); with the default 1 each run serves one request, so that sharing
/// never holds more than one request's memory (issue 27: merged runs of every waiting request
/// made four shared branches take more memory than four processes).
#[test]
fn branches_naming_one_model_instance_share_one_session_and_both_get_results() {
    let n = 12;
    let merged = shared_branches("shared-merged", 2);
    assert!(merged <= n + 2, "{merged} runs for {} requests", 2 * n);
    let single = shared_branches("shared-single", 1);
    assert_eq!(single, 2 * n, "batch-size 1: one request per run");
}

#[test]
fn one_model_instance_name_for_two_models_is_an_error() {
    init();
    let a = gst::ElementFactory::make("sapienspose")
        .property("config", config("pose-tiny-coco17.toml").to_str().unwrap())
        .property("model-instance", "clash-test")
        .build()
        .unwrap();
    start(&a).unwrap();
    let b = gst::ElementFactory::make("sapienspose")
        .property(
            "config",
            config("pose-analytic-coco17.toml").to_str().unwrap(),
        )
        .property("model-instance", "clash-test")
        .build()
        .unwrap();
    let e = start(&b).expect_err("a second model under the same instance name");
    assert!(
        e.contains("model-instance 'clash-test' is already loaded from")
            && e.contains("pose_analytic_coco17.onnx"),
        "{e}"
    );
    let _ = a.set_state(gst::State::Null);
    let _ = b.set_state(gst::State::Null);
}

#[test]
fn a_fixed_batch_model_gets_padded_batches_and_every_person_is_right() {
    // Three persons through a model exported with batch 2: runs of 2 and 1 (+1 zero pad).
    let (_, info) = dots_frame(VideoFormat::Rgb, 900, 300, &[], 0);
    let model = root().join("tests/models/pose_analytic_coco17_b2.onnx");
    let mut h = pose_harness(
        "pose-analytic-coco17.toml",
        &info,
        &[("model", model.to_str().unwrap().to_value())],
    );
    let dots = [
        Dot {
            k: 2,
            x: 120,
            y: 120,
            r: 3,
        },
        Dot {
            k: 7,
            x: 430,
            y: 160,
            r: 3,
        },
        Dot {
            k: 11,
            x: 760,
            y: 140,
            r: 3,
        },
    ];
    let (mut b, _) = dots_frame(VideoFormat::Rgb, 900, 300, &dots, 0);
    for x in [20, 320, 620] {
        add_person(&mut b, (x, 20, 240, 260));
    }
    h.push(b).unwrap();
    let out = h.pull().unwrap();
    let pose = PoseResult::from_buffer(&out).unwrap().unwrap();
    assert_eq!(pose.persons.len(), 3);
    for (p, d) in dots.iter().enumerate() {
        let kp = pose.persons[p].keypoints[d.k];
        assert!(
            (kp.x - d.x as f32).abs() <= 1.5 && (kp.y - d.y as f32).abs() <= 1.5,
            "person {p}: {kp:?} vs {d:?}"
        );
    }
}
