//! Sapiens2's contracts against analytic models: the letterbox input (aspect kept, centred
//! padding, cropped off the output), the pointmap's metric scale and implied focal length, 29
//! full-resolution seg classes masking the points, PLY files of a frame's points.
use gst::prelude::*;
use gst_video::VideoFormat;
use sapiens_stream::labels::SegClassSetId;
use sapiens_stream::meta::dense::{PointmapResult, SegResult};

use crate::common::*;

const BASE: [u8; 3] = [200, 100, 50];
const PATCH: [u8; 3] = [60, 180, 220];

/// The base colour with a patch over the top-left quarter (the centre pixel stays base).
fn paint(w: i32, h: i32) -> impl Fn(i32, i32) -> [u8; 3] {
    move |x, y| if x < w / 4 && y < h / 4 { PATCH } else { BASE }
}

fn run_all(line: &str, buffers: Vec<gst::Buffer>, info: &gst_video::VideoInfo) -> Vec<gst::Buffer> {
    push_through(line, buffers, info).0
}

fn cfg(name: &str) -> String {
    format!("config=\"{}\"", config(name).display())
}

/// The analytic model's metric point for a pixel of colour `c` when the centre is `centre`:
/// (RGB / 100) / (1 + G_centre / 255).
fn metric(c: [u8; 3], centre: [u8; 3]) -> [f32; 3] {
    let scale = 1.0 + centre[1] as f32 / 255.0;
    c.map(|v| v as f32 / 100.0 / scale)
}

#[test]
fn pointmap_letterbox_is_cropped_off_and_points_are_metric() {
    // Landscape (padding above and below), portrait (left and right), and NV12 (colour through
    // YUV, so a looser tolerance).
    for (format, (w, h), tol) in [
        (VideoFormat::Rgb, (320, 240), 1e-4),
        (VideoFormat::Rgb, (240, 400), 1e-4),
        (VideoFormat::Nv12, (640, 360), 0.03),
    ] {
        let (buf, info) = painted_frame(format, w as u32, h as u32, 0, paint(w, h));
        let out = run_all(
            &format!("sapienspointmap {}", cfg("pointmap-analytic.toml")),
            vec![buf],
            &info,
        );
        let p = PointmapResult::from_buffer(&out[0])
            .unwrap()
            .expect("pointmap meta");
        assert_eq!((p.info.width, p.info.height), (w as u32, h as u32));
        assert!(!p.masked && p.info.untrained);
        let scale = 1.0 + BASE[1] as f32 / 255.0;
        assert!((p.scale - scale).abs() < 1e-3 * scale, "scale {}", p.scale);
        // Focal: 768 canonical / scale in input px, / (input px per frame px).
        let r = (768.0 / w as f64).min(1024.0 / h as f64);
        let inner_w = (w as f64 * r) as u32 as f64;
        let focal = 768.0 / p.scale as f64 / (inner_w / w as f64);
        assert!(
            (p.focal_px - focal).abs() < 1e-6 * focal,
            "{} vs {focal}",
            p.focal_px
        );
        // Every pixel, borders included: had padding (black, read as 0) leaked in, the edges
        // would be darker. The patch edge blurs over the resize taps.
        let points = p.values();
        let margin = 3;
        let (pw, ph) = (w / 4, h / 4);
        for y in 0..h {
            for x in 0..w {
                let near_edge = (x - pw).abs() < margin && y < ph + margin
                    || (y - ph).abs() < margin && x < pw + margin;
                if near_edge {
                    continue;
                }
                let want = metric(paint(w, h)(x, y), BASE);
                let got = &points[3 * (y * w + x) as usize..][..3];
                for c in 0..3 {
                    assert!(
                        (got[c] - want[c]).abs() <= tol * 2.0,
                        "{format:?} {w}x{h}: ({x},{y})[{c}] = {} want {}",
                        got[c],
                        want[c]
                    );
                }
            }
        }
        // Z percentiles: most of the frame is base (B 50), a sixteenth (over 1 %) is the patch
        // (B 220).
        let (lo, hi) = p.z_range.unwrap();
        let (zb, zp) = (metric(BASE, BASE)[2], metric(PATCH, BASE)[2]);
        assert!(
            (lo - zb).abs() <= tol * 2.0 && (hi - zp).abs() <= tol * 2.0,
            "{lo} {hi}"
        );
    }
}

#[test]
fn pointmap_scale_stays_with_its_frame_in_a_batch() {
    // Four frames of different greens in batches of 2: each frame's points use its own scale.
    let (w, h) = (160, 120);
    let greens = [0u8, 60, 120, 250];
    let mut info = None;
    let buffers = greens
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let (b, inf) = painted_frame(VideoFormat::Rgb, w, h, 40 * i as u64, move |_, _| {
                [100, g, 30]
            });
            info = Some(inf);
            b
        })
        .collect();
    let out = run_all(
        &format!(
            "sapienspointmap {} batch-size=2 max-inflight=2",
            cfg("pointmap-analytic.toml")
        ),
        buffers,
        &info.unwrap(),
    );
    for (b, &g) in out.iter().zip(&greens) {
        let p = PointmapResult::from_buffer(b).unwrap().unwrap();
        let c = [100, g, 30];
        assert!(
            (p.scale - (1.0 + g as f32 / 255.0)).abs() < 1e-3,
            "green {g}"
        );
        let want = metric(c, c);
        let got = &p.values()[3 * (60 * w as usize + 80)..][..3];
        for k in 0..3 {
            assert!(
                (got[k] - want[k]).abs() < 1e-4,
                "green {g}: {got:?} {want:?}"
            );
        }
    }
}

