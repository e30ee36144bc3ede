//! `sapiens bench`: the same model on the same frames, three ways, side by side in one run:
//! (a) the bare ONNX Runtime session in a tight loop on pre-made input tensors, (b) the element
//! sequentially (`max-inflight=1`) and (c) the element pipelined (`max-inflight` as given).
//! Frames are decoded into memory first, so decoding is not measured.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::run::source;
use crate::config::{Config, Head};
use crate::elements::frame;
use crate::elements::inference::stats;
use crate::error::{Error, Result};
use crate::geometry::{BBox, Crop};
use crate::pipelining::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_INFLIGHT, ExecutorStats, LatencySummary};
use crate::preprocess::{Normalization, Sampling, packed_pixels, sample_normalize};
use crate::runtime::contract;
use crate::runtime::{ModelSession, PixelBatch, ProviderChoice, RuntimeOptions};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Model config (any head).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Video whose first frames are used.
    #[arg(long, short, default_value = "data/vtest.avi")]
    pub input: String,
    /// Frames timed per mode.
    #[arg(long, default_value_t = 60, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub frames: usize,
    /// Distinct frames decoded and cycled.
    #[arg(long, default_value_t = 16)]
    pub distinct: usize,
    /// Frames in flight for the pipelined run.
    #[arg(long, default_value_t = DEFAULT_MAX_INFLIGHT, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_inflight: u32,
    /// Batch size for the pipelined run (frames, or person crops for pose).
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub batch_size: u32,
    /// ONNX Runtime intra-op threads for all three (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub intra_op_threads: u32,
    /// Execution provider for all three.
    #[arg(long, default_value = "auto")]
    pub execution_provider: ProviderChoice,
    /// Multi-person mode (pose configs): pose alone on this many person boxes per frame (e.g.
    /// `1,4,8`), beside HOG detection + tracking + pose on the video's own people.
    #[arg(long, value_delimiter = ',')]
    pub persons: Vec<usize>,
    /// Triton mode: the same model served at this address (`grpc://host:port`), beside the
    /// local session: bare client with 1 and 4 requests in flight, the element with 1 and 4,
    /// and two pipelines sharing the server.
    #[arg(long)]
    pub triton: Option<String>,
    /// Triton mode: the served model's name [default: the config's file stem].
    #[arg(long)]
    pub model_name: Option<String>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One mode's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub mode: String,
    pub frames: usize,
    pub fps: f64,
    /// Per-frame latency (bare: one run; element: entry to exit of the element).
    pub latency: LatencySummary,
}

/// The first `n` frames of `input` as BGRx buffers.
fn decode(input: &str, n: usize) -> Result<(Vec<gst::Buffer>, gst_video::VideoInfo)> {
    let line = format!(
        "{} ! videoconvert ! video/x-raw,format=BGRx ! appsink name=sink sync=false",
        source(input)
    );
    let pipe = gst::parse::launch(&line)
        .map_err(|e| Error::Invalid(format!("{line}: {e}")))?
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipe
        .by_name("sink")
        .expect("named sink")
        .downcast::<gst_app::AppSink>()
        .expect("an appsink");
    pipe.set_state(gst::State::Playing)
        .map_err(|_| Error::Invalid(format!("cannot play {input}")))?;
    let (mut frames, mut info) = (Vec::new(), None);
    while frames.len() < n {
        let Ok(sample) = sink.pull_sample() else {
            break;
        };
        if info.is_none() {
            info = sample
                .caps()
                .and_then(|c| gst_video::VideoInfo::from_caps(c).ok());
        }
        if let Some(b) = sample.buffer_owned() {
            frames.push(b);
        }
    }
    let _ = pipe.set_state(gst::State::Null);
    let info =
        info.ok_or_else(|| Error::UnsupportedVideo(format!("no frames decoded from {input}")))?;
    Ok((frames, info))
}

