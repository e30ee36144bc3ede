use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering as AO};

use super::*;

/// Stages that sleep, track how many stages are busy at once, and fail on chosen PTS values.
struct Fake {
    busy: AtomicUsize,
    max_busy: AtomicUsize,
    sleep: Duration,
    fail_pts: Vec<u64>,
    /// Sizes of the batches `infer` saw.
    batches: Mutex<Vec<usize>>,
    /// The stage that panics on the frame with this PTS.
    panic_at: Option<(Stage, u64)>,
    /// Inference runs at once, and the most seen.
    infer_busy: AtomicUsize,
    max_infer_busy: AtomicUsize,
    /// Inference of a batch starting at PTS p takes `(3 - p % 4) * uneven_ms` more: later
    /// frames finish first.
    uneven_ms: u64,
}

impl Fake {
    fn new(sleep_ms: u64, fail_pts: Vec<u64>) -> Arc<Self> {
        Arc::new(Self {
            busy: AtomicUsize::new(0),
            max_busy: AtomicUsize::new(0),
            sleep: Duration::from_millis(sleep_ms),
            fail_pts,
            batches: Mutex::new(Vec::new()),
            panic_at: None,
            infer_busy: AtomicUsize::new(0),
            max_infer_busy: AtomicUsize::new(0),
            uneven_ms: 0,
        })
    }

    fn panicking(stage: Stage, pts: u64) -> Arc<Self> {
        Arc::new(Self {
            panic_at: Some((stage, pts)),
            ..Arc::into_inner(Self::new(0, vec![])).unwrap()
        })
    }

    fn maybe_panic(&self, stage: Stage, pts: u64) {
        if self.panic_at == Some((stage, pts)) {
            panic!("fake panic at {pts}");
        }
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
        let pts = buffer.pts().map(|t| t.nseconds()).unwrap_or(0);
        self.maybe_panic(Stage::Pre, pts);
        Ok(pts)
    }
    fn infer(&self, batch: Vec<u64>) -> Result<Vec<u64>> {
        let n = self.infer_busy.fetch_add(1, AO::SeqCst) + 1;
        self.max_infer_busy.fetch_max(n, AO::SeqCst);
        let first = batch.first().copied().unwrap_or(0);
        std::thread::sleep(Duration::from_millis((3 - first % 4) * self.uneven_ms));
        self.work();
        self.infer_busy.fetch_sub(1, AO::SeqCst);
        batch
            .iter()
            .for_each(|&p| self.maybe_panic(Stage::Infer, p));
        self.batches.lock().unwrap().push(batch.len());
        if let Some(pts) = batch.iter().find(|p| self.fail_pts.contains(p)) {
            return Err(Error::Inference(format!("fake failure at {pts}")));
        }
        Ok(batch.iter().map(|pts| pts * 10).collect())
    }
    fn postprocess(
        &self,
        v: u64,
        buffer: &mut gst::BufferRef,
        _: &gst_video::VideoInfo,
    ) -> Result<()> {
        self.work();
        buffer.set_offset(v);
        let pts = buffer.pts().map(|t| t.nseconds()).unwrap_or(0);
        self.maybe_panic(Stage::Post, pts);
        let mut m = gst::meta::CustomMeta::add(buffer, TEST_META).unwrap();
        m.mut_structure().set("pts", pts);
        Ok(())
    }

    fn result_metas(&self) -> &'static [&'static str] {
        &[TEST_META]
    }
}

const TEST_META: &str = "SapiensTestMeta";

fn adm(max_inflight: usize, policy: Policy, interval: u32) -> Admission {
    Admission {
        max_inflight,
        policy,
        interval,
        ..Default::default()
    }
}

/// The test meta's `pts` and `carried` fields on `b`.
fn test_meta(b: &gst::BufferRef) -> Option<(u64, bool)> {
    let m = gst::meta::CustomMeta::from_buffer(b, TEST_META).ok()?;
    Some((
        m.structure().get("pts").unwrap(),
        m.structure().get("carried").unwrap_or(false),
    ))
}

fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gst::init().unwrap();
        gst::meta::CustomMeta::register(TEST_META, &[]);
    });
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

/// Submits `n` frames (PTS 0..n) then EOS from a thread; collects outputs until EOS.
fn run(exec: Arc<Executor>, n: u64) -> (Vec<u64>, Vec<String>, bool) {
    run_pts(exec, 0..n)
}

