//! Peak memory of `sapienspose` on one frame with many persons, to show that a crowd runs in
//! bounded memory: `cargo run --release --example crowd_memory -- CONFIG PERSONS BATCH_SIZE`
//! pushes one 1280×720 frame with PERSONS person boxes and prints the process's peak resident
//! memory (VmHWM) after it. BATCH_SIZE = PERSONS is the old behaviour (every crop in one run).
#![allow(clippy::unwrap_used)] // test and measuring code: a failed unwrap is the report
use gst::prelude::*;

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (config, persons, batch): (&str, u32, u32) =
        (&args[1], args[2].parse().unwrap(), args[3].parse().unwrap());
    gst::init().unwrap();
    sapiens_stream::elements::register_static().unwrap();
    let line = format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=1280,height=720,framerate=25/1 ! \
         sapienspose name=pose config=\"{config}\" batch-size={batch} max-persons=0 execution-provider=cpu ! \
         appsink name=sink"
    );
    let pipe = gst::parse::launch(&line)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let src = pipe
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sink = pipe
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipe.set_state(gst::State::Playing).unwrap();
    let before = peak_mib();
    let mut buf = gst::Buffer::from_mut_slice(vec![90u8; 1280 * 720 * 3]);
    {
        let b = buf.get_mut().unwrap();
        b.set_pts(gst::ClockTime::ZERO);
        for i in 0..persons {
            let (x, y) = ((i % 32) * 40, (i / 32) * 80 % 640);
            gst_video::VideoRegionOfInterestMeta::add(b, "person", (x, y, 40, 80));
        }
    }
    let t = std::time::Instant::now();
    src.push_buffer(buf).unwrap();
    src.end_of_stream().unwrap();
    let sample = sink.pull_sample().unwrap();
    let n = sapiens_stream::meta::pose::PoseResult::from_buffer(sample.buffer().unwrap())
        .unwrap()
        .unwrap()
        .persons
        .len();
    println!(
        "{persons} persons, batch-size {batch}: {n} poses in {:.1} s; peak RSS {:.0} MiB (before the frame {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        peak_mib(),
        before
    );
    pipe.set_state(gst::State::Null).unwrap();
}
