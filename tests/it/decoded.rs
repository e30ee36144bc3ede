//! Work moved into the model's graph. Pose decoded there (`scripts/postprocess_graph.py`): the
//! element recognizes a model whose output is `[N, K, 228]` instead of heatmaps and gives the
//! same keypoints (within 0.01 px, the bound; measured: identical) and scores as from the
//! model's heatmaps — on the analytic model with dots at known places and on real video with the
//! 308-keypoint Sapiens-architecture model. Seg's argmax there. Pose crops cut there
//! (`scripts/preprocess_graph.py`, the pixel form): the same tensor as the CPU path, and the same
//! keypoints through the element.
use gst::prelude::*;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

/// What `read` takes from each of the first `frames` frames of vtest after `chain` (taken at
/// the sink, then the pipeline stops: `identity eos-after` lets later frames through on 1.22).
fn on_vtest<T>(chain: &str, frames: usize, read: impl Fn(&gst::BufferRef) -> T) -> Vec<T> {
    init();
    let line = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! \
         {chain} ! appsink name=sink sync=false",
        vtest().display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let out = (0..frames)
        .map(|_| read(sink.pull_sample().expect("a frame").buffer().unwrap()))
        .collect();
    pipe.set_state(gst::State::Null).unwrap();
    out
}

/// Pose results of the first `frames` frames of vtest through HOG → tracker → `pose`.
fn poses_on_vtest(pose: &str, frames: usize) -> Vec<PoseResult> {
    on_vtest(
        &format!("sapiensdetect backend=hog ! sapienstrack ! {pose}"),
        frames,
        |b| PoseResult::from_buffer(b).unwrap().unwrap(),
    )
}

/// Largest keypoint distance (px) and score difference between two runs' persons, and how many
/// keypoints were compared (both runs must see the same persons).
fn compare(a: &[PoseResult], b: &[PoseResult]) -> (f64, f32, usize) {
    let (mut dist, mut dscore, mut n) = (0f64, 0f32, 0);
    assert_eq!(a.len(), b.len());
    for (fa, fb) in a.iter().zip(b) {
        assert_eq!(fa.persons.len(), fb.persons.len());
        for (pa, pb) in fa.persons.iter().zip(&fb.persons) {
            assert_eq!(pa.bbox, pb.bbox);
            for (ka, kb) in pa.keypoints.iter().zip(&pb.keypoints) {
                dist = dist.max(((ka.x - kb.x) as f64).hypot((ka.y - kb.y) as f64));
                dscore = dscore.max((ka.score - kb.score).abs());
                n += 1;
            }
        }
    }
    (dist, dscore, n)
}

#[test]
fn decoding_in_the_graph_gives_the_heatmap_forms_keypoints_on_real_video() {
    let cfg = config("pose-tiny-goliath308.toml");
    let plain = poses_on_vtest(&format!("sapienspose config=\"{}\"", cfg.display()), 8);
    let decoded = poses_on_vtest(
        &format!(
            "sapienspose config=\"{}\" model=\"{}\"",
            cfg.display(),
            root()
                .join("tests/models/sapiens_tiny_pose_goliath308_decoded.onnx")
                .display()
        ),
        8,
    );
    let (dist, dscore, n) = compare(&plain, &decoded);
    assert!(n >= 308 * 8, "{n} keypoints compared");
    eprintln!(
        "308 keypoints, decoded in the graph vs from heatmaps: {n} keypoints, max {dist:.2e} px, score {dscore:.1e}"
    );
    assert!(dist <= 0.01, "keypoints {dist} px apart");
    assert!(dscore <= 1e-6, "scores differ by {dscore}");
}