/// Submits frames with PTS `pts` then EOS from a thread; collects outputs until EOS.
fn run_pts(exec: Arc<Executor>, pts: std::ops::Range<u64>) -> (Vec<u64>, Vec<String>, bool) {
    let e2 = exec.clone();
    let feeder = std::thread::spawn(move || {
        for i in pts {
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
                // Inferred frames carry offset = pts * 10; carried ones keep the unset offset.
                offsets_ok &= b.offset() == p * 10 || test_meta(&b).is_some_and(|m| m.1);
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
    init();
    for (max_inflight, expect_overlap) in [(1, false), (3, true)] {
        let fake = Fake::new(3, vec![]);
        let exec = Arc::new(
            Executor::new(
                Log::named("t"),
                fake.clone(),
                adm(max_inflight, Policy::Block, 1),
            )
            .unwrap(),
        );
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
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(0, vec![3, 7]),
            adm(4, Policy::Block, 1),
        )
        .unwrap(),
    );
    let (pts, errors, _) = run(exec.clone(), 10);
    assert_eq!(pts, vec![0, 1, 2, 4, 5, 6, 8, 9]);
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("fake failure at 3"), "{errors:?}");
    let s = exec.stats();
    assert_eq!((s.frames_in, s.frames_out, s.failed), (10, 8, 2));
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn under_skip_a_frame_whose_inference_failed_leaves_carrying_the_last_results() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(0, vec![3, 7]),
            adm(4, Policy::Skip, 1),
        )
        .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let e2 = exec.clone();
    std::thread::spawn(move || {
        let mut metas = Vec::new();
        for i in 0..10 {
            e2.submit_frame(frame(i), info()).unwrap();
            // One at a time: the window never fills, so only failures carry.
            match e2.next_output() {
                Output::Buffer(b) => {
                    metas.push((b.pts().unwrap().nseconds(), test_meta(&b)));
                    e2.frame_done();
                }
                other => panic!("frame {i}: {other:?}"),
            }
        }
        tx.send(metas).unwrap();
    });
    let metas = rx.recv_timeout(Duration::from_secs(20)).expect("no hang");
    let expect: Vec<(u64, Option<(u64, bool)>)> = (0..10)
        .map(|i| match i {
            3 | 7 => (i, Some((i - 1, true))),
            _ => (i, Some((i, false))),
        })
        .collect();
    assert_eq!(metas, expect);
    let s = exec.stats();
    assert_eq!(
        (s.frames_in, s.frames_out, s.failed, s.carried),
        (10, 10, 2, 2)
    );
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn several_requests_run_at_once_and_results_leave_in_input_order() {
    init();
    for requests in [1usize, 4] {
        let fake = Arc::new(uneven_fake(8));
        let exec = Arc::new(
            Executor::new(
                Log::named("t"),
                fake.clone(),
                Admission {
                    requests,
                    ..adm(1, Policy::Block, 1)
                },
            )
            .unwrap(),
        );
        let (pts, errors, offsets_ok) = run(exec.clone(), 24);
        assert_eq!(pts, (0..24).collect::<Vec<_>>(), "requests={requests}");
        assert!(errors.is_empty() && offsets_ok, "{errors:?}");
        let s = exec.stats();
        assert_eq!((s.frames_in, s.frames_out, s.failed), (24, 24, 0));
        assert_eq!(exec.in_flight(), 0);
        // max-inflight 1 is raised to hold the requests; later frames finish first, yet leave
        // in order.
        let at_once = fake.max_infer_busy.load(AO::SeqCst);
        if requests == 1 {
            assert_eq!(at_once, 1);
        } else {
            assert!(at_once > 1 && at_once <= requests, "{at_once} runs at once");
        }
    }
}

#[test]
fn a_failed_request_among_several_in_flight_fails_only_its_frame() {
    init();
    let mut fake = uneven_fake(4);
    fake.fail_pts = vec![5];
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Arc::new(fake),
            Admission {
                requests: 3,
                ..adm(1, Policy::Block, 1)
            },
        )
        .unwrap(),
    );
    let (pts, errors, _) = run(exec.clone(), 12);
    assert_eq!(pts, vec![0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("fake failure at 5"), "{errors:?}");
    let s = exec.stats();
    assert_eq!((s.frames_in, s.frames_out, s.failed), (12, 11, 1));
    assert_eq!(exec.in_flight(), 0);
}

/// A [`Fake`] whose later frames' inference finishes first (`uneven_ms` apart).
fn uneven_fake(uneven_ms: u64) -> Fake {
    Fake {
        uneven_ms,
        ..Arc::into_inner(Fake::new(0, vec![])).unwrap()
    }
}

