//! Several people per frame: the HOG detector on real video, the tracker's ids, and pose on
//! every tracked person, frames in = frames out through the chain.
use gst::prelude::*;
use sapiens_stream::meta::detect::Detections;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

#[test]
fn hog_finds_people_on_most_frames_of_vtest() {
    // vtest.avi shows two to five people walking on every frame. Measured here (frames 0-59,
    // `cargo test --test integration hog_finds -- --nocapture`): people on 59 of 60 frames,
    // 3.4 boxes a frame on average (groups walking close together share a box at times).
    let (stats, out) = run_vtest("sapiensdetect name=d", 60, &["d"]);
    // Every frame that entered the detector left it (what the element owns); the decoder and
    // `identity eos-after` upstream decide how many entered.
    let s = &stats[0];
    assert_every_frame_through(s, out.len(), 58);
    let n = out.len();
    let with_people = out.iter().filter(|b| !rois(b).is_empty()).count();
    let boxes: usize = out.iter().map(|b| rois(b).len()).sum();
    println!(
        "HOG on vtest frames 0-59: people on {with_people}/{n} frames, {:.2} boxes a frame, infer p50 {:.1} ms",
        boxes as f64 / n as f64,
        s.infer.p50_ms
    );
    assert!(
        with_people >= 50,
        "people found on {with_people}/{n} frames"
    );
    for b in &out {
        let d = Detections::from_buffer(b)
            .unwrap()
            .expect("the detector ran on every frame");
        assert_eq!(d.backend, "hog");
        assert_eq!(d.found.len(), rois(b).len(), "one ROI meta per detection");
        assert!(
            d.found
                .iter()
                .all(|p| p.bbox.x2 > p.bbox.x1 && p.bbox.y2 - p.bbox.y1 >= 100.0)
        );
    }
}

#[test]
fn detect_track_pose_gives_every_tracked_person_a_pose_and_keeps_frame_counts() {
    // Detection every 3rd frame; the tracker carries boxes and ids in between.
    let chain = format!(
        "sapiensdetect name=d interval=3 ! sapienstrack name=t ! sapienspose name=p config=\"{}\" \
         max-persons=8 ! sapiensoverlay",
        config("pose-tiny-coco17.toml").display()
    );
    let (stats, out) = run_vtest(&chain, 45, &["d", "p"]);
    // What the chain owns: every frame that entered the detector left the end (the decoder and
    // `identity eos-after` upstream decide how many entered: 44 of 45 on a loaded machine).
    assert_eq!(
        out.len() as u64,
        stats[0].frames_in,
        "frames in = frames out through the whole chain: {stats:?}"
    );
    assert!(
        out.len() >= 43,
        "{} frames of 45 entered: {stats:?}",
        out.len()
    );
    for s in &stats {
        assert_eq!(
            (s.frames_in, s.frames_out, s.failed),
            (out.len() as u64, out.len() as u64, 0),
            "{s:?}"
        );
    }
    let mut tracked_frames = 0;
    let mut ids_seen = std::collections::BTreeSet::new();
    for (i, b) in out.iter().enumerate() {
        let persons = rois(b);
        let pose = PoseResult::from_buffer(b)
            .unwrap()
            .expect("pose on every frame");
        // One pose per tracked person, in ROI order, with the track's id; never the whole frame.
        assert_eq!(pose.persons.len(), persons.len().min(8), "frame {i}");
        for (p, (rect, id)) in pose.persons.iter().zip(&persons) {
            assert!(id.is_some(), "frame {i}: tracked ROIs carry ids");
            assert_eq!(p.id, *id, "frame {i}");
            assert_eq!(
                (p.bbox.x1, p.bbox.y1),
                (rect.0 as f32, rect.1 as f32),
                "frame {i}"
            );
        }
        // Skipped frames carry the detections meta, marked carried.
        let d = Detections::from_buffer(b)
            .unwrap()
            .expect("detections meta on every frame");
        assert_eq!(d.carried, i % 3 != 0, "frame {i}");
        if !persons.is_empty() {
            tracked_frames += 1;
        }
        ids_seen.extend(persons.iter().filter_map(|p| p.1));
    }
    assert!(
        tracked_frames >= 35,
        "tracked people on {tracked_frames}/{} frames",
        out.len()
    );
    // A handful of people walk through 4.5 s of video: ids stay few (no new id every frame).
    assert!(
        !ids_seen.is_empty() && ids_seen.len() <= 12,
        "ids over 45 frames: {ids_seen:?}"
    );
}

