//! End-to-end accuracy of `sapienspose` on the analytic model: dots drawn at known frame positions
//! must come back as keypoints within 1.5 px, through ROI/whole-frame crops, the UDP warp, every
//! input format, ONNX Runtime, DARK-UDP decoding and the inverse mapping.
use gst_video::VideoFormat;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

/// Positions of a person's dots, relative to its box.
const LAYOUT: [(f64, f64); 5] = [
    (0.3, 0.2),
    (0.7, 0.35),
    (0.5, 0.5),
    (0.3, 0.75),
    (0.7, 0.85),
];

struct Case {
    format: VideoFormat,
    size: (u32, u32),
    /// Person boxes `(x, y, w, h)`; empty = none given, the whole frame is the box.
    boxes: Vec<(u32, u32, u32, u32)>,
}

/// Dots for person `p` in box `b` (keypoints 5p..5p+4), sized to ~4 model-input px.
fn dots_for(p: usize, b: (u32, u32, u32, u32)) -> Vec<Dot> {
    let (x, y, w, h) = (b.0 as f64, b.1 as f64, b.2 as f64, b.3 as f64);
    let crop_w = (w * 1.25).max(h * 1.25 * 0.75);
    let r = ((4.0 * crop_w / 767.0).round() as i32).max(2);
    LAYOUT
        .iter()
        .enumerate()
        .map(|(i, (fx, fy))| Dot {
            k: 5 * p + i,
            x: (x + fx * w).round() as i32,
            y: (y + fy * h).round() as i32,
            r,
        })
        .collect()
}

#[test]
fn dots_decode_to_their_frame_positions() {
    let cases = [
        Case {
            format: VideoFormat::Rgb,
            size: (640, 360),
            boxes: vec![],
        },
        Case {
            format: VideoFormat::Bgrx,
            size: (360, 640),
            boxes: vec![],
        },
        Case {
            format: VideoFormat::Rgb,
            size: (1280, 720),
            boxes: vec![(100, 100, 300, 500), (800, 150, 300, 500)],
        },
        Case {
            format: VideoFormat::I420,
            size: (1920, 1080),
            boxes: vec![(500, 200, 400, 700)],
        },
        Case {
            format: VideoFormat::Nv12,
            size: (800, 600),
            boxes: vec![],
        },
        Case {
            format: VideoFormat::Xbgr,
            size: (320, 240),
            boxes: vec![(0, 20, 120, 200)],
        },
    ];
    for (ci, case) in cases.iter().enumerate() {
        let (w, h) = case.size;
        let boxes = if case.boxes.is_empty() {
            vec![(0, 0, w, h)]
        } else {
            case.boxes.clone()
        };
        let dots: Vec<Vec<Dot>> = boxes
            .iter()
            .enumerate()
            .map(|(p, b)| dots_for(p, *b))
            .collect();
        let all: Vec<Dot> = dots.iter().flatten().copied().collect();
        let (mut buf, info) = dots_frame(case.format, w, h, &all, 40 * ci as u64);
        for b in &case.boxes {
            add_person(&mut buf, *b);
        }
        let mut harness = pose_harness("pose-analytic-coco17.toml", &info, &[]);
        harness.push(buf).unwrap();
        let out = harness.pull().unwrap();
        let pose = PoseResult::from_buffer(&out)
            .unwrap()
            .expect("pose meta on the output buffer");
        assert_eq!(pose.persons.len(), boxes.len(), "case {ci}");
        for (p, person) in pose.persons.iter().enumerate() {
            let b = boxes[p];
            assert_eq!(
                [
                    person.bbox.x1,
                    person.bbox.y1,
                    person.bbox.x2,
                    person.bbox.y2
                ],
                [
                    b.0 as f32,
                    b.1 as f32,
                    (b.0 + b.2) as f32,
                    (b.1 + b.3) as f32
                ],
                "case {ci} person {p} box"
            );
            for (k, kp) in person.keypoints.iter().enumerate() {
                match dots[p].iter().find(|d| d.k == k) {
                    Some(d) => {
                        let err =
                            ((kp.x - d.x as f32).powi(2) + (kp.y - d.y as f32).powi(2)).sqrt();
                        assert!(
                            err <= 1.5,
                            "case {ci} ({:?} {w}x{h}) person {p} keypoint {k}: decoded ({:.2}, {:.2}), drawn at ({}, {}), error {err:.2} px",
                            case.format,
                            kp.x,
                            kp.y,
                            d.x,
                            d.y
                        );
                        // The analytic score grows with the dot's area in model pixels; drawn dots
                        // score > 0.1, absent colours ~0.
                        assert!(
                            kp.score > 0.1,
                            "case {ci} person {p} keypoint {k}: score {}",
                            kp.score
                        );
                    }
                    None => assert!(
                        kp.score < 0.01,
                        "case {ci} person {p} keypoint {k} not drawn but scores {}",
                        kp.score
                    ),
                }
            }
        }
    }
}

/// The analytic pose config with `[pose] flip_test = true` (model path made absolute).
fn flip_config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(config("pose-analytic-coco17.toml"))
        .unwrap()
        .replace(
            "../tests/models/",
            &format!("{}/tests/models/", root().display()),
        )
        .replace("[pose]", "[pose]\nflip_test = true");
    let path = dir.join("pose-flip.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn flip_test_averages_the_mirrored_pass_with_left_and_right_swapped() {
    // A nose (its own flip partner) and a left eye, no right eye. The mirrored crop shows the
    // left eye's colour where a right eye would be: flipped back, its "left eye" channel lands
    // on the right-eye keypoint. So, against the plain run: the nose is unchanged; the left eye
    // stays put at half the score; the right eye appears on the left eye, also at half.
    let dir = scratch("flip");
    let (w, h) = (480u32, 640u32);
    let dots = [
        Dot {
            k: 0,
            x: 251,
            y: 203,
            r: 4,
        },
        Dot {
            k: 1,
            x: 282,
            y: 181,
            r: 4,
        },
    ];
    let (buf, info) = dots_frame(VideoFormat::Rgb, w, h, &dots, 0);
    let run = |config: &str| {
        let mut harness = pose_harness(config, &info, &[]);
        let out = harness.push_and_pull(buf.clone()).unwrap();
        PoseResult::from_buffer(&out).unwrap().unwrap().persons[0]
            .keypoints
            .clone()
    };
    let plain = run("pose-analytic-coco17.toml");
    let flip_cfg = flip_config(&dir);
    let flipped = run(flip_cfg.to_str().unwrap());
    let at = |k: &sapiens_stream::heads::pose::Keypoint| (k.x, k.y);
    let near = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1) < 0.25;
    assert!(near(at(&flipped[0]), at(&plain[0])), "nose {flipped:?}");
    assert!((flipped[0].score / plain[0].score - 1.0).abs() < 0.02);
    assert!(near(at(&flipped[1]), at(&plain[1])), "left eye");
    assert!((flipped[1].score / plain[1].score - 0.5).abs() < 0.02);
    assert!(
        near(at(&flipped[2]), at(&plain[1])),
        "right eye on the left eye"
    );
    assert!((flipped[2].score / plain[1].score - 0.5).abs() < 0.02);
    assert!(plain[2].score < 0.05, "no right eye without the flip test");
    std::fs::remove_dir_all(&dir).unwrap();
}
