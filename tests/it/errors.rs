//! Bad input gives a GStreamer error naming the cause, never a panic or a silent drop.
use std::path::Path;

use gst::prelude::*;

use crate::common::*;

/// Starts a `sapienspose` on `config` with `props`; returns the error message it posts.
fn start_error(config: &Path, props: &[(&str, &str)]) -> String {
    element_start_error("sapienspose", config, props)
}

/// Starts `element` on `config` with `props`; returns the error message it posts.
fn element_start_error(element: &str, config: &Path, props: &[(&str, &str)]) -> String {
    init();
    let mut b = gst::ElementFactory::make(element).property("config", config.to_str().unwrap());
    for (k, v) in props {
        b = b.property_from_str(k, v);
    }
    let el = b.build().unwrap();
    let r = start(&el);
    let _ = el.set_state(gst::State::Null);
    r.expect_err("the element must refuse to start")
}

/// A pose config `name` in `dir` for `model` with keypoint set `set`.
pub(crate) fn write_config(dir: &Path, name: &str, model: &Path, set: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let text = format!(
        "schema_version = 1\n[model]\npath = \"{}\"\n[pose]\nkeypoint_set = \"{set}\"\n",
        model.display()
    );
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn missing_model_file_names_the_file_and_the_config() {
    let dir = scratch("missing");
    let cfg = write_config(&dir, "c.toml", &dir.join("nowhere.onnx"), "coco-17");
    let e = start_error(&cfg, &[]);
    assert!(
        e.contains("nowhere.onnx") && e.contains("not found") && e.contains("c.toml"),
        "{e}"
    );
}

#[test]
fn model_that_does_not_match_the_config_names_both_sides() {
    let dir = scratch("mismatch");
    let model = root().join("tests/models/pose_analytic_coco17.onnx");
    let cfg = write_config(&dir, "c.toml", &model, "goliath-308");
    let e = start_error(&cfg, &[]);
    assert!(e.contains("does not match"), "{e}");
    assert!(
        e.contains("pose_analytic_coco17.onnx") && e.contains("c.toml"),
        "names model and config: {e}"
    );
    assert!(
        e.contains("[?,17,256,192]") && e.contains("[batch,308,256,192]"),
        "names both shapes: {e}"
    );
}

#[test]
fn corrupt_onnx_file_is_a_load_error() {
    let dir = scratch("corrupt");
    let model = dir.join("corrupt.onnx");
    std::fs::write(&model, b"this is not a protobuf").unwrap();
    let cfg = write_config(&dir, "c.toml", &model, "coco-17");
    let e = start_error(&cfg, &[]);
    assert!(
        e.contains("corrupt.onnx") && e.contains("ONNX Runtime could not load it"),
        "{e}"
    );
}

#[test]
fn config_errors_name_the_file_and_key() {
    let dir = scratch("badcfg");
    let p = dir.join("typo.toml");
    std::fs::write(&p, "schema_version = 1\n[model]\npath = \"m.onnx\"\n[pose]\nkeypoint_set = \"coco-17\"\nscore_treshold = 0.5\n").unwrap();
    let e = start_error(&p, &[]);
    assert!(
        e.contains("typo.toml") && e.contains("score_treshold"),
        "{e}"
    );
    let e = start_error(&dir.join("absent.toml"), &[]);
    assert!(e.contains("absent.toml"), "{e}");
}

#[test]
fn unavailable_explicit_provider_is_an_error_not_a_fallback() {
    init();
    for provider in ["cuda", "tensorrt"] {
        let el = gst::ElementFactory::make("sapienspose")
            .property("config", config("pose-tiny-coco17.toml").to_str().unwrap())
            .property_from_str("execution-provider", provider)
            .build()
            .unwrap();
        match start(&el) {
            // A machine with a usable provider runs on it, and says so.
            Ok(()) => assert_eq!(el.property::<String>("provider"), provider),
            Err(e) => assert!(
                e.contains(&format!("'{provider}' was requested but is not available")),
                "{e}"
            ),
        }
        let _ = el.set_state(gst::State::Null);
    }
}

/// `sapiens build-engines` asks for TensorRT by name: without it, the same clear error (with it,
/// the engines are built and it succeeds).
#[test]
fn build_engines_without_tensorrt_says_so() {
    use clap::Parser;
    let r = sapiens_stream::cli::Cli::parse_from([
        "sapiens",
        "build-engines",
        "--configs",
        config("pose-tiny-coco17.toml").to_str().unwrap(),
        "--batch-size",
        "2",
        "--precision",
        "fp16",
    ])
    .execute();
    if let Err(e) = r {
        let e = e.to_string();
        assert!(
            e.contains("'tensorrt' was requested but is not available"),
            "{e}"
        );
    }
}

/// The warm-up an element runs on a GPU provider (and `build-engines`) runs the model at each
/// batch size asked, a fixed-batch model's runs padded to its batch.
#[test]
fn warm_up_runs_every_batch_size_asked() {
    use sapiens_stream::runtime::{ModelSession, ProviderChoice, RuntimeOptions};
    let opts = RuntimeOptions {
        provider: ProviderChoice::Cpu,
        intra_op_threads: 1,
        ..Default::default()
    };
    for model in [
        "pose_analytic_coco17.onnx",
        "pose_analytic_coco17_b2.onnx",
        "pose_analytic_coco17_pixels.onnx",
    ] {
        let s = ModelSession::load(&root().join("tests/models").join(model), &opts).unwrap();
        s.warm_up(&[1, 3])
            .unwrap_or_else(|e| panic!("{model}: {e}"));
    }
}

#[test]
fn unsupported_caps_are_refused_with_a_message_naming_them() {
    init();
    let cfg = config("pose-tiny-coco17.toml");
    // Linking in a launch line: refused at link time, naming the element and the caps.
    let line = format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 ! sapienspose config=\"{}\" ! fakesink",
        cfg.display()
    );
    let e = gst::parse::launch(&line)
        .expect_err("GRAY8 cannot link")
        .to_string();
    assert!(
        e.contains("can't handle caps") && e.contains("GRAY8"),
        "{e}"
    );
    // Pushed at a running element: the caps are refused and data flow says not-negotiated.
    let el = gst::ElementFactory::make("sapienspose")
        .property("config", cfg.to_str().unwrap())
        .build()
        .unwrap();
    let mut h = gst_check::Harness::with_element(&el, Some("sink"), Some("src"));
    start(&el).unwrap();
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=64,height=48,framerate=25/1");
    let buffer = gst::Buffer::with_size(64 * 48).unwrap();
    assert_eq!(h.push(buffer), Err(gst::FlowError::NotNegotiated));
}