#[test]
fn pose_skips_bad_boxes_keeps_the_largest_and_runs_on_nobody_when_the_detector_found_nobody() {
    use gst_video::VideoFormat;
    use sapiens_stream::detect::Detection;
    let (_, info) = dots_frame(VideoFormat::Rgb, 320, 240, &[], 0);
    let mut h = pose_harness(
        "pose-analytic-coco17.toml",
        &info,
        &[("max-persons", 2u32.to_value())],
    );
    let frame = |pts: u64| dots_frame(VideoFormat::Rgb, 320, 240, &[], pts).0;
    // Three good boxes (areas 40·80, 60·100, 20·40), one of zero width, one outside the frame.
    let mut b = frame(0);
    for rect in [
        (10, 10, 40, 80),
        (100, 20, 60, 100),
        (200, 50, 20, 40),
        (50, 50, 0, 30),
        (400, 10, 30, 30),
    ] {
        add_person(&mut b, rect);
    }
    h.push(b).unwrap();
    // A frame on which the detector ran and found nobody.
    let mut b = frame(40);
    Detections {
        backend: "hog".into(),
        found: Vec::<Detection>::new(),
        carried: false,
    }
    .attach(b.get_mut().unwrap(), "person", (320, 240))
    .unwrap();
    h.push(b).unwrap();
    // A frame with no detector upstream at all: the whole frame is the person.
    h.push(frame(80)).unwrap();
    h.push_event(gst::event::Eos::new());
    assert_eq!(buffers_before_eos(&mut h), 3);
    let boxes = |b: &gst::Buffer| {
        PoseResult::from_buffer(b)
            .unwrap()
            .unwrap()
            .persons
            .iter()
            .map(|p| (p.bbox.x1, p.bbox.y1, p.bbox.x2, p.bbox.y2))
            .collect::<Vec<_>>()
    };
    let first = h.pull().unwrap();
    assert_eq!(
        boxes(&first),
        vec![(10.0, 10.0, 50.0, 90.0), (100.0, 20.0, 160.0, 120.0)],
        "the two largest good boxes, in ROI order"
    );
    assert!(
        boxes(&h.pull().unwrap()).is_empty(),
        "nobody detected: no pose"
    );
    assert_eq!(boxes(&h.pull().unwrap()), vec![(0.0, 0.0, 320.0, 240.0)]);
    let el = h.element().unwrap();
    assert_eq!(el.property::<u64>("boxes-skipped"), 2);
    assert_eq!(el.property::<u64>("boxes-dropped"), 1);
}

