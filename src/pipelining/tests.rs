use std::sync::atomic::{AtomicUsize, Ordering as AO};

use super::*;

/// Stages that sleep, track how many stages are busy at once, and fail on chosen PTS values.
struct Fake {
    busy: AtomicUsize,
    max_busy: AtomicUsize,
    sleep: Duration,
    fail_pts: Vec<u64>,
}

impl Fake {
    fn new(sleep_ms: u64, fail_pts: Vec<u64>) -> Arc<Self> {
        Arc::new(Self {
            busy: AtomicUsize::new(0),
            max_busy: AtomicUsize::new(0),
            sleep: Duration::from_millis(sleep_ms),
            fail_pts,
        })
    }

    fn work(&self) {
        let b = self.busy.fetch_add(1, AO::SeqCst) + 1;
        self.max_busy.fetch_max(b, AO::SeqCst);
        std::thread::sleep(self.sleep);
        self.busy.fetch_sub(1, AO::SeqCst);
    }
}

impl Stages for Fake {
    type Pre = u64;
    type Inferred = u64;
    fn preprocess(&self, buffer: &gst::Buffer, _: &gst_video::VideoInfo) -> Result<u64> {
        self.work();
        Ok(buffer.pts().map(|t| t.nseconds()).unwrap_or(0))
    }
    fn infer(&self, pts: u64) -> Result<u64> {
        self.work();
        if self.fail_pts.contains(&pts) {
            return Err(Error::Inference(format!("fake failure at {pts}")));
        }
        Ok(pts * 10)
    }
    fn postprocess(
        &self,
        v: u64,
        buffer: &mut gst::BufferRef,
        _: &gst_video::VideoInfo,
    ) -> Result<()> {
        self.work();
        buffer.set_offset(v);
        Ok(())
    }
}

fn info() -> Arc<gst_video::VideoInfo> {
    Arc::new(
        gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, 4, 4)
            .build()
            .unwrap(),
    )
}

fn frame(pts: u64) -> gst::Buffer {
    let mut b = gst::Buffer::with_size(48).unwrap();
    b.get_mut()
        .unwrap()
        .set_pts(gst::ClockTime::from_nseconds(pts));
    b
}

/// Submits `n` frames then EOS from a thread; collects outputs until EOS.
fn run(exec: Arc<Executor>, n: u64) -> (Vec<u64>, Vec<String>, bool) {
    let e2 = exec.clone();
    let feeder = std::thread::spawn(move || {
        for i in 0..n {
            e2.submit_frame(frame(i), info()).unwrap();
        }
        e2.submit_event(gst::event::Eos::new());
    });
    let (mut pts, mut errors) = (Vec::new(), Vec::new());
    let mut offsets_ok = true;
    loop {
        match exec.next_output() {
            Output::Buffer(b) => {
                let p = b.pts().unwrap().nseconds();
                offsets_ok &= b.offset() == p * 10;
                pts.push(p);
                exec.frame_done();
            }
            Output::Error(e) => errors.push(e.to_string()),
            Output::Event(e) if e.type_() == gst::EventType::Eos => break,
            _ => {}
        }
    }
    feeder.join().unwrap();
    (pts, errors, offsets_ok)
}

#[test]
fn frames_leave_in_order_before_eos_and_stages_overlap() {
    gst::init().unwrap();
    for (max_inflight, expect_overlap) in [(1, false), (3, true)] {
        let fake = Fake::new(3, vec![]);
        let exec = Arc::new(Executor::new("t", fake.clone(), max_inflight).unwrap());
        let (pts, errors, offsets_ok) = run(exec.clone(), 40);
        assert_eq!(
            pts,
            (0..40).collect::<Vec<_>>(),
            "max_inflight={max_inflight}"
        );
        assert!(errors.is_empty() && offsets_ok);
        let s = exec.stats();
        assert_eq!(
            (s.frames_in, s.frames_out, s.flushed, s.failed),
            (40, 40, 0, 0)
        );
        assert_eq!(exec.in_flight(), 0);
        // With one frame in flight only one stage works at a time; with three, stages overlap.
        let overlap = fake.max_busy.load(AO::SeqCst);
        assert_eq!(
            overlap > 1,
            expect_overlap,
            "max_inflight={max_inflight}: {overlap} stages busy at once"
        );
        assert!(overlap <= max_inflight);
    }
}

#[test]
fn a_failed_frame_is_reported_in_its_place_and_counted() {
    gst::init().unwrap();
    let exec = Arc::new(Executor::new("t", Fake::new(0, vec![3, 7]), 4).unwrap());
    let (pts, errors, _) = run(exec.clone(), 10);
    assert_eq!(pts, vec![0, 1, 2, 4, 5, 6, 8, 9]);
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("fake failure at 3"), "{errors:?}");
    let s = exec.stats();
    assert_eq!((s.frames_in, s.frames_out, s.failed), (10, 8, 2));
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn flush_drops_and_counts_frames_in_flight_then_accepts_new_ones() {
    gst::init().unwrap();
    let exec = Arc::new(Executor::new("t", Fake::new(20, vec![]), 4).unwrap());
    for i in 0..4 {
        exec.submit_frame(frame(i), info()).unwrap();
    }
    // A full window blocks submit: a fifth frame waits, and the flush releases it with Flushing.
    let e2 = exec.clone();
    let blocked = std::thread::spawn(move || e2.submit_frame(frame(99), info()));
    std::thread::sleep(Duration::from_millis(10));
    exec.flush_start();
    assert_eq!(blocked.join().unwrap(), Err(Flushing));
    assert!(matches!(exec.next_output(), Output::Wake));
    assert!(exec.submit_frame(frame(5), info()).is_err());
    exec.flush_stop();
    // Everything from before the flush is gone; new frames flow.
    let (pts, _, _) = run(exec.clone(), 3);
    assert_eq!(pts, vec![0, 1, 2]);
    assert!(exec.wait_idle(Duration::from_secs(5)));
    let s = exec.stats();
    assert_eq!(s.frames_in, 7);
    assert_eq!(s.frames_out + s.flushed, 7, "{s:?}");
    assert_eq!(s.flushed, 4);
}
