//! Latency under load, in its own test binary so that it runs alone (cargo runs test binaries
//! one after another): a minute of a live source into a chain of slow heads measures the delay
//! the elements add, which other tests sharing the cores would inflate.
#![allow(clippy::unwrap_used)] // test and measuring code: a failed unwrap is the report

#[path = "../it/common.rs"]
#[allow(dead_code)] // the helpers the other tests use
mod common;

use common::*;
use gst::prelude::*;

/// 60 s of a 30 fps live camera into a chain of three slow heads (each ≈ 115 ms a frame alone,
/// slower together on a loaded machine: the source outruns the chain many times over) under
/// `policy`: the delay of each frame at the sink, from the pipeline clock (running time now −
/// the frame's timestamp), in seconds, with the second of the run it arrived in; and how long
/// EOS (what Ctrl-C sends) took to reach the sink; and the time a frame's work takes in the
/// three heads together, measured in the run (the sum of each head's p95 pre-process, inference
/// and post-process times, s).
fn delay_under_load(policy: &str) -> (Vec<(f64, f64)>, std::time::Duration, f64) {
    init();
    let cfg = slow_pose_config();
    let head = |i: usize| {
        format!(
            "sapienspose name=h{i} config=\"{}\" max-inflight=2 policy={policy}",
            cfg.display()
        )
    };
    let line = format!(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! \
         {} ! {} ! {} ! appsink name=sink sync=false",
        head(0),
        head(1),
        head(2)
    );
    let pipe = launch(&line);
    let sink = by_name::<gst_app::AppSink>(&pipe, "sink");
    pipe.set_state(gst::State::Playing).unwrap();
    let start = std::time::Instant::now();
    let mut delays = Vec::new();
    while start.elapsed() < std::time::Duration::from_secs(60) {
        let Some(s) = sink.try_pull_sample(gst::ClockTime::from_mseconds(200)) else {
            continue;
        };
        let (Some(clock), Some(base)) = (pipe.clock(), pipe.base_time()) else {
            continue;
        };
        let now = clock.time() - base;
        let pts = s.buffer().unwrap().pts().unwrap();
        delays.push((
            start.elapsed().as_secs_f64(),
            (now.nseconds() as f64 - pts.nseconds() as f64) / 1e9,
        ));
    }
    let stop = std::time::Instant::now();
    pipe.send_event(gst::event::Eos::new());
    while sink.pull_sample().is_ok() {}
    let eos_after = stop.elapsed();
    let work: f64 = (0..3)
        .map(|i| {
            let s = element_stats(&by_name::<gst::Element>(&pipe, &format!("h{i}")));
            (s.pre.p95_ms + s.infer.p95_ms + s.post.p95_ms) / 1e3
        })
        .sum();
    pipe.set_state(gst::State::Null).unwrap();
    (delays, eos_after, work)
}

/// The reproduction (live 30 fps into a slow chain, delay growing 8.7 s → 29.5 s in
/// 30 s under skip) as a bound: under drop and skip the delay at the sink stays under
/// three rounds of each head's work (measured in the run) for the whole minute and does not grow,
/// and EOS gets through in seconds.
#[test]
fn live_delay_stays_bounded_under_drop_and_skip_for_a_minute() {
    let runs: Vec<_> = ["drop", "skip"]
        .into_iter()
        .map(|p| (p, std::thread::spawn(move || delay_under_load(p))))
        .collect();
    let results: Vec<_> = runs
        .into_iter()
        .map(|(p, r)| (p, r.join().unwrap()))
        .collect();
    for (policy, (delays, eos_after, work)) in results {
        // Each of the three heads holds at most 2·2+2 frames and infers 2 at once, so a frame
        // waits at most 3 rounds of work in each: the bound follows the machine's speed,
        // measured in the same run (CI saw 8.6 s where a fixed 8 s bound had held before; here
        // 6.7 s under a bound of 17.8 s). The backlog grew past 29 s in 30 s.
        let delay_bound_s = 3.0 * work + 1.0;
        // Frames kept coming (enough to average each 20 s window), not a speed target: under
        // drop only frames inferred by all three heads arrive, about one a second here (58 and
        // 64 in a minute on the same machine on one day, the code of two releases alike).
        assert!(
            delays.len() > 30,
            "{policy}: {} frames in a minute",
            delays.len()
        );
        // After the first 10 s (model sessions starting, caches warming).
        let worst = delays
            .iter()
            .filter(|d| d.0 >= 10.0)
            .map(|d| d.1)
            .fold(0.0, f64::max);
        let first = delays.iter().map(|d| d.1).fold(0.0, f64::max);
        let mean = |from: f64, to: f64| {
            let w: Vec<f64> = delays
                .iter()
                .filter(|d| d.0 >= from && d.0 < to)
                .map(|d| d.1)
                .collect();
            w.iter().sum::<f64>() / w.len().max(1) as f64
        };
        let (early, late) = (mean(10.0, 30.0), mean(40.0, 60.0));
        println!(
            "{policy}: {} frames, delay worst {first:.2} s (after 10 s: {worst:.2} s, bound {delay_bound_s:.2} s), mean 10–30 s {early:.2} s, 40–60 s {late:.2} s, EOS after {eos_after:?}",
            delays.len()
        );
        assert!(
            worst < delay_bound_s,
            "{policy}: delay reached {worst:.2} s (bound {delay_bound_s:.2} s from {work:.2} s of work a frame)"
        );
        assert!(
            late < early + 1.0,
            "{policy}: delay grows ({early:.2} s → {late:.2} s)"
        );
        assert!(
            eos_after < std::time::Duration::from_secs(10),
            "{policy}: EOS took {eos_after:?}"
        );
    }
}
