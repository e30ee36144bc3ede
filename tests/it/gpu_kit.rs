//! The GPU validation kit (`scripts/gpu-validate.sh`) runs here up to where a GPU is needed: the
//! CPU reference rows are measured, every GPU row says why it did not run (or, on a machine with
//! onnxruntime-gpu, runs and is checked against its tolerance), and the Rust side's
//! `build-engines` and `bench` rows run through the debug build.
use std::process::Command;

use crate::common::*;

#[test]
fn the_gpu_kit_reports_every_row_and_runs_what_this_machine_can() {
    let out = scratch("gpu-kit");
    let bin = root().join("target/debug/sapiens");
    assert!(
        bin.is_file(),
        "cargo build --workspace first (make test does)"
    );
    let run = Command::new(root().join("scripts/gpu-validate.sh"))
        .arg("--quick")
        .env("GPU_VALIDATE_OUT", &out)
        .env("SAPIENS_BIN", &bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        text
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
