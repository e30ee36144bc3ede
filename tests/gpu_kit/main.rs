//! The GPU validation kit (`scripts/gpu-validate.sh`) travels to a GPU machine in parts that fit
//! the device tool's 64 MiB a call (`scripts/gpu-bundle.sh`: a real ONNX Runtime wheel, the Rust
//! build with every library and GStreamer plugin it needs beyond glibc, a 1080p clip) and runs
//! there from the parts alone. Here it runs up to where a GPU is needed: the parts arrive call by
//! call (a damaged one refused by name), the CPU reference rows are measured, every GPU row says
//! why it did not run (or, with onnxruntime-gpu, runs and is checked against its tolerance), and
//! the Rust side's `build-engines` and `bench` rows run from the packed build and plugins only.
//!
//! Its own test binary, so it runs alone: packing and the kit's CPU rows load both cores for a
//! minute, which starved the RTSP tests' cameras into a spurious outage when run beside them.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is the report
use std::path::Path;
use std::process::{Command, Output};

#[path = "../it/common.rs"]
#[allow(dead_code)] // the helpers the other tests use
mod common;

use common::{root, scratch};

/// `scripts/gpu-bundle.sh ARGS` with `env`; its output, which must be a success.
fn bundle(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(root().join("scripts/gpu-bundle.sh"));
    cmd.args(args).env_remove("GST_PLUGIN_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_gpu_kit_travels_in_parts_and_reports_every_row() {
    let dir = scratch("gpu-kit");
    let bin = Path::new(env!("CARGO_BIN_EXE_sapiens"));
    assert!(
        bin.with_file_name("libgstsapiens.so").is_file(),
        "cargo build --workspace first (make test does)"
    );
    // The ONNX Runtime wheel this machine's Python takes (on a GPU machine: onnxruntime-gpu).
    let wheels = dir.join("wheels");
    let got = Command::new(root().join(".venv/bin/python"))
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
        ])
        .args(["--only-binary=:all:", "onnxruntime==1.32.0", "-d"])
        .arg(&wheels)
        .output()
        .unwrap();
    assert!(got.status.success(), "pip download: {}", text(&got));
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    let packed = dir.join("bundle");
    let pack = bundle(
        &[
            "pack",
            "--wheel",
            wheel.to_str().unwrap(),
            "--bin",
            bin.parent().unwrap().to_str().unwrap(),
            "--fast",
        ],
        &[("GPU_BUNDLE_DIR", &packed)],
    );
    assert!(pack.status.success(), "{}", text(&pack));
    let mut parts: Vec<_> = std::fs::read_dir(&packed)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("part-")
        })
        .collect();
    parts.sort();
    assert!(parts.len() >= 2, "the debug build packs into several parts");
    for p in &parts {
        assert!(
            std::fs::metadata(p).unwrap().len() <= 48 << 20,
            "{p:?} too big to carry"
        );
    }

    // One call per part, each carrying the MANIFEST and that part, as the device tool would.
    let (home, out, kit) = (dir.join("home"), dir.join("out"), dir.join("kit"));
    std::fs::create_dir_all(&out).unwrap();
    let python = root().join(".venv/bin/python");
    let call = |part: &Path, damaged: bool| {
        let carry = dir.join("carry");
        let _ = std::fs::remove_dir_all(&carry);
        std::fs::create_dir_all(&carry).unwrap();
        std::fs::copy(packed.join("MANIFEST"), carry.join("MANIFEST")).unwrap();
        let to = carry.join(part.file_name().unwrap());
        std::fs::copy(part, &to).unwrap();
        if damaged {
            let mut bytes = std::fs::read(&to).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            std::fs::write(&to, bytes).unwrap();
        }
        bundle(
            &["device", "--quick"],
            &[
                ("GPU_BUNDLE_DIR", &carry),
                ("GPU_BUNDLE_HOME", &home),
                ("OUT", &out),
                ("GPU_VALIDATE_OUT", &kit),
                ("PYTHON", &python),
            ],
        )
    };
    let damaged = call(&parts[0], true);
    assert!(
        !damaged.status.success() && text(&damaged).contains("part-00 arrived damaged"),
        "{}",
        text(&damaged)
    );
    for p in &parts[..parts.len() - 1] {
        let o = call(p, false);
        assert!(
            o.status.success() && text(&o).contains("still missing"),
            "{}",
            text(&o)
        );
    }
    let run = call(parts.last().unwrap(), false);
    let all = text(&run);
    assert!(run.status.success(), "{all}");
    assert!(
        all.contains("libraries the Rust side takes from this machine: none (all packed)"),
        "{all}"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(all.contains(&report), "the report is what the run printed");
    let text = report;
    // Python imported ONNX Runtime from the parts, and the Rust side loads that library too.
    assert!(
        text.contains(&format!(
            "ONNX Runtime library: {}/root/site/onnxruntime/capi/libonnxruntime.so.1.32.0",
            home.display()
        )),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("python.json")).unwrap()).unwrap();
    let providers: Vec<&str> = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        text.contains("| model | provider | precision | rel. diff vs CPU (tol)"),
        "{text}"
    );
    for model in [
        "sapiens_tiny_pose_goliath308.onnx",
        "sapiens_tiny_pose_goliath308_decoded.onnx",
        "sapiens_tiny_pose_goliath308-pixels.onnx",
        "sapiens_tiny_pose_goliath308_decoded-pixels.onnx",
    ] {
        let rows = &json["models"][model];
        let cpu = &rows["cpu fp32"]["timing"];
        for b in ["batch 1", "batch 8"] {
            assert!(
                cpu[b]["p50_ms"].as_f64().unwrap() > 0.0,
                "{model} {b}: {cpu}"
            );
        }
        for (key, provider) in [
            ("cuda fp32", "CUDAExecutionProvider"),
            ("tensorrt fp16", "TensorrtExecutionProvider"),
        ] {
            let row = &rows[key];
            if providers.contains(&provider) {
                assert!(
                    row["agreement"]["ok"].as_bool().unwrap(),
                    "{model} {key}: {row}"
                );
            } else {
                let why = row["skipped"].as_str().unwrap();
                assert!(
                    why.contains(provider) && why.contains("onnxruntime-gpu"),
                    "{why}"
                );
            }
        }
    }
    // The Rust side ran: engines built (a GPU) or TensorRT named as missing; the CPU bench row.
    assert!(
        text.contains("engines ready")
            || text.contains("'tensorrt' was requested but is not available"),
        "{text}"
    );
    assert!(
        text.contains("| element, pipelined (max-inflight=3) |"),
        "{text}"
    );
    // The bench decoded the packed 1080p clip with the packed plugins only.
    assert!(
        text.contains("frames of 1920x1080 from") && text.contains("clip-1080p.avi"),
        "{text}"
    );
    // Both forms benched through the elements on the CPU (crops made on the CPU, then the pixel
    // form): each section has its table.
    for form in ["crops", "pixels"] {
        let section = text
            .split(&format!("### sapiens bench: cpu, batch-size 1, {form},"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {form} bench section:\n{text}"));
        let section = section.split("###").next().unwrap();
        assert!(
            section.contains("| element, pipelined (max-inflight=3) |")
                && section.contains("| bare session |"),
            "{form}: {section}"
        );
    }
}