#[test]
fn twenty_nine_classes_at_full_resolution_mask_the_points_and_ply_files_hold_them() {
    // Sapiens2 seg (stretch, 29 classes, Eyeglass = 2) then pointmap (letterbox): the pointmap
    // must compute its own input (the stretched tensor on the buffer is for another geometry).
    let pal = SegClassSetId::DomeSeg29.palette();
    let (w, h) = (256, 192);
    // Background everywhere but an Eyeglass block (class 2, new in Sapiens2) and a Torso block
    // (22: v1's 21, shifted by one).
    let class_at = |x: i32, y: i32| {
        if (32..96).contains(&x) && (40..120).contains(&y) {
            2
        } else if (140..220).contains(&x) && (60..170).contains(&y) {
            22
        } else {
            0
        }
    };
    let (buf, info) = painted_frame(VideoFormat::Rgb, w as u32, h as u32, 0, |x, y| {
        pal[class_at(x, y)]
    });
    let dir = scratch("ply");
    let pattern = dir.join("pts-%03d.ply");
    let out = run_all(
        &format!(
            "sapiensseg name=seg {} ! sapienspointmap name=pm {} ply-location=\"{}\" ! \
             sapiensjson location=\"{}\"",
            cfg("seg29-analytic.toml"),
            cfg("pointmap-analytic.toml"),
            pattern.display(),
            dir.join("r.jsonl").display()
        ),
        vec![buf],
        &info,
    );
    let seg = SegResult::from_buffer(&out[0]).unwrap().unwrap();
    assert_eq!(seg.classes, SegClassSetId::DomeSeg29);
    let labels = seg.labels();
    let margin = 3;
    let inside = |x: i32, y: i32| {
        (0..=margin).all(|d| {
            [(x - d, y), (x + d, y), (x, y - d), (x, y + d)]
                .iter()
                .all(|&(a, b)| class_at(a, b) == class_at(x, y))
        })
    };
    let mut foreground = 0usize;
    for y in 0..h {
        for x in 0..w {
            let got = labels[(y * w + x) as usize] as usize;
            if inside(x, y) {
                assert_eq!(got, class_at(x, y), "class at ({x},{y})");
            }
            foreground += usize::from(got != 0);
        }
    }
    let p = PointmapResult::from_buffer(&out[0]).unwrap().unwrap();
    assert!(p.masked);
    let points = p.values();
    for (i, &l) in labels.iter().enumerate() {
        let nan = points[3 * i..3 * i + 3].iter().all(|v| v.is_nan());
        assert_eq!(nan, l == 0, "pixel {i}: class {l}");
    }
    // The PLY file of frame 0: one vertex per foreground pixel, little-endian floats equal to
    // the meta's points.
    let bytes = std::fs::read(dir.join("pts-000.ply")).unwrap();
    let end = b"end_header\n";
    let at = bytes.windows(end.len()).position(|w| w == end).unwrap() + end.len();
    let header = String::from_utf8_lossy(&bytes[..at]).to_string();
    assert!(
        header.contains(&format!("element vertex {foreground}\n")),
        "{header}"
    );
    let body: Vec<f32> = bytes[at..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let finite: Vec<f32> = points.iter().copied().filter(|v| v.is_finite()).collect();
    assert_eq!(body, finite);
    // The JSON record: class names of the 29-class set, the pointmap's camera and Z range.
    let text = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
    let r: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let names: Vec<&str> = r["seg"]["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Background", "Eyeglass", "Torso"], "{r}");
    let pm = &r["pointmap"];
    assert_eq!(pm["masked"], true);
    assert!((pm["scale"].as_f64().unwrap() - p.scale as f64).abs() < 1e-6);
    assert!((pm["focal_px"].as_f64().unwrap() - p.focal_px).abs() < 1e-6);
    let (lo, hi) = p.z_range.unwrap();
    assert!((pm["z"]["min"].as_f64().unwrap() - lo as f64).abs() < 1e-6);
    assert!((pm["z"]["max"].as_f64().unwrap() - hi as f64).abs() < 1e-6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn letterbox_is_refused_for_pose_and_a_bad_ply_pattern_is_named() {
    init();
    let dir = scratch("s2-errors");
    let bad = dir.join("pose.toml");
    let text = std::fs::read_to_string(config("pose-analytic-coco17.toml"))
        .unwrap()
        .replace(
            "../tests/models/",
            &format!("{}/tests/models/", root().display()),
        );
    let text = text.replacen("[pose]", "[input]\nresize = \"letterbox\"\n\n[pose]", 1);
    std::fs::write(&bad, text).unwrap();
    let e = sapiens_stream::config::Config::load(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("input.resize") && e.contains("[pose]"), "{e}");

    let el = gst::ElementFactory::make("sapienspointmap")
        .property("config", config("pointmap-analytic.toml").to_str().unwrap())
        .property("ply-location", "points.ply")
        .build()
        .unwrap();
    let e = start(&el).unwrap_err();
    el.set_state(gst::State::Null).unwrap();
    assert!(
        e.contains("ply-location") && e.contains("points.ply"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