/// (a): the model's input for each frame made beforehand, then only `session.run` is timed, with
/// `requests` runs at once (threads sharing the session).
fn bare(
    cfg: &Config,
    opts: &RuntimeOptions,
    frames: &[gst::Buffer],
    info: &gst_video::VideoInfo,
    n: usize,
    (mode, requests): (&str, usize),
) -> Result<Row> {
    let session = ModelSession::load(&cfg.model.path, opts)?;
    let i = &cfg.input;
    let norm = Normalization {
        width: i.width,
        height: i.height,
        mean: i.mean,
        std: i.std,
    };
    let pixels = contract::pixel_inputs(&session, &cfg.source)?;
    if pixels.is_some() && cfg.head() != Head::Pose {
        return Err(Error::Invalid(format!(
            "{} takes frame bytes (pixel form), which only pose configs feed",
            cfg.model.path.display()
        )));
    }
    let (c, _) = contract::check_forms(
        &session,
        &cfg.source,
        cfg.model.input_name.as_deref(),
        cfg.model.output_name.as_deref(),
        pixels
            .is_none()
            .then_some([3, i.height as i64, i.width as i64]),
        &cfg.output_forms()?,
        &cfg.extra_outputs(),
    )?;
    let sampling = match cfg.head() {
        Head::Pose => Sampling::Warp(
            Crop::from_box(
                &BBox::frame(info.width(), info.height()),
                cfg.pose()?.box_padding,
                i.width as f64 / i.height as f64,
            )
            .udp_warp(i.width, i.height),
        ),
        _ if cfg.input.resize == crate::config::DenseResize::Letterbox => Sampling::Letterbox(
            crate::geometry::Letterbox::new(info.width(), info.height(), i.width, i.height),
        ),
        _ => Sampling::Stretch,
    };
    // What each run is given: the crop tensor, or (pixel form) the frame's bytes and the map.
    let inputs = frames
        .iter()
        .map(|b| match pixels {
            Some(px) => {
                frame::with_view(b, info, |v| packed_pixels(v, px.channels)).map(Input::Pixels)
            }
            None => {
                let mut t = vec![0.0f32; norm.item_len()];
                frame::with_view(b, info, |v| sample_normalize(v, &sampling, &norm, &mut t))?;
                Ok(Input::Tensor(t))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let map: Vec<f64> = match &sampling {
        Sampling::Warp(m) => m.0.iter().flatten().copied().collect(),
        _ => Vec::new(),
    };
    let (w, h) = (info.width() as usize, info.height() as usize);
    let run = |k: usize| -> Result<()> {
        match &inputs[k % inputs.len()] {
            Input::Tensor(t) => session.run(&c.input, &[&c.output], t, 1, &norm.item_shape()),
            Input::Pixels(bytes) => session.run_pixels(
                &PixelBatch {
                    frames: bytes,
                    shape: [1, h, w, bytes.len() / (w * h)],
                    affine: &map,
                    frame_index: &[0],
                },
                &[&c.output],
            ),
        }
        .map(drop)
    };
    run(0)?; // warm-up
    let start = Instant::now();
    // `requests` threads, each running its share of the frames one run at a time.
    let ms: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..requests)
            .map(|r| {
                let run = &run;
                scope.spawn(move || -> Result<Vec<f64>> {
                    let mut ms = Vec::new();
                    for k in (r..n).step_by(requests) {
                        let t = Instant::now();
                        run(k)?;
                        ms.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(ms)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| Error::Invalid("a benchmark thread panicked".into()))??,
            );
        }
        Ok::<_, Error>(all)
    })?;
    Ok(Row {
        mode: mode.into(),
        frames: n,
        fps: n as f64 / start.elapsed().as_secs_f64(),
        latency: LatencySummary::of(ms),
    })
}

/// One bare run's input: a model's own tensor, or a pixel-form model's frame bytes.
enum Input {
    Tensor(Vec<f32>),
    Pixels(Vec<u8>),
}

/// (b), (c): the element between an appsrc fed from memory and a fakesink.
fn element(
    args: &BenchArgs,
    cfg: &Config,
    frames: &[gst::Buffer],
    info: &gst_video::VideoInfo,
    inflight: u32,
    batch: u32,
) -> Result<(Row, String)> {
    let head = head_element(args, cfg, inflight, batch, "");

    let (st, wall, provider, _) = run_chain(args, &head, frames, info, 0)?;
    let mode = match (inflight, batch) {
        (1, 1) => "element, sequential (max-inflight=1)".to_string(),
        (n, 1) => format!("element, pipelined (max-inflight={n})"),
        (n, b) => format!("element, pipelined (max-inflight={n}, batch-size={b})"),
    };
    Ok((
        Row {
            mode,
            frames: st.frames_out as usize,
            fps: st.frames_out as f64 / wall.max(Duration::from_nanos(1)).as_secs_f64(),
            latency: st.total,
        },
        provider,
    ))
}

/// The head element's description with the bench's settings and `extra` properties.
fn head_element(args: &BenchArgs, cfg: &Config, inflight: u32, batch: u32, extra: &str) -> String {
    format!(
        "{} name=head config=\"{}\" max-inflight={inflight} batch-size={batch} batch-timeout-ms=50 \
         intra-op-threads={} execution-provider={} {extra}",
        cfg.element(),
        cfg.source.display(),
        args.intra_op_threads,
        args.execution_provider.as_str()
    )
}

/// `chain` (whose last inference element is named `head`) between an appsrc fed from memory
/// and a fakesink, with `boxes` person ROI metas (a grid over the frame) on every frame; the
/// head's stats, the wall time, its provider, and the mean person ROI metas a frame that
/// reached the sink.
fn run_chain(
    args: &BenchArgs,
    chain: &str,
    frames: &[gst::Buffer],
    info: &gst_video::VideoInfo,
    boxes: usize,
) -> Result<(ExecutorStats, Duration, String, f64)> {
    let line = format!(
        "appsrc name=src format=time is-live=false max-buffers=4 block=true ! {chain} ! fakesink name=sink sync=false"
    );
    let pipe = gst::parse::launch(&line)
        .map_err(|e| Error::Invalid(format!("{line}: {e}")))?
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let src = pipe
        .by_name("src")
        .expect("named appsrc")
        .downcast::<gst_app::AppSrc>()
        .expect("an appsrc");
    let head = pipe.by_name("head").expect("named head");
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (seen2, sinkpad) = (
        seen.clone(),
        pipe.by_name("sink").expect("named sink").static_pad("sink"),
    );
    if let Some(pad) = sinkpad {
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, probe| {
            if let Some(b) = probe.buffer() {
                let n = b
                    .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
                    .filter(|m| m.roi_type() == "person")
                    .count();
                seen2.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
    }
    src.set_caps(Some(
        &info.to_caps().map_err(|e| Error::Invalid(e.to_string()))?,
    ));
    let bus = pipe.bus().expect("a bus");
    if pipe.set_state(gst::State::Playing).is_err() {
        let why = bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "no error message".into());
        let _ = pipe.set_state(gst::State::Null);
        return Err(Error::Invalid(format!("the element does not start: {why}")));
    }
    // One untimed frame loads everything lazily initialized on first use.
    let frame_ns = info.fps().denom() as u64 * 1_000_000_000 / info.fps().numer().max(1) as u64;
    let start = Instant::now();
    for k in 0..args.frames {
        let mut b = frames[k % frames.len()].copy();
        let bm = b.get_mut().expect("fresh copy");
        bm.set_pts(gst::ClockTime::from_nseconds(k as u64 * frame_ns));
        let (cols, w, h) = (4u32, info.width() / 4, info.height() / 2);
        for i in 0..boxes as u32 {
            let (x, y) = ((i % cols) * w, (i / cols % 2) * h);
            gst_video::VideoRegionOfInterestMeta::add(bm, "person", (x, y, w, h));
        }
        src.push_buffer(b)
            .map_err(|e| Error::Invalid(format!("push: {e:?}")))?;
    }
    src.end_of_stream()
        .map_err(|e| Error::Invalid(format!("eos: {e:?}")))?;
    let mut error = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                error = Some(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    let wall = start.elapsed();
    let st: ExecutorStats = stats::from_structure(&head.property::<gst::Structure>("stats"))?;
    let provider = head.property::<String>("provider");
    let _ = pipe.set_state(gst::State::Null);
    if let Some(e) = error {
        return Err(Error::Invalid(e));
    }
    let persons =
        seen.load(std::sync::atomic::Ordering::Relaxed) as f64 / st.frames_out.max(1) as f64;
    Ok((st, wall, provider, persons))
}

/// The multi-person table: pose alone on N boxes a frame, per frame and per person, and HOG
/// detection + tracking (+ pose) on the video's own people.
fn persons_table(
    args: &BenchArgs,
    cfg: &Config,
    frames: &[gst::Buffer],
    info: &gst_video::VideoInfo,
) -> Result<Vec<serde_json::Value>> {
    let pose = format!(
        "sapienspose name=head config=\"{}\" max-inflight={} batch-size={} intra-op-threads={} execution-provider={} max-persons=0",
        cfg.source.display(),
        args.max_inflight,
        args.batch_size,
        args.intra_op_threads,
        args.execution_provider.as_str()
    );
    let mut rows = Vec::new();
    let mut row = |what: String, persons: f64, st: &ExecutorStats, wall: Duration| {
        let fps = st.frames_out as f64 / wall.as_secs_f64().max(1e-9);
        let per_frame = 1e3 / fps.max(1e-9);
        println!(
            "| {what} | {persons:.1} | {fps:.2} | {per_frame:.1} | {} | {:.1} |",
            if persons > 0.0 {
                format!("{:.1}", per_frame / persons)
            } else {
                "-".into()
            },
            st.total.p50_ms
        );
        rows.push(
            serde_json::json!({"mode": what, "persons_per_frame": persons, "fps": fps,
            "ms_per_frame": per_frame, "latency_p50_ms": st.total.p50_ms}),
        );
    };
    println!("\n| pipeline | persons/frame | fps | ms/frame | ms/person | latency p50 ms |");
    println!("|---|---|---|---|---|---|");
    for &n in &args.persons {
        let (st, wall, _, _) = run_chain(args, &pose, frames, info, n)?;
        row(format!("pose alone, {n} boxes"), n as f64, &st, wall);
    }
    let detect = "sapiensdetect name=head backend=hog ! sapienstrack";
    let (st, wall, _, _) = run_chain(args, detect, frames, info, 0)?;
    row("HOG detect + track".into(), 0.0, &st, wall);
    // The people HOG finds on these frames, for the per-person figure of the whole chain.
    let chain = format!("sapiensdetect backend=hog ! sapienstrack ! {pose}");
    let (st, wall, _, persons) = run_chain(args, &chain, frames, info, 0)?;
    row("HOG detect + track + pose".into(), persons, &st, wall);
    Ok(rows)
}

/// The Triton table: the same model and frames locally and on the server at `server`.
fn triton_table(
    args: &BenchArgs,
    cfg: &Config,
    frames: &[gst::Buffer],
    info: &gst_video::VideoInfo,
    server: &str,
) -> Result<Vec<Row>> {
    let name = args.model_name.clone().or_else(|| {
        cfg.source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    });
    let local = RuntimeOptions {
        provider: args.execution_provider,
        intra_op_threads: args.intra_op_threads as usize,
        ..cfg.runtime_options()
    };
    let remote = RuntimeOptions {
        backend: crate::runtime::Backend::Triton,
        remote: crate::runtime::RemoteOptions {
            server: server.to_owned(),
            model_name: name.clone(),
            ..Default::default()
        },
        ..local.clone()
    };
    let n = args.frames;
    let mut rows = vec![
        bare(cfg, &local, frames, info, n, ("bare session, local", 1))?,
        bare(
            cfg,
            &remote,
            frames,
            info,
            n,
            ("bare client, Triton, 1 in flight", 1),
        )?,
        bare(
            cfg,
            &remote,
            frames,
            info,
            n,
            ("bare client, Triton, 4 in flight", 4),
        )?,
    ];
    let on_server = |requests: u32| {
        format!(
            "backend=triton server={server} model-name={} inflight-requests={requests}",
            name.as_deref().unwrap_or_default()
        )
    };
    let element_row = |mode: String, extra: &str| -> Result<Row> {
        let head = head_element(args, cfg, args.max_inflight, 1, extra);
        let (st, wall, _, _) = run_chain(args, &head, frames, info, 0)?;
        Ok(Row {
            mode,
            frames: st.frames_out as usize,
            fps: st.frames_out as f64 / wall.as_secs_f64().max(1e-9),
            latency: st.total,
        })
    };
    let m = args.max_inflight;
    rows.push(element_row(
        format!("element, local (max-inflight={m})"),
        "",
    )?);
    rows.push(element_row(
        format!("element, Triton, inflight-requests=1 (max-inflight={m})"),
        &on_server(1),
    )?);
    rows.push(element_row(
        format!("element, Triton, inflight-requests=4 (max-inflight={m})"),
        &on_server(4),
    )?);
    // Two pipelines at once, each with two requests in flight, sharing the server.
    let start = Instant::now();
    let both: Vec<Result<ExecutorStats>> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let head = head_element(args, cfg, m, 1, &on_server(2));
                scope.spawn(move || run_chain(args, &head, frames, info, 0).map(|r| r.0))
            })
            .collect();
        runs.into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or_else(|_| Err(Error::Invalid("a pipeline thread panicked".into())))
            })
            .collect()
    });
    let wall = start.elapsed().as_secs_f64().max(1e-9);
    let both = both.into_iter().collect::<Result<Vec<_>>>()?;
    let out: u64 = both.iter().map(|s| s.frames_out).sum();
    rows.push(Row {
        mode: "two pipelines sharing the server (2 in flight each), together".into(),
        frames: out as usize,
        fps: out as f64 / wall,
        latency: both[0].total,
    });
    println!(
        "sapiens bench --triton {server}: {} (model '{}'), {n} frames of {}x{} from {}, intra-op threads {}",
        args.config.display(),
        name.as_deref().unwrap_or_default(),
        info.width(),
        info.height(),
        args.input,
        args.intra_op_threads
    );
    println!("\n| mode | fps | × local bare | latency ms p50 | p95 | p99 |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            r.mode,
            r.fps,
            r.fps / rows[0].fps,
            r.latency.p50_ms,
            r.latency.p95_ms,
            r.latency.p99_ms
        );
    }
    println!(
        "\nper-request overhead on the server path (bare p50, Triton 1 in flight − local): {:.1} ms",
        rows[1].latency.p50_ms - rows[0].latency.p50_ms
    );
    Ok(rows)
}