#[test]
fn a_panic_in_any_stage_fails_that_frame_names_the_stage_and_never_hangs() {
    init();
    for (stage, name) in [
        (Stage::Pre, "pre-process"),
        (Stage::Infer, "inference"),
        (Stage::Post, "post-process"),
    ] {
        let exec = Arc::new(
            Executor::new(
                Log::named("t"),
                Fake::panicking(stage, 3),
                adm(2, Policy::Block, 1),
            )
            .unwrap(),
        );
        // A hang is the defect: run on a thread and give up after a generous bound.
        let (tx, rx) = std::sync::mpsc::channel();
        let e2 = exec.clone();
        std::thread::spawn(move || tx.send(run(e2, 8)));
        let (pts, errors, _) = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("a panic in {name} hung the executor"));
        assert_eq!(pts, vec![0, 1, 2, 4, 5, 6, 7], "{name}");
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert!(
            errors[0].contains(name)
                && errors[0].contains("panicked")
                && errors[0].contains("fake panic at 3"),
            "{errors:?}"
        );
        let s = exec.stats();
        assert_eq!((s.frames_in, s.frames_out, s.failed), (8, 7, 1), "{name}");
        assert_eq!(exec.in_flight(), 0, "{name}");
    }
}

#[test]
fn flush_drops_and_counts_frames_in_flight_then_accepts_new_ones() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(20, vec![]),
            adm(4, Policy::Block, 1),
        )
        .unwrap(),
    );
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
    // Everything from before the flush is gone (none of PTS 0-4 or 99); new frames flow.
    let (pts, _, _) = run_pts(exec.clone(), 100..103);
    assert_eq!(pts, vec![100, 101, 102]);
    assert!(exec.wait_idle(Duration::from_secs(5)));
    let s = exec.stats();
    assert_eq!(s.frames_in, 7);
    assert_eq!(s.frames_out + s.flushed, 7, "{s:?}");
    assert_eq!(s.flushed, 4);
}

/// Submits `n` frames from a thread as fast as possible (a live source outrunning the model);
/// returns what came out: (pts, test meta).
fn outrun(exec: Arc<Executor>, n: u64) -> Vec<(u64, Option<(u64, bool)>)> {
    let e2 = exec.clone();
    let feeder = std::thread::spawn(move || {
        for i in 0..n {
            e2.submit_frame(frame(i), info()).unwrap();
        }
        e2.submit_event(gst::event::Eos::new());
    });
    let mut out = Vec::new();
    loop {
        match exec.next_output() {
            Output::Buffer(b) => {
                out.push((b.pts().unwrap().nseconds(), test_meta(&b)));
                exec.frame_done();
            }
            Output::Event(e) if e.type_() == gst::EventType::Eos => break,
            _ => {}
        }
    }
    feeder.join().unwrap();
    out
}

#[test]
fn interval_infers_every_nth_frame_and_carries_its_results() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(1, vec![]),
            adm(2, Policy::Block, 3),
        )
        .unwrap(),
    );
    let out = outrun(exec.clone(), 9);
    assert_eq!(
        out.iter().map(|o| o.0).collect::<Vec<_>>(),
        (0..9).collect::<Vec<_>>()
    );
    for (pts, meta) in &out {
        let inferred_at = pts - pts % 3;
        assert_eq!(*meta, Some((inferred_at, pts % 3 != 0)), "frame {pts}");
    }
    let s = exec.stats();
    assert_eq!(
        (s.frames_in, s.frames_out, s.carried, s.dropped),
        (9, 9, 6, 0)
    );
}

#[test]
fn drop_policy_keeps_order_and_counts_every_dropped_frame() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(10, vec![]),
            adm(2, Policy::Drop, 1),
        )
        .unwrap(),
    );
    let out = outrun(exec.clone(), 30);
    let pts: Vec<u64> = out.iter().map(|o| o.0).collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "in order: {pts:?}");
    assert!(
        out.iter().all(|(p, m)| *m == Some((*p, false))),
        "every frame out was inferred"
    );
    let s = exec.stats();
    assert_eq!(s.frames_in, 30);
    assert_eq!(s.frames_out + s.dropped, 30, "{s:?}");
    assert!(
        s.dropped > 0,
        "a source 30x faster than the model must lose frames: {s:?}"
    );
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn skip_policy_carries_results_and_drops_only_when_the_backlog_is_full() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(10, vec![]),
            adm(2, Policy::Skip, 1),
        )
        .unwrap(),
    );
    // A source far faster than the model (30 frames at once): frames pass carrying results
    // until 2·2+2 = 6 are inside, then new ones are dropped rather than waited for.
    let out = outrun(exec.clone(), 30);
    let pts: Vec<u64> = out.iter().map(|o| o.0).collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "in order: {pts:?}");
    let mut last_inferred = None;
    for (pts, meta) in &out {
        match meta {
            Some((p, false)) => {
                assert_eq!(p, pts);
                last_inferred = Some(*p);
            }
            // A carried frame holds the result of the last inferred frame before it.
            Some((p, true)) => assert_eq!(Some(*p), last_inferred, "frame {pts}"),
            None => assert!(
                last_inferred.is_none(),
                "frame {pts}: no result although one was inferred before"
            ),
        }
    }
    let s = exec.stats();
    assert_eq!(s.frames_in, 30);
    assert_eq!(s.frames_out + s.dropped, 30, "{s:?}");
    assert!(s.carried > 0 && s.dropped > 0, "{s:?}");
    assert!(s.frames_out >= 6, "the backlog's worth passed: {s:?}");
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn batches_fill_up_to_the_size_keep_order_and_eos_flushes_a_partial_one() {
    init();
    let fake = Fake::new(5, vec![]);
    let admission = Admission {
        batch_size: 4,
        batch_timeout: Duration::from_millis(200),
        ..adm(2, Policy::Block, 1)
    };
    let exec = Arc::new(Executor::new(Log::named("t"), fake.clone(), admission).unwrap());
    let (pts, errors, offsets_ok) = run(exec.clone(), 10);
    assert_eq!(pts, (0..10).collect::<Vec<_>>());
    assert!(
        errors.is_empty() && offsets_ok,
        "every frame got its own result"
    );
    let batches = fake.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 10);
    assert!(batches.iter().all(|b| (1..=4).contains(b)), "{batches:?}");
    assert!(
        batches.contains(&4),
        "a fast source fills batches: {batches:?}"
    );
    // EOS arrives right after the 10th frame: the last, partial batch runs at once rather than
    // waiting out the 200 ms timeout (which would have collected nothing more anyway).
    let s = exec.stats();
    assert_eq!((s.frames_in, s.frames_out), (10, 10));
}