#[test]
fn decoding_in_the_graph_finds_dots_where_the_heatmaps_do() {
    let (_, info) = dots_frame(gst_video::VideoFormat::Rgb, 320, 240, &[], 0);
    let dots: Vec<Dot> = (0..6)
        .map(|k| Dot {
            k,
            x: 40 + 45 * k as i32,
            y: 60 + 25 * (k as i32 % 3),
            r: 4,
        })
        .collect();
    let run = |props: &[(&str, glib::Value)]| {
        let mut h = pose_harness("pose-analytic-coco17.toml", &info, props);
        h.push(dots_frame(gst_video::VideoFormat::Rgb, 320, 240, &dots, 0).0)
            .unwrap();
        let b = h.pull().unwrap();
        PoseResult::from_buffer(&b).unwrap().unwrap()
    };
    let plain = run(&[]);
    let model = root().join("tests/models/pose_analytic_coco17_decoded.onnx");
    let decoded = run(&[("model", model.to_str().unwrap().to_value())]);
    // The pixel form (crops cut in the graph from the RGB frame's bytes) finds them alike.
    let model = root().join("tests/models/pose_analytic_coco17_pixels.onnx");
    let pixels = run(&[("model", model.to_str().unwrap().to_value())]);
    let (p, d) = (&plain.persons[0].keypoints, &decoded.persons[0].keypoints);
    for (a, b) in p.iter().zip(&pixels.persons[0].keypoints) {
        assert!(
            (a.x - b.x).abs() <= 0.01
                && (a.y - b.y).abs() <= 0.01
                && (a.score - b.score).abs() <= 1e-4,
            "pixel form: {a:?} vs {b:?}"
        );
    }
    for dot in &dots {
        let (a, b) = (p[dot.k], d[dot.k]);
        assert!(
            (a.x - dot.x as f32).abs() < 1.5 && (a.y - dot.y as f32).abs() < 1.5,
            "heatmap form finds dot {} at {a:?}",
            dot.k
        );
        assert!(
            (a.x - b.x).abs() <= 0.01 && (a.y - b.y).abs() <= 0.01 && a.score == b.score,
            "dot {}: {a:?} vs {b:?}",
            dot.k
        );
    }
    // Channels without a dot score alike too (their peaks are flat: the location may be -1).
    for (a, b) in p.iter().zip(d.iter()) {
        assert_eq!(a.score, b.score);
    }
}

#[test]
fn the_flip_test_on_a_model_that_decodes_in_its_graph_is_refused_by_name() {
    let dir = scratch("decoded-flip");
    let cfg = dir.join("flip.toml");
    std::fs::write(
        &cfg,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n[pose]\nkeypoint_set = \"coco-17\"\nflip_test = true\n",
            root()
                .join("tests/models/pose_analytic_coco17_decoded.onnx")
                .display()
        ),
    )
    .unwrap();
    init();
    let el = gst::ElementFactory::make("sapienspose")
        .property("config", cfg.to_str().unwrap())
        .build()
        .unwrap();
    let e = start(&el).unwrap_err();
    let _ = el.set_state(gst::State::Null);
    assert!(
        e.contains("flip_test") && e.contains("decodes them in its graph"),
        "{e}"
    );
}

/// Seg labels of the first `frames` frames of vtest through `seg`.
fn seg_on_vtest(seg: &str, frames: usize) -> Vec<Vec<u8>> {
    use sapiens_stream::meta::dense::SegResult;
    on_vtest(seg, frames, |b| {
        SegResult::from_buffer(b)
            .unwrap()
            .unwrap()
            .labels()
            .to_vec()
    })
}

/// A seg model whose graph ends in the argmax (`[N, 1, h, w]` int32 labels, 28× fewer bytes
/// than the logits) gives `mode=fast`'s labels exactly; `mode=exact` needs the logits and is
/// refused by name.
#[test]
fn seg_labels_computed_in_the_graph_equal_fast_mode_from_the_logits() {
    for (cfg, labels_model) in [
        ("seg-tiny.toml", "sapiens_tiny_seg_labels.onnx"),
        ("seg-analytic.toml", "seg_analytic_labels.onnx"),
    ] {
        let cfg = config(cfg);
        let plain = seg_on_vtest(
            &format!("sapiensseg config=\"{}\" mode=fast", cfg.display()),
            3,
        );
        let model = root().join("tests/models").join(labels_model);
        let graph = seg_on_vtest(
            &format!(
                "sapiensseg config=\"{}\" model=\"{}\" mode=fast",
                cfg.display(),
                model.display()
            ),
            3,
        );
        assert_eq!(plain.len(), 3);
        let classes: std::collections::BTreeSet<u8> = plain.iter().flatten().copied().collect();
        assert!(
            classes.len() > 1,
            "{labels_model}: more than one class seen"
        );
        assert!(plain == graph, "{labels_model}: labels differ");

        let el = gst::parse::bin_from_description(
            &format!(
                "sapiensseg config=\"{}\" model=\"{}\" mode=exact",
                cfg.display(),
                model.display()
            ),
            false,
        )
        .unwrap();
        let e = start(el.upcast_ref()).unwrap_err();
        let _ = el.set_state(gst::State::Null);
        assert!(
            e.contains("mode=exact") && e.contains("use mode=fast"),
            "{e}"
        );
    }
}