#[test]
fn a_crowd_runs_in_runs_of_batch_size_and_every_person_decodes_right() {
    use gst_video::VideoFormat;
    // 24 persons in a 6×4 grid of 100×110 boxes, each with keypoint (i mod 17) drawn at a known
    // place inside; batch-size 5: five model runs of at most 5 crops (the crowd path).
    let (w, h) = (600u32, 440u32);
    let cells: Vec<(u32, u32, Dot)> = (0..24)
        .map(|i| {
            let (cx, cy) = ((i % 6) * 100, (i / 6) * 110);
            let dot = Dot {
                k: (i % 17) as usize,
                x: (cx + 30 + (i * 7) % 40) as i32,
                y: (cy + 40 + (i * 11) % 30) as i32,
                r: 4,
            };
            (cx, cy, dot)
        })
        .collect();
    let dots: Vec<Dot> = cells.iter().map(|c| c.2).collect();
    let (mut frame, info) = dots_frame(VideoFormat::Rgb, w, h, &dots, 0);
    for (cx, cy, _) in &cells {
        add_person(&mut frame, (*cx, *cy, 100, 110));
    }
    let mut hh = pose_harness(
        "pose-analytic-coco17.toml",
        &info,
        &[
            ("batch-size", 5u32.to_value()),
            ("max-persons", 0u32.to_value()),
        ],
    );
    hh.push(frame).unwrap();
    hh.push_event(gst::event::Eos::new());
    assert_eq!(buffers_before_eos(&mut hh), 1);
    let pose = PoseResult::from_buffer(&hh.pull().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(pose.persons.len(), 24);
    for (p, (cx, cy, d)) in pose.persons.iter().zip(&cells) {
        assert_eq!(
            (p.bbox.x1, p.bbox.y1),
            (*cx as f32, *cy as f32),
            "ROI order kept"
        );
        let kp = p.keypoints[d.k];
        let err = (kp.x - d.x as f32).hypot(kp.y - d.y as f32);
        assert!(
            err <= 1.5,
            "person at ({cx},{cy}): keypoint {} off by {err} px",
            d.k
        );
    }
}

#[test]
fn smoothing_calms_a_jittering_tracked_keypoint() {
    use gst_video::VideoFormat;
    // A tracked person (id 1) whose keypoint 0 jitters ±3 px around x = 160 at 30 fps.
    let jitter = [
        0, 3, -2, 1, -3, 2, -1, 3, 0, -2, 2, -3, 1, -1, 3, -2, 0, 2, -3, 1,
    ];
    let run = |smoothing: bool| {
        let (_, info) = dots_frame(VideoFormat::Rgb, 320, 240, &[], 0);
        let mut h = pose_harness(
            "pose-analytic-coco17.toml",
            &info,
            &[("smoothing", smoothing.to_value())],
        );
        for (i, j) in jitter.iter().enumerate() {
            let dot = Dot {
                k: 0,
                x: 160 + j,
                y: 120,
                r: 4,
            };
            let (mut b, _) = dots_frame(VideoFormat::Rgb, 320, 240, &[dot], 33 * i as u64);
            let mut roi = gst_video::VideoRegionOfInterestMeta::add(
                b.get_mut().unwrap(),
                "person",
                (100, 40, 120, 160),
            );
            roi.add_param(
                gst::Structure::builder("tracking")
                    .field("id", 1u32)
                    .build(),
            );
            h.push(b).unwrap();
        }
        h.push_event(gst::event::Eos::new());
        assert_eq!(buffers_before_eos(&mut h), jitter.len() as u32);
        (0..jitter.len())
            .map(|_| {
                let p = PoseResult::from_buffer(&h.pull().unwrap())
                    .unwrap()
                    .unwrap();
                assert_eq!(p.persons[0].id, Some(1));
                p.persons[0].keypoints[0].x as f64
            })
            .collect::<Vec<_>>()
    };
    let std = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (raw, smooth) = (run(false), run(true));
    let (sr, ss) = (std(&raw[5..]), std(&smooth[5..]));
    assert!(sr > 1.5, "the raw keypoint follows the jitter: {sr:.2} px");
    assert!(
        ss < sr / 2.0,
        "smoothed jitter {ss:.2} px vs raw {sr:.2} px"
    );
    let mean = smooth[5..].iter().sum::<f64>() / 15.0;
    assert!((mean - 160.0).abs() < 1.5, "no drift: mean {mean:.2}");
}

#[test]
fn seg_backend_boxes_the_segmented_people() {
    use gst_video::VideoFormat;
    // Two "people" painted in body-part colours of the seg palette (torso 21 with legs 5 below,
    // touching: one person) and a third region too small to be one; the analytic seg model labels
    // them by colour, the detector boxes the foreground.
    let text = std::fs::read_to_string(root().join("configs/classes/goliath-seg-28.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let colour =
        |k: usize| [0, 1, 2].map(|i| v["classes"][k]["color_rgb"][i].as_u64().unwrap() as u8);
    let regions = [
        ((40, 30, 60, 100), 21),
        ((50, 130, 40, 80), 5),
        ((300, 60, 70, 150), 21),
        ((200, 20, 6, 6), 2),
    ];
    let (frame, info) = painted_frame(VideoFormat::Rgb, 480, 270, 0, |x, y| {
        regions
            .iter()
            .find(|((rx, ry, rw, rh), _)| x >= *rx && x < rx + rw && y >= *ry && y < ry + rh)
            .map_or(colour(0), |(_, k)| colour(*k))
    });
    let chain = format!(
        "sapiensseg config=\"{}\" ! sapiensdetect name=d backend=seg min-area=500",
        config("seg-analytic.toml").display()
    );
    let (outs, _) = through(&chain, &info.to_caps().unwrap(), &[frame]);
    let out = &outs[0];
    let d = Detections::from_buffer(out).unwrap().unwrap();
    assert_eq!(d.backend, "seg");
    let got: Vec<(u32, u32, u32, u32)> = rois(out).iter().map(|r| r.0).collect();
    let want = [(40u32, 30u32, 60u32, 180u32), (300, 60, 70, 150)];
    assert_eq!(got.len(), 2, "{got:?}");
    for (g, w) in got.iter().zip(want) {
        let off = [
            g.0.abs_diff(w.0),
            g.1.abs_diff(w.1),
            g.2.abs_diff(w.2),
            g.3.abs_diff(w.3),
        ];
        assert!(off.iter().all(|o| *o <= 2), "box {g:?} vs painted {w:?}");
    }
}

/// Runs one frame through `sapiensdetect backend=onnx config=CONFIG`; the person ROI rects and
/// their confidences.
fn onnx_detect(
    config_name: &str,
    frame: gst::Buffer,
    info: &gst_video::VideoInfo,
) -> Vec<((u32, u32, u32, u32), f64)> {
    let chain = format!(
        "sapiensdetect backend=onnx config=\"{}\"",
        config(config_name).display()
    );
    let (outs, _) = through(&chain, &info.to_caps().unwrap(), &[frame]);
    let out = &outs[0];
    assert_eq!(
        Detections::from_buffer(out).unwrap().unwrap().backend,
        "onnx"
    );
    confident_rois(out)
}

/// The person ROI rects of a buffer with their `detection` confidence.
fn confident_rois(b: &gst::BufferRef) -> Vec<((u32, u32, u32, u32), f64)> {
    b.iter_meta::<gst_video::VideoRegionOfInterestMeta>()
        .map(|m| {
            let c = m
                .param("detection")
                .unwrap()
                .get::<f64>("confidence")
                .unwrap();
            (m.rect(), c)
        })
        .collect()
}

#[test]
fn onnx_detector_layouts_give_the_painted_boxes_through_the_letterbox() {
    use gst_video::VideoFormat;
    // Marker rectangles (frame px): magenta and cyan are persons (scores 1.0 and 0.6), yellow is
    // another class; the model also proposes a shrunk copy of magenta at 0.9, which NMS drops.
    for (w, h) in [
        (320u32, 240u32),
        (160, 120),
        (640, 480),
        (240, 320),
        (480, 270),
    ] {
        let rect = |fx: f32, fy: f32, fw: f32, fh: f32| {
            let r = |v: f32, n: u32| (v * n as f32).round() as i32;
            (r(fx, w), r(fy, h), r(fw, w), r(fh, h))
        };
        let magenta = rect(0.1, 0.15, 0.2, 0.5);
        let cyan = rect(0.55, 0.3, 0.25, 0.4);
        let yellow = rect(0.4, 0.05, 0.1, 0.1);
        let inside = |(x, y, rw, rh): (i32, i32, i32, i32), px: i32, py: i32| {
            px >= x && px < x + rw && py >= y && py < y + rh
        };
        let (frame, info) = painted_frame(VideoFormat::Rgb, w, h, 0, |x, y| {
            if inside(magenta, x, y) {
                [255, 0, 255]
            } else if inside(cyan, x, y) {
                [0, 255, 255]
            } else if inside(yellow, x, y) {
                [255, 255, 0]
            } else {
                [30, 30, 30]
            }
        });
        // Within 1 px of the painted rectangle, for frames smaller, equal and larger than the
        // 320×320 input, landscape and portrait (measured: 0 px, 1 px when upscaled ×2).
        let tol = 1.0;
        for layout in ["yolov8", "yolox", "mmdeploy"] {
            let got = onnx_detect(
                &format!("detector-analytic-{layout}.toml"),
                frame.copy(),
                &info,
            );
            let mut got = got.clone();
            got.sort_by_key(|(r, _)| r.0);
            assert_eq!(got.len(), 2, "{layout} at {w}x{h}: {got:?}");
            for ((r, conf), (want, wconf)) in got.iter().zip([(magenta, 1.0), (cyan, 0.6)]) {
                let want = (want.0 as f64, want.1 as f64, want.2 as f64, want.3 as f64);
                let off = [
                    (r.0 as f64 - want.0).abs(),
                    (r.1 as f64 - want.1).abs(),
                    (r.2 as f64 - want.2).abs(),
                    (r.3 as f64 - want.3).abs(),
                ];
                assert!(
                    off.iter().all(|o| *o <= tol),
                    "{layout} at {w}x{h}: {r:?} vs {want:?} (tol {tol})"
                );
                assert!((conf - wconf).abs() < 1e-3, "{layout}: confidence {conf}");
            }
        }
    }
}

/// The error `sapiensdetect backend=onnx config=CFG` posts when it starts.
fn onnx_start_error(cfg: &std::path::Path) -> String {
    init();
    let el = gst::ElementFactory::make("sapiensdetect")
        .property_from_str("backend", "onnx")
        .property("config", cfg.to_str().unwrap())
        .build()
        .unwrap();
    let e = start(&el).expect_err("the detector must refuse to start");
    let _ = el.set_state(gst::State::Null);
    e
}

#[test]
fn a_model_that_is_not_a_detector_is_refused_naming_its_outputs() {
    let dir = scratch("not-a-detector");
    let cfg = dir.join("pose-as-detector.toml");
    std::fs::write(
        &cfg,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\n[input]\nheight = 1024\nwidth = 768\n[detector]\n",
            root().join("tests/models/pose_analytic_coco17.onnx").display()
        ),
    )
    .unwrap();
    init();
    let e = onnx_start_error(&cfg);
    assert!(
        e.contains("heatmaps") && e.contains("YOLOv8") && e.contains("pose-as-detector.toml"),
        "{e}"
    );
    // A detector whose input is not the config's size.
    let cfg = dir.join("wrong-input.toml");
    std::fs::write(
        &cfg,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\n[input]\nheight = 640\nwidth = 640\n[detector]\n",
            root().join("tests/models/detector_analytic_yolox.onnx").display()
        ),
    )
    .unwrap();
    let e = onnx_start_error(&cfg);
    assert!(
        e.contains("[?,3,320,320]") && e.contains("[batch,3,640,640]"),
        "{e}"
    );
    // A pose config given to the detector's onnx backend: the config names the wrong head.
    let e = onnx_start_error(&config("pose-tiny-coco17.toml"));
    assert!(e.contains("[detector]") && e.contains("sapienspose"), "{e}");
}

#[test]
fn the_onnx_detector_batches_frames_and_each_gets_its_own_boxes() {
    use gst_video::VideoFormat;
    // Four frames with the magenta person at four places, gathered into batched model runs.
    let frames: Vec<(gst::Buffer, gst_video::VideoInfo, (i32, i32))> = (0..4)
        .map(|k| {
            let (x0, y0) = (20 + 50 * k, 30 + 10 * k);
            let (mut b, info) = painted_frame(VideoFormat::Rgb, 320, 240, 0, |x, y| {
                if x >= x0 && x < x0 + 40 && y >= y0 && y < y0 + 90 {
                    [255, 0, 255]
                } else {
                    [30, 30, 30]
                }
            });
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * k as u64));
            (b, info, (x0, y0))
        })
        .collect();
    let chain = format!(
        "sapiensdetect name=d backend=onnx config=\"{}\" batch-size=4 batch-timeout-ms=500",
        config("detector-analytic-mmdeploy.toml").display()
    );
    let buffers: Vec<gst::Buffer> = frames.iter().map(|f| f.0.clone()).collect();
    let (outs, st) = through(&chain, &frames[0].1.to_caps().unwrap(), &buffers);
    let st = st.unwrap();
    let got: Vec<Vec<(u32, u32, u32, u32)>> = outs
        .iter()
        .map(|b| rois(b).iter().map(|r| r.0).collect())
        .collect();
    assert_eq!(got.len(), 4);
    for (boxes, (_, _, (x0, y0))) in got.iter().zip(&frames) {
        assert_eq!(
            boxes,
            &vec![(*x0 as u32, *y0 as u32, 40, 90)],
            "frame at ({x0},{y0})"
        );
    }
    assert!(
        st.runs < 4,
        "frames were batched: {} runs for 4 frames",
        st.runs
    );
}