/// A frame that waits to enter (policy block, window full) counts that wait in its latency:
/// the element's figures equal, frame by frame, the time from the frame's arrival (the call that
/// hands it over, which blocks while the window is full) to its leaving, measured here.
#[test]
fn latency_includes_the_wait_to_enter() {
    init();
    let exec = Arc::new(
        Executor::new(
            Log::named("t"),
            Fake::new(30, vec![]),
            adm(1, Policy::Block, 1),
        )
        .unwrap(),
    );
    let n = 10;
    let e2 = exec.clone();
    let feeder = std::thread::spawn(move || {
        let mut arrived = Vec::new();
        for i in 0..n {
            arrived.push(std::time::Instant::now());
            e2.submit_frame(frame(i), info()).unwrap();
        }
        e2.submit_event(gst::event::Eos::new());
        arrived
    });
    let mut left = Vec::new();
    loop {
        match exec.next_output() {
            Output::Buffer(_) => {
                left.push(std::time::Instant::now());
                exec.frame_done();
            }
            Output::Event(e) if e.type_() == gst::EventType::Eos => break,
            _ => {}
        }
    }
    let arrived = feeder.join().unwrap();
    let mut expected: Vec<f64> = arrived
        .iter()
        .zip(&left)
        .map(|(a, l)| l.duration_since(*a).as_secs_f64() * 1000.0)
        .collect();
    expected.sort_by(f64::total_cmp);
    let s = exec.stats();
    // Nearest-rank percentiles of ten samples: p50 is the 5th, p99 the 10th.
    for (name, got, want) in [
        ("p50", s.total.p50_ms, expected[4]),
        ("p99", s.total.p99_ms, expected[9]),
    ] {
        assert!(
            (got - want).abs() < 10.0,
            "{name}: element says {got:.1} ms, measured {want:.1} ms (all: {expected:.0?})"
        );
    }
}

/// The race CI hit on a seek ("Got data flow before segment event"): the streaming thread is
/// admitted, a flush starts and ends before it tags its frame, and the frame then travels in the
/// new epoch ahead of the new segment. The epoch a frame carries is the one it was admitted in.
#[test]
fn a_frame_admitted_before_a_flush_is_stale_after_it_whenever_it_is_sent() {
    init();
    let window = window::Window::new(Admission::default(), Log::named("flush-race"));
    let window::Decision::Enter { epoch, .. } = window.admit() else {
        panic!("an empty window admits a frame");
    };
    window.begin_flush();
    window.end_flush();
    assert_ne!(
        epoch,
        window.epoch(),
        "a frame admitted before the flush must be dropped as stale, not pushed before the new segment"
    );
}

/// The same race for events: one submitted while a flush is in progress is refused (as a flushing
/// pad refuses serialized events), never tagged with the epoch that follows the flush.
#[test]
fn an_event_submitted_while_flushing_is_refused() {
    init();
    let fake = Fake::new(0, vec![]);
    let exec = Executor::new(Log::named("flush-event"), fake, Admission::default()).unwrap();
    exec.flush_start();
    assert!(!exec.submit_event(gst::event::Eos::new()));
    exec.flush_stop();
    assert!(exec.submit_event(gst::event::Eos::new()));
}
