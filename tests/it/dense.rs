//! The dense heads against their analytic models: painted regions of known colour give known
//! labels, depth values and normal directions at frame resolution, with background masking and
//! the input tensor computed once for the three heads.
use gst::prelude::*;
use gst_video::VideoFormat;
use sapiens_stream::meta::dense::{DepthResult, NormalResult, SegResult};
use sapiens_stream::meta::tensor::TENSOR_META;

use crate::common::*;

/// Goliath seg palette (RGB) from the compiled-in class set file.
fn palette() -> Vec<[u8; 3]> {
    let text = std::fs::read_to_string(root().join("configs/classes/goliath-seg-28.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| [0, 1, 2].map(|i| c["color_rgb"][i].as_u64().unwrap() as u8))
        .collect()
}

/// A painted region: `(x, y, w, h)` in frame pixels and its seg class.
type Region = ((i32, i32, i32, i32), usize);

fn regions(w: i32, h: i32) -> Vec<Region> {
    vec![
        ((w / 16, h / 10, w / 3, h / 3), 5),
        ((w / 2, h / 2, w / 3, h / 3), 21),
        ((w / 10, 2 * h / 3, w / 5, h / 4), 3),
    ]
}

/// The class of (x, y) if it is at least `margin` px inside a region or outside all of them.
fn expected(regions: &[Region], x: i32, y: i32, margin: i32) -> Option<usize> {
    let mut class = Some(0);
    for &((rx, ry, rw, rh), k) in regions {
        let inside =
            x >= rx + margin && x < rx + rw - margin && y >= ry + margin && y < ry + rh - margin;
        let near =
            x >= rx - margin && x < rx + rw + margin && y >= ry - margin && y < ry + rh + margin;
        if inside {
            return Some(k);
        }
        if near {
            class = None;
        }
    }
    class
}

/// Runs one painted frame through `line` (between appsrc and appsink); returns the output.
fn run(
    line: &str,
    buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
) -> (gst::Buffer, Vec<gst::Element>) {
    let (mut out, elements) = push_through(line, vec![buffer], info);
    (out.remove(0), elements)
}

fn cfg(name: &str) -> String {
    format!("config=\"{}\"", config(name).display())
}

#[test]
fn seg_labels_painted_regions_exactly_in_both_modes() {
    let pal = palette();
    for (format, (w, h)) in [
        (VideoFormat::Rgb, (640, 360)),
        (VideoFormat::Bgrx, (360, 640)),
        (VideoFormat::Nv12, (1280, 720)),
    ] {
        let regs = regions(w, h);
        let (buf, info) = painted_frame(format, w as u32, h as u32, 0, |x, y| {
            regs.iter()
                .find(|((rx, ry, rw, rh), _)| x >= *rx && x < rx + rw && y >= *ry && y < ry + rh)
                .map_or(pal[0], |r| pal[r.1])
        });
        // Edges blur over 2 model-input pixels (the 2x2 average) plus the resize taps.
        let margin = (4.0 * (w as f64 / 768.0).max(h as f64 / 1024.0)).ceil() as i32 + 2;
        let mut results = Vec::new();
        for mode in ["exact", "fast"] {
            let (out, _) = run(
                &format!("sapiensseg {} mode={mode}", cfg("seg-analytic.toml")),
                buf.clone(),
                &info,
            );
            let seg = SegResult::from_buffer(&out).unwrap().expect("seg meta");
            assert_eq!((seg.info.width, seg.info.height), (w as u32, h as u32));
            let labels = seg.labels().to_vec();
            for y in 0..h {
                for x in 0..w {
                    if let Some(k) = expected(&regs, x, y, margin) {
                        let got = labels[(y * w + x) as usize] as usize;
                        assert_eq!(got, k, "{format:?} {w}x{h} {mode}: pixel ({x},{y})");
                    }
                }
            }
            results.push(labels);
        }
        // Where the modes differ, it is at a class boundary.
        for (i, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
            let (x, y) = ((i % w as usize) as i32, (i / w as usize) as i32);
            assert!(
                a == b || expected(&regs, x, y, margin).is_none(),
                "exact {a} vs fast {b} away from edges at ({x},{y})"
            );
        }
    }
}

#[test]
fn depth_and_normal_follow_the_model_masked_by_seg_with_one_shared_input_tensor() {
    let pal = palette();
    let (w, h) = (480, 640);
    let regs = regions(w, h);
    let (buf, info) = painted_frame(VideoFormat::Rgbx, w as u32, h as u32, 0, |x, y| {
        regs.iter()
            .find(|((rx, ry, rw, rh), _)| x >= *rx && x < rx + rw && y >= *ry && y < ry + rh)
            .map_or(pal[0], |r| pal[r.1])
    });
    let line = format!(
        "sapiensseg name=seg {} ! sapiensdepth name=depth {} ! sapiensnormal name=normal {}",
        cfg("seg-analytic.toml"),
        cfg("depth-analytic.toml"),
        cfg("normal-analytic.toml")
    );
    let (out, elements) = run(&line, buf, &info);
    let by = |n: &str| elements.iter().find(|e| e.name() == n).unwrap().clone();
    assert_eq!(by("seg").property::<u64>("tensors-computed"), 1);
    assert_eq!(
        (
            by("depth").property::<u64>("tensors-computed"),
            by("depth").property::<u64>("tensors-reused")
        ),
        (0, 1)
    );
    assert_eq!(
        (
            by("normal").property::<u64>("tensors-computed"),
            by("normal").property::<u64>("tensors-reused")
        ),
        (0, 1)
    );
    assert!(
        gst::meta::CustomMeta::from_buffer(&out, TENSOR_META).is_ok(),
        "the shared tensor travels with the buffer"
    );

    let seg = SegResult::from_buffer(&out).unwrap().unwrap();
    let depth = DepthResult::from_buffer(&out).unwrap().unwrap();
    let normal = NormalResult::from_buffer(&out).unwrap().unwrap();
    assert!(depth.masked && normal.masked);
    let (d, n, labels) = (depth.values(), normal.values(), seg.labels());
    let mean = |c: [u8; 3]| (c[0] as f32 + c[1] as f32 + c[2] as f32) / 3.0;
    let margin = 5;
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize;
            let (dv, nv) = (d[i], &n[3 * i..3 * i + 3]);
            // Masking follows the seg labels pixel for pixel.
            assert_eq!(dv.is_nan(), labels[i] == 0, "depth mask at ({x},{y})");
            assert_eq!(nv[0].is_nan(), labels[i] == 0, "normal mask at ({x},{y})");
            if labels[i] != 0 {
                let len = (nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2]).sqrt();
                assert!((len - 1.0).abs() < 1e-3, "|n| = {len} at ({x},{y})");
            }
            if let Some(k) = expected(&regs, x, y, margin).filter(|k| *k != 0) {
                let c = pal[k];
                assert!(
                    (dv - mean(c)).abs() < 0.01,
                    "depth {dv} at ({x},{y}), want {}",
                    mean(c)
                );
                let v = [
                    c[0] as f32 - 128.0,
                    c[1] as f32 - 128.0,
                    c[2] as f32 - 128.0,
                ];
                let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                for a in 0..3 {
                    assert!(
                        (nv[a] - v[a] / norm).abs() < 1e-3,
                        "normal {nv:?} at ({x},{y}), want direction {v:?}"
                    );
                }
            }
        }
    }
    // The foreground range: its max is the brightest region's mean (edges only blend towards
    // the darker background), its min lies between the background's and the darkest region's.
    let means: Vec<f32> = regs.iter().map(|r| mean(pal[r.1])).collect();
    let (lo, hi) = depth.range.unwrap();
    let max = means.iter().cloned().fold(f32::MIN, f32::max);
    let min = means.iter().cloned().fold(f32::MAX, f32::min);
    assert!((hi - max).abs() < 0.01, "fg max {hi}, want {max}");
    assert!(
        lo <= min + 0.01 && lo >= mean(pal[0]) - 0.01,
        "fg min {lo} in [{}, {min}]",
        mean(pal[0])
    );
}