#[test]
fn a_bare_detector_model_gets_its_familys_pre_processing() {
    use gst_video::VideoFormat;
    // No config: the YOLOX-layout model gets YOLOX's pre-processing, BGR 0..255. Its markers
    // are RGB, so cyan and yellow trade places: the yellow rectangle is now the 0.6 "cyan"
    // person and the cyan one the other class; magenta (symmetric) stays the 1.0 person.
    let (w, h) = (320u32, 240u32);
    let rects = [
        ((30, 40, 60, 120), [255, 0, 255]),
        ((150, 50, 50, 100), [0, 255, 255]),
        ((240, 60, 40, 80), [255, 255, 0]),
    ];
    let (frame, info) = painted_frame(VideoFormat::Rgb, w, h, 0, |x, y| {
        rects
            .iter()
            .find(|((rx, ry, rw, rh), _)| x >= *rx && x < rx + rw && y >= *ry && y < ry + rh)
            .map_or([30, 30, 30], |(_, c)| *c)
    });
    let chain = format!(
        "sapiensdetect backend=onnx model=\"{}\"",
        root()
            .join("tests/models/detector_analytic_yolox.onnx")
            .display()
    );
    let (outs, _) = through(&chain, &info.to_caps().unwrap(), &[frame]);
    let mut got = confident_rois(&outs[0]);
    got.sort_by_key(|g| g.0.0);
    assert_eq!(
        got,
        vec![
            ((30, 40, 60, 120), 1.0),
            ((240, 60, 40, 80), 0.6000000238418579)
        ]
    );
}
