//! The Triton client against a real Triton Inference Server on 127.0.0.1 (PyPI nvidia-pytriton's
//! `tritonserver` 2.51, CPU, serving our ONNX files through ONNX Runtime: tests/triton/serve.py,
//! `.venv-triton` from `make setup`): results identical to the local session, metadata
//! mismatches and unreachable servers as clear errors, a request deadline, and a server killed
//! and restarted mid-stream. `SAPIENS_SKIP_TRITON_TESTS=1` skips them (said on stderr).
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::VideoFormat;
use sapiens_stream::meta::dense::DepthResult;

use crate::common::*;

/// `SAPIENS_SKIP_TRITON_TESTS=1` skips the Triton tests (said on stderr).
fn skipped() -> bool {
    let skip = std::env::var_os("SAPIENS_SKIP_TRITON_TESTS").is_some_and(|v| v == "1");
    if skip {
        eprintln!("SAPIENS_SKIP_TRITON_TESTS=1: Triton test skipped");
    }
    skip
}

/// A `tritonserver` serving ONNX files (killed with its process group on drop).
struct Triton {
    child: Child,
    port: u16,
    log: PathBuf,
    workspace: PathBuf,
    killed: bool,
}

impl Triton {
    /// Serves `models` (`name`, ONNX file) on `port` (0: a free one) with `extra` serve.py flags.
    /// `None` when the tests are skipped.
    fn start(port: u16, models: &[(&str, &str)], extra: &[&str]) -> Option<Self> {
        if skipped() {
            return None;
        }
        let python = root().join(".venv-triton/bin/python");
        assert!(
            python.is_file(),
            "{} missing: run scripts/setup-triton.sh (make setup does), or set SAPIENS_SKIP_TRITON_TESTS=1",
            python.display()
        );
        let port = if port == 0 { free_port() } else { port };
        let log = scratch("triton").join(format!("serve-{port}.log"));
        // Short (Unix socket paths live in it) and removed on drop: pytriton's default leaves
        // 22 MB per killed server in ~/.cache/pytriton.
        let workspace = std::env::temp_dir().join(format!("sapiens-triton-{port}"));
        let _ = std::fs::remove_dir_all(&workspace);
        let mut cmd = Command::new(python);
        cmd.arg(root().join("tests/triton/serve.py"))
            .args(["--grpc-port", &port.to_string()])
            .arg("--workspace")
            .arg(&workspace)
            .args(["--http-port", &free_port().to_string()])
            .args(["--metrics-port", &free_port().to_string()]);
        for (name, file) in models {
            cmd.args([
                "--model",
                &format!("{name}={}", root().join(file).display()),
            ]);
        }
        let file = std::fs::File::create(&log).unwrap();
        cmd.args(extra)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("serve.py starts");
        let server = Self {
            child,
            port,
            log,
            workspace,
            killed: false,
        };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&self) {
        let t = Instant::now();
        loop {
            let mut text = String::new();
            std::fs::File::open(&self.log)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            if text.contains("READY") {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "tritonserver not ready after 120 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn address(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    /// Kills the server (python and tritonserver: the whole process group) and waits for it.
    fn kill(&mut self) {
        if std::mem::replace(&mut self.killed, true) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.workspace);
    }
}

impl Drop for Triton {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `chain` on the first `frames` frames of vtest.avi, writing `sapiensjson` records;
/// returns those frames' records (taken at the sink, then the pipeline stops: `identity
/// eos-after` lets later frames through on GStreamer 1.22).
fn json_of(chain: &str, frames: usize, tag: &str) -> String {
    init();
    let out = scratch("triton-json").join(format!("{tag}.jsonl"));
    let line = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! \
         {chain} ! sapiensjson location=\"{}\" ! appsink name=sink sync=false",
        vtest().display(),
        out.display()
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    for i in 0..frames {
        if sink.pull_sample().is_err() {
            let msg = pipe.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
            panic!("{tag}: frame {i} never came: {msg:?}");
        }
    }
    pipe.set_state(gst::State::Null).unwrap();
    let text = std::fs::read_to_string(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= frames, "{tag}");
    lines[..frames].join("\n")
}

/// The README's multi-person pipeline: pose on Triton (two requests in flight) gives the very
/// same records as the local session; so does the ONNX detector served by Triton (its INT64
/// labels output included).
#[test]
fn readme_pipeline_on_triton_gives_the_local_sessions_records() {
    let Some(server) = Triton::start(
        0,
        &[
            (
                "pose-tiny-coco17",
                "tests/models/sapiens_tiny_pose_coco17.onnx",
            ),
            ("detector", "tests/models/detector_analytic_mmdeploy.onnx"),
        ],
        &[],
    ) else {
        return;
    };
    let pose = config("pose-tiny-coco17.toml");
    let chain = |remote: &str| {
        format!(
            "sapiensdetect backend=hog interval=3 ! sapienstrack ! sapienspose config=\"{}\" {remote}",
            pose.display()
        )
    };
    let local = json_of(&chain(""), 10, "pose-local");
    let remote = json_of(
        &chain(&format!(
            "backend=triton server={} inflight-requests=2",
            server.address()
        )),
        10,
        "pose-triton",
    );
    let persons = local.matches("\"box\"").count();
    assert!(persons >= 10, "HOG finds people on vtest: {persons} boxes");
    assert_eq!(
        remote, local,
        "records differ between Triton and the local session"
    );

    // The same through the command line's main job.
    let cli = |tag: &str, extra: &[&str]| {
        let json = scratch("triton-cli").join(format!("{tag}.jsonl"));
        let (vtest, cfg) = (vtest(), config("pose-tiny-coco17.toml"));
        let mut args = vec![
            "--input",
            vtest.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--detector",
            "hog",
            "--max-frames",
            "6",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend(extra);
        let (_, stats) = sapiens_run(tag, &args);
        (std::fs::read_to_string(&json).unwrap(), stats)
    };
    let address = server.address();
    let (local, _) = cli("cli-local", &[]);
    let (remote, stats) = cli(
        "cli-triton",
        &["--triton", &address, "--inflight-requests", "2"],
    );
    assert_eq!(local.lines().count(), 6, "{stats}");
    assert_eq!(remote, local, "sapiens run --triton");

    let det = config("detector-analytic-mmdeploy.toml");
    let local = json_of(
        &format!("sapiensdetect backend=onnx config=\"{}\"", det.display()),
        4,
        "det-local",
    );
    let remote = json_of(
        &format!(
            "sapiensdetect backend=triton config=\"{}\" server={} model-name=detector",
            det.display(),
            server.address()
        ),
        4,
        "det-triton",
    );
    assert_eq!(remote, local);
}

/// Start-time errors name the server and the model: nothing listening, a model the server does
/// not have, a served model whose tensors do not fit the config, a TLS address.
#[test]
fn unreachable_servers_missing_and_mismatched_models_are_clear_errors() {
    init();
    let pose = config("pose-tiny-coco17.toml");
    let start_pose = |props: &str| {
        let el = gst::parse::bin_from_description(
            &format!("sapienspose config=\"{}\" {props}", pose.display()),
            false,
        )
        .unwrap();
        let r = start(el.upcast_ref());
        let _ = el.set_state(gst::State::Null);
        r
    };
    let closed = free_port();
    let e = start_pose(&format!("backend=triton server=grpc://127.0.0.1:{closed}")).unwrap_err();
    assert!(
        e.contains(&format!("127.0.0.1:{closed}"))
            && e.contains("pose-tiny-coco17")
            && e.contains("cannot reach"),
        "{e}"
    );
    let e = start_pose("backend=triton server=grpcs://127.0.0.1:1").unwrap_err();
    assert!(e.contains("TLS"), "{e}");

    let Some(server) = Triton::start(
        0,
        &[("seg-under-a-pose-name", "tests/models/seg_analytic.onnx")],
        &[],
    ) else {
        return;
    };
    let e = start_pose(&format!(
        "backend=triton server={} model-name=no-such-model",
        server.address()
    ))
    .unwrap_err();
    assert!(
        e.contains("'no-such-model'") && e.contains(&server.address()),
        "{e}"
    );
    let e = start_pose(&format!(
        "backend=triton server={} model-name=seg-under-a-pose-name",
        server.address()
    ))
    .unwrap_err();
    assert!(
        e.contains("does not match config")
            && e.contains("'seg-under-a-pose-name'")
            && e.contains("logits")
            && e.contains("[batch,17,256,192]"),
        "{e}"
    );
}

/// A painted frame for the analytic depth model (depth = a known function of the colour).
fn depth_frame(i: u64) -> (gst::Buffer, gst_video::VideoInfo) {
    painted_frame(VideoFormat::Rgb, 192, 256, 40 * i, |x, _| {
        [(x % 200) as u8 + 30, 90, 160]
    })
}

/// A server whose model takes and gives FP16 tensors: the client sends the input as FP16 and
/// reads FP16 outputs, so depth equals the local session's to half precision (rounding the input
/// to FP16 and the output back: ≤ 2 × 2⁻¹¹ relative, plus the model's own amplification).
#[test]
fn fp16_tensors_on_the_wire_give_the_local_results_to_half_precision() {
    let Some(server) = Triton::start(
        0,
        &[("depth-analytic", "tests/models/depth_analytic.onnx")],
        &["--fp16-io"],
    ) else {
        return;
    };
    let (_, info) = depth_frame(0);
    let frames: Vec<gst::Buffer> = (0..3).map(|i| depth_frame(i).0).collect();
    let want = reference_depths(&frames, &info);
    let (out, _) = push_through(
        &format!(
            "sapiensdepth config=\"{}\" backend=triton server={}",
            config("depth-analytic.toml").display(),
            server.address()
        ),
        frames,
        &info,
    );
    let mut worst = 0f32;
    let mut compared = 0;
    for (b, w) in out.iter().zip(&want) {
        let got = DepthResult::from_buffer(b).unwrap().unwrap();
        let scale = w
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f32, |m, v| m.max(v.abs()));
        for (g, w) in got.values().iter().zip(w) {
            assert_eq!(g.is_nan(), w.is_nan(), "the same pixels are masked");
            if w.is_finite() {
                worst = worst.max((g - w).abs() / scale);
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "{compared} pixels");
    assert!(
        worst > 0.0,
        "FP16 really travelled: the results are rounded"
    );
    assert!(worst < 4e-3, "worst difference {worst} of the depth range");
    eprintln!("FP16 on the wire: worst difference {worst:.2e} of the depth range");
}

/// A model that answers slower than `request-timeout-ms`: each frame fails at its deadline
/// (counted), and the stream goes on under `policy=drop` instead of waiting.
#[test]
fn a_request_past_its_deadline_fails_its_frame_and_nothing_waits() {
    let Some(server) = Triton::start(
        0,
        &[("depth-analytic", "tests/models/depth_analytic.onnx")],
        &["--sleep-ms", "3000"],
    ) else {
        return;
    };
    init();
    let (_, info) = depth_frame(0);
    let pipe = launch(&format!(
        "appsrc name=src format=time ! sapiensdepth name=depth config=\"{}\" backend=triton \
         server={} request-timeout-ms=300 policy=drop ! appsink name=sink sync=false",
        config("depth-analytic.toml").display(),
        server.address()
    ));
    let src = by_name::<gst_app::AppSrc>(&pipe, "src");
    src.set_caps(Some(&info.to_caps().unwrap()));
    pipe.set_state(gst::State::Playing).unwrap();
    let t = Instant::now();
    for i in 0..3 {
        src.push_buffer(depth_frame(i).0).unwrap();
    }
    src.end_of_stream().unwrap();
    let msg = pipe
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS: no frame waits forever");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    // Three deadlines of 0.3 s, not three answers of 3 s.
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    let s = element_stats(&by_name::<gst::Element>(&pipe, "depth"));
    pipe.set_state(gst::State::Null).unwrap();
    assert_eq!((s.frames_in, s.frames_out, s.failed), (3, 0, 3));
}

/// The depth value the analytic model gives at the centre of [`depth_frame`] `i`'s output, from
/// a local session (the reference).
fn reference_depths(frames: &[gst::Buffer], info: &gst_video::VideoInfo) -> Vec<Vec<f32>> {
    let (out, _) = push_through(
        &format!(
            "sapiensdepth config=\"{}\"",
            config("depth-analytic.toml").display()
        ),
        frames.to_vec(),
        info,
    );
    out.iter()
        .map(|b| {
            DepthResult::from_buffer(b)
                .unwrap()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect()
}

/// The server is killed mid-stream and started again on the same port: under `policy=skip`
/// every frame leaves (those without an answer carry the last results, counted as failed and
/// carried); under `policy=drop` the failed frames are counted and the rest leave; in both the
/// client reconnects by itself and later frames get their own results, equal to the local
/// session's. Counts add up: in = out (+ failed under drop).
#[test]
fn a_server_killed_and_restarted_mid_stream_the_stream_recovers_and_counts_add_up() {
    for policy in ["skip", "drop"] {
        let port = free_port();
        let models = [("depth-analytic", "tests/models/depth_analytic.onnx")];
        let Some(mut server) = Triton::start(port, &models, &[]) else {
            return;
        };
        init();
        let (_, info) = depth_frame(0);
        let frames: Vec<gst::Buffer> = (0..40).map(|i| depth_frame(i).0).collect();
        let want = reference_depths(&frames, &info);
        let pipe = launch(&format!(
            "appsrc name=src format=time ! sapiensdepth name=depth config=\"{}\" backend=triton \
             server={} request-timeout-ms=2000 policy={policy} ! appsink name=sink sync=false",
            config("depth-analytic.toml").display(),
            server.address()
        ));
        let src = by_name::<gst_app::AppSrc>(&pipe, "src");
        src.set_caps(Some(&info.to_caps().unwrap()));
        let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
        let depth = by_name::<gst::Element>(&pipe, "depth");
        pipe.set_state(gst::State::Playing).unwrap();
        let next = std::cell::Cell::new(0usize);
        // One frame at a time: its output (or its failure) before the next, so the window
        // never fills and every carried frame is a failed one.
        // Pushes the next frame and waits for its output (carried flag, depth values) or, under
        // drop, its failure (`None`).
        let step = || -> Option<(bool, Vec<f32>)> {
            let failed_before = element_stats(&depth).failed;
            let i = next.get();
            src.push_buffer(frames[i].clone()).unwrap();
            next.set(i + 1);
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(30) {
                if let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(20)) {
                    let d = DepthResult::from_buffer(s.buffer().unwrap())
                        .unwrap()
                        .expect("every frame out has a depth result");
                    return Some((d.info.carried, d.values().to_vec()));
                }
                // Under skip a failed frame still leaves (carried), after its failure is
                // counted: only under drop does a failure end the wait.
                if policy == "drop" && element_stats(&depth).failed > failed_before {
                    return None;
                }
            }
            panic!("{policy}: frame {i} neither left nor failed in 30 s");
        };
        let skip = policy == "skip";
        for (i, w) in want.iter().enumerate().take(4) {
            let (carried, v) = step().expect("the server is up");
            assert!(!carried && v == *w, "{policy}: frame {i} before the outage");
        }
        server.kill();
        for i in 4..8 {
            match step() {
                Some((carried, v)) => {
                    assert!(skip && carried, "{policy}: frame {i} during the outage");
                    assert_eq!(v, want[3], "{policy}: the last results are carried");
                }
                None => assert!(!skip, "{policy}: frame {i} failed without leaving"),
            }
        }
        let _restarted = Triton::start(port, &models, &[]).unwrap();
        // The client tries again after its backoff (at most 5 s); frames until then fail.
        let mut recovered = None;
        while next.get() < frames.len() {
            let i = next.get();
            match step() {
                Some((false, v)) => {
                    assert_eq!(v, want[i], "{policy}: frame {i} after the restart");
                    recovered = Some(i);
                    break;
                }
                Some((true, _)) if skip => {}
                None if !skip => {}
                other => panic!("{policy}: frame {i}: {:?}", other.map(|o| o.0)),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let recovered = recovered.unwrap_or_else(|| panic!("{policy}: never recovered"));
        let n = next.get();
        for (i, w) in want.iter().enumerate().skip(n).take(3) {
            let (carried, v) = step().expect("the server is back");
            assert!(!carried && v == *w, "{policy}: frame {i} after recovery");
        }
        src.end_of_stream().unwrap();
        // (Popping with a filter discards what it skips: take warnings on the way to EOS.)
        let mut warnings = Vec::new();
        loop {
            let msg = pipe
                .bus()
                .unwrap()
                .timed_pop_filtered(
                    gst::ClockTime::from_seconds(30),
                    &[
                        gst::MessageType::Eos,
                        gst::MessageType::Error,
                        gst::MessageType::Warning,
                    ],
                )
                .expect("EOS");
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
                _ => panic!("{policy}: {msg:?}"),
            }
        }
        let s = element_stats(&depth);
        pipe.set_state(gst::State::Null).unwrap();
        let failed_expected = (recovered - 4) as u64;
        let next = next.get();
        assert_eq!(s.frames_in, next as u64, "{policy}");
        assert_eq!(s.failed, failed_expected, "{policy}: {s:?}");
        if skip {
            assert_eq!((s.frames_out, s.carried), (next as u64, failed_expected));
        } else {
            assert_eq!(s.frames_out + s.failed, s.frames_in);
        }
        assert_eq!(
            warnings.len(),
            1,
            "{policy}: one warning per outage: {warnings:?}"
        );
        assert!(
            warnings[0].contains(&format!("policy={policy}")),
            "{warnings:?}"
        );
        eprintln!(
            "{policy}: {} frames failed while the server was away",
            s.failed
        );
    }
}

/// `sapiens triton-repo` writes one model folder per config: the ONNX file as `1/model.onnx` and
/// a `config.pbtxt` that Triton's own parser accepts (the PyPI server has no ONNX Runtime backend,
/// so it gets as far as looking for that backend; a malformed file fails before, at "failed to
/// read text proto"). Dynamic-batch models batch in Triton; a fixed-batch model is declared as
/// it is.
#[test]
fn triton_repo_writes_configs_that_tritonserver_reads() {
    use clap::Parser;
    let tritonserver =
        root().join(".venv-triton/lib/python3.11/site-packages/pytriton/tritonserver");
    if skipped() {
        return;
    }
    assert!(
        tritonserver.join("bin/tritonserver").is_file(),
        "run scripts/setup-triton.sh"
    );
    let dir = scratch("triton-repo");
    // A fixed batch of 2 (tests/models/pose_analytic_coco17_b2.onnx).
    let fixed = dir.join("pose-b2.toml");
    std::fs::write(
        &fixed,
        format!(
            "schema_version = 1\n[model]\npath = \"{}\"\nweights = \"untrained\"\n[pose]\nkeypoint_set = \"coco-17\"\n",
            root().join("tests/models/pose_analytic_coco17_b2.onnx").display()
        ),
    )
    .unwrap();
    let repo = dir.join("repo");
    let run = |configs: &[&str], extra: &[&str]| {
        let mut args = vec!["sapiens", "triton-repo", "--out", repo.to_str().unwrap()];
        args.push("--configs");
        args.extend(configs);
        args.extend(extra);
        sapiens_stream::cli::Cli::parse_from(args).execute()
    };
    run(
        &[
            "pose-tiny-coco17",
            config("detector-analytic-mmdeploy.toml").to_str().unwrap(),
            fixed.to_str().unwrap(),
        ],
        &["--max-batch", "16", "--preferred-batch", "8,4,16"],
    )
    .unwrap();
    let read = |name: &str| std::fs::read_to_string(repo.join(name).join("config.pbtxt")).unwrap();
    let pose = read("pose-tiny-coco17");
    for want in [
        "name: \"pose-tiny-coco17\"",
        "platform: \"onnxruntime_onnx\"",
        "max_batch_size: 16",
        "name: \"input\"\n    data_type: TYPE_FP32\n    dims: [ 3, 1024, 768 ]",
        "name: \"heatmaps\"\n    data_type: TYPE_FP32\n    dims: [ 17, 256, 192 ]",
        "preferred_batch_size: [ 4, 8, 16 ]",
        "kind: KIND_GPU",
        // The config says no precision: fp32, the default.
        "key: \"precision_mode\" value: \"FP32\"",
    ] {
        assert!(pose.contains(want), "{want} not in\n{pose}");
    }
    assert_eq!(
        std::fs::read(repo.join("pose-tiny-coco17/1/model.onnx")).unwrap(),
        std::fs::read(root().join("tests/models/sapiens_tiny_pose_coco17.onnx")).unwrap()
    );
    let det = read("detector-analytic-mmdeploy");
    assert!(
        det.contains("name: \"labels\"\n    data_type: TYPE_INT64\n    dims: [ 16 ]"),
        "{det}"
    );
    let b2 = read("pose-b2");
    assert!(
        b2.contains("max_batch_size: 0") && b2.contains("dims: [ 2, 3, 1024, 768 ]"),
        "{b2}"
    );
    assert!(
        !b2.contains("dynamic_batching"),
        "Triton batches only max_batch_size > 0"
    );

    let out = Command::new(tritonserver.join("bin/tritonserver"))
        .arg(format!("--model-repository={}", repo.display()))
        .arg(format!(
            "--backend-directory={}",
            tritonserver.join("backends").display()
        ))
        .args(["--grpc-port", &free_port().to_string()])
        .args(["--http-port", &free_port().to_string()])
        .args(["--metrics-port", &free_port().to_string()])
        .args(["--exit-on-error=true", "--exit-timeout-secs=5"])
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!log.contains("failed to read text proto"), "{log}");
    for name in ["pose-tiny-coco17", "detector-analytic-mmdeploy", "pose-b2"] {
        assert!(
            log.contains(&format!("failed to load '{name}' version 1: Invalid argument: unable to find backend library for backend 'onnxruntime'")),
            "{name}: Triton did not get as far as the backend:\n{log}"
        );
    }

    let e = run(&["pose-tiny-coco17"], &["--preferred-batch", "32"]).unwrap_err();
    assert!(e.to_string().contains("--preferred-batch 32"), "{e}");
    let e = run(&["pose-tiny-coco17", "pose-tiny-coco17"], &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("two configs are named 'pose-tiny-coco17'"),
        "{e}"
    );
}