#[test]
fn each_dense_element_in_a_harness_keeps_order_timestamps_and_counts() {
    init();
    for (element, cfg_name) in [
        ("sapiensseg", "seg-tiny.toml"),
        ("sapiensdepth", "depth-tiny.toml"),
        ("sapiensnormal", "normal-tiny.toml"),
    ] {
        let el = gst::ElementFactory::make(element)
            .property("config", config(cfg_name).to_str().unwrap())
            .build()
            .unwrap();
        let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
        start(&el).unwrap_or_else(|e| panic!("{element}: {e}"));
        let (_, info) = painted_frame(VideoFormat::I420, 160, 120, 0, |_, _| [90, 90, 90]);
        h.set_src_caps(info.to_caps().unwrap());
        for i in 0..4 {
            h.push(
                painted_frame(VideoFormat::I420, 160, 120, 40 * i, |x, _| {
                    [x as u8, 90, 90]
                })
                .0,
            )
            .unwrap();
        }
        h.push_event(gst::event::Eos::new());
        for i in 0..4 {
            let b = h.pull().unwrap();
            assert_eq!(
                b.pts(),
                Some(gst::ClockTime::from_mseconds(40 * i)),
                "{element}: frame {i}"
            );
            let has = match element {
                "sapiensseg" => SegResult::from_buffer(&b)
                    .unwrap()
                    .map(|r| (r.info.width, r.info.height, r.info.untrained)),
                "sapiensdepth" => DepthResult::from_buffer(&b)
                    .unwrap()
                    .map(|r| (r.info.width, r.info.height, r.info.untrained)),
                _ => NormalResult::from_buffer(&b)
                    .unwrap()
                    .map(|r| (r.info.width, r.info.height, r.info.untrained)),
            };
            assert_eq!(
                has,
                Some((160, 120, true)),
                "{element}: frame-size result from untrained weights"
            );
        }
        // Counters are final once EOS, pushed after the last frame, has arrived.
        buffers_before_eos(&mut h);
        let st = element_stats(&el);
        assert_eq!(
            (st.frames_in, st.frames_out, st.failed),
            (4, 4, 0),
            "{element}"
        );
        let _ = el.set_state(gst::State::Null);
    }
}

