//! Measures the dense heads on real video, side by side in one run:
//! 1. seg → depth → normal with the shared input tensor, then without (`share-input=false`):
//!    throughput and each head's pre-process time;
//! 2. how far seg `mode=fast` departs from `mode=exact`: the fraction of frame pixels whose
//!    label differs, for the tiny Sapiens-architecture seg model and the analytic one.
//!
//! `cargo run --release --example dense_report -- data/vtest.avi 60`
#![allow(clippy::unwrap_used)] // test and measuring code: a failed unwrap is the report
use std::time::Instant;

use gst::prelude::*;
use sapiens_stream::elements::inference::stats;
use sapiens_stream::meta::dense::SegResult;

fn launch(line: &str) -> gst::Pipeline {
    gst::parse::launch(line)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap()
}

/// Runs `pipe` to EOS; panics with the error message on failure. Returns wall seconds.
fn play(pipe: &gst::Pipeline) -> f64 {
    let t = Instant::now();
    pipe.set_state(gst::State::Playing).unwrap();
    let bus = pipe.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    t.elapsed().as_secs_f64()
}

fn source(video: &str, frames: u32) -> String {
    format!(
        "filesrc location=\"{video}\" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! identity eos-after={frames}"
    )
}

fn sharing(video: &str, frames: u32) {
    println!(
        "| shared input | fps | seg pre ms | depth pre ms | normal pre ms | tensors computed (seg/depth/normal) |"
    );
    println!("|---|---|---|---|---|---|");
    let mut per_head = Vec::new();
    for share in [true, false] {
        let line = format!(
            "{} ! sapiensseg name=seg config=configs/seg-tiny.toml share-input={share} ! \
             sapiensdepth name=depth config=configs/depth-tiny.toml share-input={share} ! \
             sapiensnormal name=normal config=configs/normal-tiny.toml share-input={share} ! fakesink",
            source(video, frames)
        );
        let pipe = launch(&line);
        let wall = play(&pipe);
        let heads: Vec<gst::Element> = ["seg", "depth", "normal"]
            .iter()
            .map(|n| pipe.by_name(n).unwrap())
            .collect();
        let st: Vec<_> = heads
            .iter()
            .map(|h| stats::from_structure(&h.property::<gst::Structure>("stats")).unwrap())
            .collect();
        let computed: Vec<String> = heads
            .iter()
            .map(|h| h.property::<u64>("tensors-computed").to_string())
            .collect();
        println!(
            "| {share} | {:.2} | {:.1} | {:.1} | {:.1} | {} |",
            st[2].frames_out as f64 / wall,
            st[0].pre.mean_ms,
            st[1].pre.mean_ms,
            st[2].pre.mean_ms,
            computed.join("/")
        );
        if share {
            per_head.extend(
                ["seg", "depth", "normal"]
                    .iter()
                    .zip(st)
                    .map(|(n, s)| (n.to_string(), s)),
            );
        }
        pipe.set_state(gst::State::Null).unwrap();
    }
    println!(
        "\n| head (shared run) | pre p50 ms | infer p50 ms | post p50 ms | in element p50 ms |"
    );
    println!("|---|---|---|---|---|");
    for (name, s) in per_head {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.pre.p50_ms, s.infer.p50_ms, s.post.p50_ms, s.total.p50_ms
        );
    }
}

fn labels_of(sink: &gst_app::AppSink) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(s) = sink.pull_sample() {
        out.push(
            SegResult::from_buffer(s.buffer().unwrap())
                .unwrap()
                .unwrap()
                .labels()
                .to_vec(),
        );
    }
    out
}

fn modes(video: &str, frames: u32) {
    println!("\n| seg model | frames | pixels differing, fast vs exact |");
    println!("|---|---|---|");
    for cfg in ["configs/seg-tiny.toml", "configs/seg-analytic.toml"] {
        let line = format!(
            "{} ! tee name=t t. ! queue ! sapiensseg config={cfg} mode=exact ! appsink name=exact sync=false \
             t. ! queue ! sapiensseg config={cfg} mode=fast ! appsink name=fast sync=false",
            source(video, frames)
        );
        let pipe = launch(&line);
        let sink = |n: &str| {
            pipe.by_name(n)
                .unwrap()
                .downcast::<gst_app::AppSink>()
                .unwrap()
        };
        let (exact, fast) = (sink("exact"), sink("fast"));
        pipe.set_state(gst::State::Playing).unwrap();
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| labels_of(&exact));
            let b = s.spawn(|| labels_of(&fast));
            (a.join().unwrap(), b.join().unwrap())
        });
        pipe.set_state(gst::State::Null).unwrap();
        let total: usize = a.iter().map(|l| l.len()).sum();
        let differ: usize = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.iter().zip(y).filter(|(p, q)| p != q).count())
            .sum();
        println!(
            "| {cfg} | {} | {:.3} % |",
            a.len(),
            100.0 * differ as f64 / total.max(1) as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let video = args.get(1).map(String::as_str).unwrap_or("data/vtest.avi");
    let frames: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(60);
    gst::init().unwrap();
    sapiens_stream::elements::register_static().unwrap();
    sharing(video, frames);
    modes(video, frames);
}