/// Pose crop pre-processing as a graph (`scripts/preprocess_graph.py`: BGRx bytes and the crop
/// maps in) gives the CPU path's normalized tensor — OpenCV's 8-bit `warpAffine` reproduced in
/// its fixed point — for an axis-aligned UDP crop, a crop reaching past the frame, and a rotated
/// and sheared map. The bound is 1e-3; the measured difference is printed.
#[test]
fn the_pose_warp_graph_reproduces_the_cpu_pre_processing() {
    use ort::value::TensorRef;
    use sapiens_stream::geometry::{Affine, BBox, Crop};
    use sapiens_stream::preprocess::{
        FrameView, Normalization, PixelLayout, Sampling, YuvMatrix, sample_normalize,
    };
    let (w, h) = (768u32, 576u32);
    // A frame with detail at every scale: gradients plus a hash.
    let frame: Vec<u8> = (0..w * h * 4)
        .map(|i| {
            let (p, c) = (i / 4, i % 4);
            let (x, y) = (p % w, p / w);
            ((x * (c + 1) + y * 3 + (p.wrapping_mul(2_654_435_761) >> 27)) % 256) as u8
        })
        .collect();
    let view = FrameView {
        layout: PixelLayout::BGRX,
        width: w,
        height: h,
        planes: vec![(&frame, w as usize * 4)],
        matrix: YuvMatrix::BT709,
    };
    let norm = Normalization {
        width: 768,
        height: 1024,
        mean: [123.5, 116.5, 103.5],
        std: [58.5, 57.0, 57.5],
    };
    let udp = |b: BBox| Crop::from_box(&b, 1.25, 0.75).udp_warp(768, 1024);
    let maps = [
        udp(BBox {
            x1: 220.0,
            y1: 100.0,
            x2: 420.0,
            y2: 520.0,
        }),
        udp(BBox {
            x1: -40.0,
            y1: 300.0,
            x2: 150.0,
            y2: 700.0,
        }),
        Affine([[1.31, 0.12, -20.5], [-0.07, 1.24, 10.25]]),
    ];
    let mut cpu = vec![0.0f32; maps.len() * norm.item_len()];
    for (m, out) in maps.iter().zip(cpu.chunks_exact_mut(norm.item_len())) {
        sample_normalize(&view, &Sampling::Warp(*m), &norm, out).unwrap();
    }
    let env = sapiens_stream::runtime::environment().unwrap();
    let mut session = ort::session::Session::builder(&env)
        .unwrap()
        .commit_from_file(root().join("tests/models/pose_warp_bgrx.onnx"))
        .unwrap();
    let affine: Vec<f64> = maps
        .iter()
        .flat_map(|m| m.0.iter().flatten().copied())
        .collect();
    let out = session
        .run(ort::inputs![
            "frames" => TensorRef::from_array_view(([1, h as usize, w as usize, 4], &frame[..])).unwrap(),
            "affine" => TensorRef::from_array_view(([maps.len(), 2, 3], &affine[..])).unwrap(),
            "frame_index" => TensorRef::from_array_view(([maps.len()], &vec![0i64; maps.len()][..])).unwrap(),
        ])
        .unwrap();
    let (shape, graph) = out["input"].try_extract_tensor::<f32>().unwrap();
    assert_eq!(&shape[..], &[3, 3, 1024, 768]);
    let worst = cpu
        .iter()
        .zip(graph)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!(
        "pose warp in the graph vs the CPU path: max |diff| {worst:e} over {} values",
        cpu.len()
    );
    assert!(worst <= 1e-3, "max |diff| {worst}");
}

/// A pose model with that graph in front (`preprocess_graph.py prepend`: the pixel form) gets
/// frame bytes from sapienspose and gives the keypoints of the same model fed the CPU path's
/// crops: frames packed into runs (batch-size 8: crops of several frames in one run) and a crowd
/// run by run (batch-size 1: frames with more persons than that).
#[test]
fn a_model_that_cuts_its_crops_in_the_graph_gives_the_cpu_crops_keypoints_on_real_video() {
    let cfg = config("pose-analytic-coco17.toml");
    let pixels = root().join("tests/models/pose_analytic_coco17_pixels.onnx");
    for batch in [8, 1] {
        let props = format!("config=\"{}\" batch-size={batch}", cfg.display());
        let plain = poses_on_vtest(&format!("sapienspose {props}"), 12);
        let graph = poses_on_vtest(
            &format!("sapienspose {props} model=\"{}\"", pixels.display()),
            12,
        );
        let most = plain.iter().map(|r| r.persons.len()).max().unwrap();
        assert!(most >= 2, "frames with several persons: {most}");
        let (dist, dscore, n) = compare(&plain, &graph);
        eprintln!(
            "pixel form vs CPU crops, batch-size {batch}: {n} keypoints, max {dist:.2e} px, score {dscore:.1e}"
        );
        assert!(n >= 17 * 12, "{n} keypoints compared");
        assert!(dist <= 0.01, "keypoints {dist} px apart");
        assert!(dscore <= 1e-4, "scores differ by {dscore}");
    }
}