/// The official dense pre-processing (`cv2.resize` INTER_LINEAR of the uint8 BGR frame to
/// 768×1024, BGR→RGB, `(x − mean) / std`), computed independently in Python with OpenCV and
/// numpy, against the tensor the dense elements leave on the buffer, with a deliberately
/// asymmetric mean/std. Frames smaller and larger than the input, odd sizes, every packed layout
/// family; YUV against "videoconvert to BGR, then the official pre-processing" under each
/// colorimetry the caps can say.
#[test]
fn dense_input_tensor_is_the_official_pre_processing() {
    let dir = scratch("official-tensor");
    let cfg = dir.join("seg-asymmetric.toml");
    let (mean, std) = ("10,200,90", "20,90,45");
    std::fs::write(
        &cfg,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n\
             [input]\nheight = 1024\nwidth = 768\nmean = [{mean}]\nstd = [{std}]\n[seg]\n",
            root().join("tests/models/seg_analytic.onnx").display()
        ),
    )
    .unwrap();
    let packed = [
        "RGB/768x576",
        "BGR/640x480",
        "BGRx/333x777",
        "xRGB/1920x1080",
        "RGBA/1023x1025",
        "ABGR/101x53",
        "BGRA/800x1100",
    ];
    // YUV: chroma is upsampled at a different point (in the model-input grid here, in the frame
    // grid by a decoder), so YUV input only approaches the decode-then-convert tensor (README).
    // The 99th percentile bound catches a colorimetry mistake: measured here 0.07–0.11 when
    // right; 0.19–0.23 with the chroma siting ignored, 0.23 with BT.709 read as BT.601, 0.78
    // with full range read as limited.
    let yuv = [
        "I420/640x480/bt601",
        "I420/768x576/bt709/mpeg2",
        "NV12/1280x720/bt709",
        "NV12/333x777/bt601/jpeg",
        "I420/640x480/1:4:0:0",
        "I420/640x480/bt709/cosited",
    ];
    let mut args = vec![
        cfg.display().to_string(),
        vtest().display().to_string(),
        mean.into(),
        std.into(),
    ];
    args.extend(packed.iter().chain(&yuv).map(|c| c.to_string()));
    let results = run_python("dense_tensor.py", &args);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), packed.len() + yuv.len());
    for r in results {
        let case = r["case"].as_str().unwrap();
        let get = |k: &str| r[k].as_f64().unwrap();
        if packed.contains(&case) {
            assert!(get("max_diff") <= 1e-3, "{case}: {r}");
        } else {
            assert!(
                get("p99_diff") <= 0.13 && get("mean_diff") <= 0.02 && get("max_diff") <= 2.5,
                "{case}: {r}"
            );
        }
    }
}