#[test]
fn dense_heads_refuse_models_and_configs_of_another_head() {
    // A depth model behind a seg config: 1 channel at 1024x768, not 28 at 512x384.
    let dir = scratch("dense");
    let p = dir.join("seg-on-depth.toml");
    let model = root().join("tests/models/sapiens_tiny_depth.onnx");
    std::fs::write(
        &p,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\n[seg]\n",
            model.display()
        ),
    )
    .unwrap();
    let e = element_start_error("sapiensseg", &p, &[]);
    assert!(
        e.contains("does not match")
            && e.contains("[?,1,1024,768]")
            && e.contains("[batch,28,512,384]"),
        "{e}"
    );
    // A pose config given to a dense element.
    let e = element_start_error("sapiensdepth", &config("pose-tiny-coco17.toml"), &[]);
    assert!(e.contains("config is for sapienspose"), "{e}");
    // Another dense head's config: each element runs only its own head.
    for (element, cfg, runs) in [
        ("sapiensdepth", "seg-tiny.toml", "sapiensseg"),
        ("sapiensnormal", "depth-tiny.toml", "sapiensdepth"),
        ("sapiensseg", "normal-tiny.toml", "sapiensnormal"),
    ] {
        let e = element_start_error(element, &config(cfg), &[]);
        assert!(
            e.contains(&format!("config is for {runs}")) && e.contains(cfg),
            "{element} with {cfg}: {e}"
        );
    }
    // A seg config given to the pose element.
    let e = element_start_error("sapienspose", &config("seg-tiny.toml"), &[]);
    assert!(e.contains("[pose]"), "{e}");
}