/// What the pixel form cannot do is refused by name: a config whose `[input]` the graph does not
/// cut, the flip test, YUV frames forced on it (the graph reads packed RGB bytes; in a pipeline it
/// asks for them), a shared `model-instance`, and elements other than sapienspose.
#[test]
fn what_a_pixel_form_model_cannot_do_is_refused_by_name() {
    let pixels = root().join("tests/models/pose_analytic_coco17_pixels.onnx");
    let dir = scratch("pixels");
    let flip = dir.join("flip.toml");
    std::fs::write(
        &flip,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n[pose]\nkeypoint_set = \"coco-17\"\nflip_test = true\n",
            pixels.display()
        ),
    )
    .unwrap();
    init();
    let refused = |factory: &str, props: &[(&str, &str)]| {
        let mut b = gst::ElementFactory::make(factory);
        for (k, v) in props {
            b = b.property_from_str(k, v);
        }
        let el = b.build().unwrap();
        let e = start(&el).unwrap_err();
        let _ = el.set_state(gst::State::Null);
        e
    };
    // A graph normalizing otherwise than the config says (its record in the model's metadata).
    let other = dir.join("other-mean.toml");
    std::fs::write(
        &other,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n[input]\nmean = [122.77, 116.75, 104.09]\n[pose]\nkeypoint_set = \"coco-17\"\n",
            pixels.display()
        ),
    )
    .unwrap();
    let e = refused("sapienspose", &[("config", other.to_str().unwrap())]);
    assert!(
        e.contains("mean [123.5, 116.5, 103.5]") && e.contains("122.77") && e.contains("pose-warp"),
        "{e}"
    );
    let e = refused("sapienspose", &[("config", flip.to_str().unwrap())]);
    assert!(e.contains("flip_test") && e.contains("pixel form"), "{e}");
    let e = refused(
        "sapienspose",
        &[
            (
                "config",
                config("pose-analytic-coco17.toml").to_str().unwrap(),
            ),
            ("model", pixels.to_str().unwrap()),
            ("model-instance", "pixels-shared"),
        ],
    );
    assert!(
        e.contains("pixel form") && e.contains("model-instance"),
        "{e}"
    );
    let e = refused(
        "sapiensseg",
        &[
            ("config", config("seg-analytic.toml").to_str().unwrap()),
            ("model", pixels.to_str().unwrap()),
        ],
    );
    assert!(e.contains("only sapienspose"), "{e}");

    // In a pipeline, the element asks for packed RGB: videoconvert turns I420 into it.
    let line = format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=320,height=240 ! videoconvert ! \
         sapienspose config=\"{}\" model=\"{}\" ! appsink name=sink sync=false",
        config("pose-analytic-coco17.toml").display(),
        pixels.display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let sample = sink
        .pull_sample()
        .expect("a frame through the pixel form from I420");
    let caps = sample
        .caps()
        .unwrap()
        .structure(0)
        .unwrap()
        .get::<String>("format")
        .unwrap();
    assert!(
        PoseResult::from_buffer(sample.buffer().unwrap())
            .unwrap()
            .is_some()
    );
    pipe.set_state(gst::State::Null).unwrap();
    assert_ne!(caps, "I420", "the element negotiated packed RGB");

    // I420 frames forced on it: the frame fails with a message saying what to do.
    let (_, info) = dots_frame(gst_video::VideoFormat::I420, 64, 48, &[], 0);
    let mut h = pose_harness(
        "pose-analytic-coco17.toml",
        &info,
        &[("model", pixels.to_str().unwrap().to_value())],
    );
    let _ = h.push(dots_frame(gst_video::VideoFormat::I420, 64, 48, &[], 0).0);
    let msg = h.element().unwrap().bus().and_then(|bus| {
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
    });
    let text = match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => format!("{} {:?}", e.error(), e.debug()),
        _ => String::new(),
    };
    assert!(
        text.contains("packed RGB") && text.contains("videoconvert"),
        "error for I420 frames: {text:?}"
    );
}