/// Writes `json` (pretty) to `path`; the error names the file.
fn write_json(path: &std::path::Path, json: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(json).unwrap_or_default())
        .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", path.display())))
}

pub fn bench(args: &BenchArgs) -> Result<()> {
    gst::init().map_err(|e| Error::Invalid(format!("GStreamer: {e}")))?;
    crate::elements::register_static().map_err(|e| Error::Invalid(e.to_string()))?;
    let cfg = Config::load(&args.config)?;
    let (frames, info) = decode(&args.input, args.distinct.max(1))?;
    if !args.persons.is_empty() {
        if cfg.head() != Head::Pose {
            return Err(Error::Invalid("--persons needs a pose config".into()));
        }
        println!(
            "sapiens bench --persons: {} on {} frames of {}x{} from {}, batch-size {}",
            args.config.display(),
            args.frames,
            info.width(),
            info.height(),
            args.input,
            args.batch_size
        );
        let rows = persons_table(args, &cfg, &frames, &info)?;
        if let Some(path) = &args.json {
            let json =
                serde_json::json!({"config": args.config, "frames": args.frames, "rows": rows});
            write_json(path, &json)?;
        }
        return Ok(());
    }
    if let Some(server) = &args.triton {
        let rows = triton_table(args, &cfg, &frames, &info, server)?;
        if let Some(path) = &args.json {
            let json = serde_json::json!({"config": args.config, "server": server,
                "frames": args.frames, "intra_op_threads": args.intra_op_threads, "rows": rows});
            write_json(path, &json)?;
        }
        return Ok(());
    }
    let opts = RuntimeOptions {
        provider: args.execution_provider,
        intra_op_threads: args.intra_op_threads as usize,
        ..cfg.runtime_options()
    };
    let (seq, provider) = element(args, &cfg, &frames, &info, 1, 1)?;
    let (pipe, _) = element(
        args,
        &cfg,
        &frames,
        &info,
        args.max_inflight,
        args.batch_size,
    )?;
    let bare = bare(
        &cfg,
        &opts,
        &frames,
        &info,
        args.frames,
        ("bare session", 1),
    )?;
    println!(
        "sapiens bench: {} ({}), {} frames of {}x{} from {}, provider {provider}, intra-op threads {}",
        args.config.display(),
        cfg.element(),
        args.frames,
        info.width(),
        info.height(),
        args.input,
        if args.intra_op_threads == 0 {
            "auto".to_string()
        } else {
            args.intra_op_threads.to_string()
        }
    );
    println!("\n| mode | fps | × bare | latency ms p50 | p95 | p99 |");
    println!("|---|---|---|---|---|---|");
    for r in [&bare, &seq, &pipe] {
        println!(
            "| {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            r.mode,
            r.fps,
            r.fps / bare.fps,
            r.latency.p50_ms,
            r.latency.p95_ms,
            r.latency.p99_ms
        );
    }
    println!("\npipelined / sequential = {:.2}", pipe.fps / seq.fps);
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "config": args.config, "element": cfg.element(), "provider": provider, "frames": args.frames,
            "frame_size": [info.width(), info.height()], "intra_op_threads": args.intra_op_threads,
            "rows": [&bare, &seq, &pipe],
            "ratios": {"sequential_over_bare": seq.fps / bare.fps, "pipelined_over_bare": pipe.fps / bare.fps, "pipelined_over_sequential": pipe.fps / seq.fps},
        });
        write_json(path, &json)?;
    }
    Ok(())
}
