//! Frame-level pipelining: a staged executor generic over the head.
//!
//! ```text
//! submit ──► [pre-process] ──► [infer] ──► [post-process] ──► next_output (in order)
//! frame n+2      frame n+1       frame n        frame n-1
//! ```
//! Each stage is one thread; stages are FIFO, so frames leave in the order they came, with their
//! timestamps untouched. A window of `max_inflight` frames gives back-pressure: `submit_frame`
//! blocks while the window is full. Serialized events travel between the frames around them, so
//! EOS leaves after every frame before it. A flush bumps the epoch: frames and events of an older
//! epoch are dropped wherever they are, counted, and their window slots freed.
//!
//! When the window is full, the [`Policy`] decides: `Block` waits (files: nothing is lost),
//! `Drop` drops the oldest frame still waiting for pre-processing (or the new one when none
//! waits), `Skip` lets the new frame through without inference, carrying the last results. With
//! `interval = N` only every Nth frame is inferred; the others carry the last results too.
//! Carried results are copies of the head's metadata marked `carried = true`.
mod stats;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

pub use stats::{ExecutorStats, LatencySummary, Stage};

use crate::error::{Error, Result};

/// The work of one head, split into the three pipelined stages.
pub trait Stages: Send + Sync + 'static {
    /// Pre-processed input (model tensor plus whatever post-processing needs).
    type Pre: Send + 'static;
    /// Model output plus context.
    type Inferred: Send + 'static;
    /// Frame → model input.
    fn preprocess(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<Self::Pre>;
    /// Runs the model.
    /// Runs the model on a batch of pre-processed frames (one or more, in order), returning one
    /// result per frame. An error fails every frame of the batch.
    fn infer(&self, batch: Vec<Self::Pre>) -> Result<Vec<Self::Inferred>>;
    /// How much of a batch one frame fills (pose: its person crops; dense heads: 1).
    fn weight(&self, _pre: &Self::Pre) -> usize {
        1
    }
    /// Model output → result attached to the (writable) buffer.
    fn postprocess(
        &self,
        inferred: Self::Inferred,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<()>;
    /// Names of the custom metas `postprocess` attaches (copied onto frames that carry results).
    fn result_metas(&self) -> &'static [&'static str] {
        &[]
    }
}

/// What a full window does to a new frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// Wait for a slot (nothing is lost; latency grows when the source is faster).
    #[default]
    Block,
    /// Drop the oldest frame still waiting for pre-processing, else the new frame (counted).
    Drop,
    /// Pass the new frame through without inference, carrying the last results (counted).
    Skip,
}

/// How an executor admits frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Frames being inferred at once (≥ 1).
    pub max_inflight: usize,
    pub policy: Policy,
    /// Infer every Nth frame (≥ 1); the others carry the last results.
    pub interval: u32,
    /// Batch weight (frames, or person crops for pose) gathered into one model run (≥ 1).
    pub batch_size: usize,
    /// Longest the inference stage waits for a batch to fill after its first frame.
    pub batch_timeout: Duration,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_inflight: 3,
            policy: Policy::Block,
            interval: 1,
            batch_size: 1,
            batch_timeout: Duration::ZERO,
        }
    }
}

/// What comes out of the executor, in input order.
#[derive(Debug)]
pub enum Output {
    /// A processed frame. Call [`Executor::frame_done`] once it has been pushed or dropped.
    Buffer(gst::Buffer),
    /// A serialized event, in its place between frames.
    Event(gst::Event),
    /// A frame that failed in a stage (its slot is already freed). The frame is lost: report it.
    Error(Error),
    /// Woken by a flush or shutdown: nothing to push.
    Wake,
}

/// Epoch tag of the wake-up sent by a flush.
const WAKE: u64 = u64::MAX;

/// Returned by `submit_frame` while flushing or shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushing;

struct Job<T> {
    buffer: gst::Buffer,
    info: Arc<gst_video::VideoInfo>,
    entered: Instant,
    /// `None` for frames that skip inference.
    data: Option<T>,
    /// Set when the `Drop` policy dropped this frame before pre-processing started.
    dropped: Option<Arc<AtomicBool>>,
}

impl<T> Job<T> {
    fn with<U>(self, data: Option<U>) -> Job<U> {
        Job {
            buffer: self.buffer,
            info: self.info,
            entered: self.entered,
            data,
            dropped: self.dropped,
        }
    }
}

enum Msg<T> {
    Frame {
        epoch: u64,
        job: Job<T>,
    },
    Event {
        epoch: u64,
        event: gst::Event,
    },
    /// A frame lost in a stage; `working` when it was to be inferred (holds a window slot).
    Failed {
        epoch: u64,
        error: Error,
        working: bool,
    },
    Stop,
}

impl<T> Msg<T> {
    /// A non-frame message re-typed for the next stage.
    fn pass<U>(self) -> Option<Msg<U>> {
        match self {
            Msg::Frame { .. } => None,
            Msg::Event { epoch, event } => Some(Msg::Event { epoch, event }),
            Msg::Failed {
                epoch,
                error,
                working,
            } => Some(Msg::Failed {
                epoch,
                error,
                working,
            }),
            Msg::Stop => Some(Msg::Stop),
        }
    }
}

struct Window {
    /// Frames inside (every kind).
    in_flight: usize,
    /// Frames inside that will be inferred (what `max_inflight` bounds).
    working: usize,
    /// Drop flags of inferred frames not yet started by the pre-process stage, oldest first.
    waiting: VecDeque<Arc<AtomicBool>>,
    /// Frames submitted so far (for `interval`).
    seen: u64,
    flushing: bool,
}

struct Shared {
    window: Mutex<Window>,
    changed: Condvar,
    admission: Admission,
    epoch: AtomicU64,
    stats: Mutex<stats::Recorder>,
}

impl Shared {
    /// A frame that was inferred has finished its stages (post-process done or failed).
    fn release_working(&self) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.working = w.working.saturating_sub(1);
        self.changed.notify_all();
    }

    /// A frame has left (or is gone); `working` when it was to be inferred.
    fn release(&self, working: bool) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.in_flight = w.in_flight.saturating_sub(1);
        if working {
            w.working = w.working.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, stats::Recorder> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A frame of an old epoch dropped in a stage.
    fn drop_stale(&self, working: bool) {
        self.stats().flushed += 1;
        self.release(working);
    }

    /// The pre-process stage starts a frame: `false` when the `Drop` policy already dropped it
    /// (its slot is freed and it is counted).
    fn start(&self, dropped: &Option<Arc<AtomicBool>>) -> bool {
        let Some(flag) = dropped else { return true };
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if flag.load(Ordering::Acquire) {
            return false;
        }
        if let Some(i) = w.waiting.iter().position(|f| Arc::ptr_eq(f, flag)) {
            w.waiting.remove(i);
        }
        true
    }
}

/// The staged executor. Dropping it stops and joins its threads.
pub struct Executor {
    shared: Arc<Shared>,
    input: Sender<Msg<()>>,
    output: Receiver<(u64, Output)>,
    output_tx: Sender<(u64, Output)>,
    threads: Vec<JoinHandle<()>>,
}

/// The carried results: copies of the head's metas from the last inferred frame.
type Carried = Vec<(&'static str, gst::Structure)>;

impl Executor {
    /// Starts the three stage threads for `stages`, admitting frames as `admission` says.
    pub fn new<S: Stages>(name: &str, stages: Arc<S>, admission: Admission) -> Result<Self> {
        let batch_size = admission.batch_size.max(1);
        let admission = Admission {
            // A batch can only fill if that many frames may be inside.
            max_inflight: admission.max_inflight.max(1).max(batch_size.min(64)),
            interval: admission.interval.max(1),
            batch_size,
            ..admission
        };
        let shared = Arc::new(Shared {
            window: Mutex::new(Window {
                in_flight: 0,
                working: 0,
                waiting: VecDeque::new(),
                seen: 0,
                flushing: false,
            }),
            changed: Condvar::new(),
            admission,
            epoch: AtomicU64::new(0),
            stats: Mutex::new(stats::Recorder::default()),
        });
        let (input, pre_rx) = unbounded::<Msg<()>>();
        let (pre_tx, infer_rx) = unbounded::<Msg<S::Pre>>();
        let (infer_tx, post_rx) = unbounded::<Msg<S::Inferred>>();
        let (output_tx, output) = unbounded::<(u64, Output)>();
        let spawn = |stage: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("{name}:{stage}"))
                .spawn(f)
                .map_err(|e| Error::Invalid(format!("cannot start {stage} thread: {e}")))
        };
        let (s1, sh1) = (stages.clone(), shared.clone());
        let t1 = spawn(
            "pre",
            Box::new(move || {
                run_stage(
                    &pre_rx,
                    &sh1,
                    Stage::Pre,
                    |m| drop(pre_tx.send(m)),
                    |job: Job<()>| {
                        let data = match job.data {
                            Some(()) => Some(s1.preprocess(&job.buffer, &job.info)?),
                            None => None,
                        };
                        Ok(job.with(data))
                    },
                )
            }),
        )?;
        let (s2, sh2) = (stages.clone(), shared.clone());
        let t2 = spawn(
            "infer",
            Box::new(move || run_infer_stage(&infer_rx, &sh2, &*s2, |m| drop(infer_tx.send(m)))),
        )?;
        let (s3, sh3, out3) = (stages, shared.clone(), output_tx.clone());
        let t3 = spawn(
            "post",
            Box::new(move || {
                let carried = Mutex::new(Carried::new());
                let emit = |m: Msg<()>| {
                    let item = match m {
                        Msg::Frame { epoch, job } => Some((epoch, Output::Buffer(job.buffer))),
                        Msg::Event { epoch, event } => Some((epoch, Output::Event(event))),
                        Msg::Failed {
                            epoch,
                            error,
                            working,
                        } => {
                            if working {
                                sh3.release_working();
                            }
                            Some((epoch, Output::Error(error)))
                        }
                        Msg::Stop => None,
                    };
                    if let Some(item) = item {
                        let _ = out3.send(item);
                    }
                };
                run_stage(
                    &post_rx,
                    &sh3,
                    Stage::Post,
                    emit,
                    |mut job: Job<S::Inferred>| {
                        let buffer = job.buffer.make_mut();
                        match job.data.take() {
                            Some(inferred) => {
                                // On failure `emit` frees the slot, as for earlier stages.
                                s3.postprocess(inferred, buffer, &job.info)?;
                                sh3.release_working();
                                *carried.lock().unwrap_or_else(|p| p.into_inner()) =
                                    snapshot(buffer, s3.result_metas());
                            }
                            None => {
                                carry(buffer, &carried.lock().unwrap_or_else(|p| p.into_inner()))?;
                                sh3.stats().carried += 1;
                            }
                        }
                        sh3.stats().record(Stage::Total, job.entered.elapsed());
                        Ok(job.with(Some(())))
                    },
                )
            }),
        )?;
        Ok(Self {
            shared,
            input,
            output,
            output_tx,
            threads: vec![t1, t2, t3],
        })
    }

    /// Enters a frame. While `max_inflight` frames are being inferred the policy decides: wait,
    /// drop (the oldest waiting frame, or this one), or pass this one through carrying the last
    /// results. Frames waiting for downstream are bounded too (then every policy waits).
    /// `Err(Flushing)` while flushing (the frame is dropped, as upstream expects).
    pub fn submit_frame(
        &self,
        buffer: gst::Buffer,
        info: Arc<gst_video::VideoInfo>,
    ) -> Result<(), Flushing> {
        let a = self.shared.admission;
        let mut w = self.shared.window.lock().unwrap_or_else(|p| p.into_inner());
        let mut infer = w.seen.is_multiple_of(a.interval as u64);
        w.seen += 1;
        loop {
            if w.flushing {
                return Err(Flushing);
            }
            if w.in_flight >= 2 * a.max_inflight + 2
                || (infer && w.working >= a.max_inflight && a.policy == Policy::Block)
            {
                w = self
                    .shared
                    .changed
                    .wait(w)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            if infer && w.working >= a.max_inflight {
                match a.policy {
                    Policy::Skip => infer = false,
                    Policy::Drop => match w.waiting.pop_front() {
                        Some(oldest) => {
                            oldest.store(true, Ordering::Release);
                            w.in_flight -= 1;
                            w.working -= 1;
                            self.shared.stats().dropped += 1;
                            continue;
                        }
                        None => {
                            drop(w);
                            let mut st = self.shared.stats();
                            st.frame_in();
                            st.dropped += 1;
                            return Ok(());
                        }
                    },
                    Policy::Block => unreachable!("handled above"),
                }
            }
            break;
        }
        w.in_flight += 1;
        let dropped = infer.then(|| Arc::new(AtomicBool::new(false)));
        if let Some(flag) = &dropped {
            w.working += 1;
            w.waiting.push_back(flag.clone());
        }
        drop(w);
        self.shared.stats().frame_in();
        let job = Job {
            buffer,
            info,
            entered: Instant::now(),
            data: infer.then_some(()),
            dropped,
        };
        self.input
            .send(Msg::Frame {
                epoch: self.shared.epoch(),
                job,
            })
            .map_err(|_| Flushing)
    }

    /// Enters a serialized event; it leaves after every frame submitted before it.
    pub fn submit_event(&self, event: gst::Event) {
        let _ = self.input.send(Msg::Event {
            epoch: self.shared.epoch(),
            event,
        });
    }

    /// The next output in order; blocks. Stale items (older epoch) are dropped and counted here.
    pub fn next_output(&self) -> Output {
        loop {
            let Ok((epoch, out)) = self.output.recv() else {
                return Output::Wake;
            };
            if epoch == WAKE {
                return Output::Wake;
            }
            if epoch == self.shared.epoch() {
                if let Output::Error(_) = out {
                    self.shared.stats().failed += 1;
                    self.shared.release(false);
                }
                return out;
            }
            if let Output::Buffer(_) | Output::Error(_) = out {
                self.shared.drop_stale(false);
            }
        }
    }

    /// A buffer from [`Output::Buffer`] has left (pushed downstream, or refused there).
    pub fn frame_done(&self) {
        self.shared.stats().frame_out();
        self.shared.release(false);
    }

    /// Starts a flush: frames inside are dropped and counted, `submit_frame` returns
    /// `Err(Flushing)` and `next_output` wakes.
    pub fn flush_start(&self) {
        let mut w = self.shared.window.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        w.flushing = true;
        self.shared.changed.notify_all();
        drop(w);
        let _ = self.output_tx.send((WAKE, Output::Wake));
    }

    /// Ends a flush: new frames are accepted again.
    pub fn flush_stop(&self) {
        // Drop what is already waiting at the output (older epoch).
        while let Ok((epoch, out)) = self.output.try_recv() {
            if epoch != WAKE && matches!(out, Output::Buffer(_) | Output::Error(_)) {
                self.shared.drop_stale(false);
            }
        }
        let mut w = self.shared.window.lock().unwrap_or_else(|p| p.into_inner());
        w.flushing = false;
        self.shared.changed.notify_all();
    }

    /// Whether a flush is in progress.
    pub fn is_flushing(&self) -> bool {
        self.shared
            .window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flushing
    }

    /// Blocks until no frame is inside (or a flush starts, or `timeout` passes).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut w = self.shared.window.lock().unwrap_or_else(|p| p.into_inner());
        while w.in_flight > 0 && !w.flushing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            w = self
                .shared
                .changed
                .wait_timeout(w, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        w.in_flight == 0
    }

    /// Frames inside now.
    pub fn in_flight(&self) -> usize {
        self.shared
            .window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .in_flight
    }

    /// Counters and latency percentiles so far.
    pub fn stats(&self) -> ExecutorStats {
        self.shared.stats().snapshot()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.flush_start();
        let _ = self.input.send(Msg::Stop);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Copies of the metas `names` on `buffer`.
fn snapshot(buffer: &gst::BufferRef, names: &'static [&'static str]) -> Carried {
    names
        .iter()
        .filter_map(|&n| {
            gst::meta::CustomMeta::from_buffer(buffer, n)
                .ok()
                .map(|m| (n, m.structure().to_owned()))
        })
        .collect()
}

/// Attaches the carried metas to `buffer`, marked `carried = true`.
fn carry(buffer: &mut gst::BufferRef, carried: &Carried) -> Result<()> {
    for (name, s) in carried {
        let mut meta = match gst::meta::CustomMeta::from_mut_buffer(buffer, name) {
            Ok(m) => m,
            Err(_) => gst::meta::CustomMeta::add(buffer, name).map_err(|e| Error::Meta {
                name: (*name).into(),
                msg: e.to_string(),
            })?,
        };
        let m = meta.mut_structure();
        m.set_name(s.name());
        for (field, value) in s.iter() {
            m.set_value(field, value.clone());
        }
        m.set("carried", true);
    }
    Ok(())
}

/// The inference stage: gathers frames into batches of up to `batch_size` weight, waiting at
/// most `batch_timeout` after the first; anything that is not a current, to-be-inferred frame
/// (an event, a carried or stale frame, a failure) closes the batch first, so order holds.
fn run_infer_stage<S: Stages>(
    rx: &Receiver<Msg<S::Pre>>,
    shared: &Shared,
    stages: &S,
    emit: impl Fn(Msg<S::Inferred>),
) {
    let a = shared.admission;
    let mut pending: Option<Msg<S::Pre>> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        let batchable = |m: &Msg<S::Pre>| matches!(m, Msg::Frame { epoch, job } if *epoch == shared.epoch() && job.data.is_some());
        if !batchable(&msg) {
            match msg {
                Msg::Frame { epoch, job } if epoch != shared.epoch() => {
                    shared.drop_stale(job.data.is_some())
                }
                Msg::Frame { epoch, job } => emit(Msg::Frame {
                    epoch,
                    job: job.with(None),
                }),
                other => {
                    if pass_on(other, &emit) {
                        return;
                    }
                }
            }
            continue;
        }
        let Msg::Frame { epoch, job } = msg else {
            unreachable!("batchable frames are frames")
        };
        let mut weight = job.data.as_ref().map_or(1, |d| stages.weight(d));
        let mut batch = vec![job];
        let deadline = Instant::now() + a.batch_timeout;
        while weight < a.batch_size {
            let next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(_) => rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok(),
            };
            let Some(m) = next else { break };
            if !batchable(&m) {
                pending = Some(m);
                break;
            }
            let Msg::Frame { job, .. } = m else {
                unreachable!("batchable frames are frames")
            };
            weight += job.data.as_ref().map_or(1, |d| stages.weight(d));
            batch.push(job);
        }
        let t = Instant::now();
        let mut jobs = Vec::with_capacity(batch.len());
        let pres: Vec<S::Pre> = batch
            .into_iter()
            .map(|mut j| {
                let d = j.data.take();
                jobs.push(j);
                d.expect("batched frames have data")
            })
            .collect();
        let n = jobs.len();
        shared.stats().runs += 1;
        match guarded(Stage::Infer, || stages.infer(pres)) {
            Ok(outs) if outs.len() == n => {
                let elapsed = t.elapsed();
                for (job, out) in jobs.into_iter().zip(outs) {
                    shared.stats().record(Stage::Infer, elapsed);
                    emit(Msg::Frame {
                        epoch,
                        job: job.with(Some(out)),
                    });
                }
            }
            Ok(outs) => {
                let msg = format!(
                    "inference returned {} results for a batch of {n}",
                    outs.len()
                );
                (0..n).for_each(|_| {
                    emit(Msg::Failed {
                        epoch,
                        error: Error::Inference(msg.clone()),
                        working: true,
                    })
                });
            }
            Err(e) => {
                let msg = e.to_string();
                (0..n).for_each(|_| {
                    emit(Msg::Failed {
                        epoch,
                        error: Error::Inference(msg.clone()),
                        working: true,
                    })
                });
            }
        }
    }
}

/// One stage's loop: runs `work` on current-epoch frames, drops stale ones, passes the rest on.
fn run_stage<A, B>(
    rx: &Receiver<Msg<A>>,
    shared: &Shared,
    stage: Stage,
    emit: impl Fn(Msg<B>),
    work: impl Fn(Job<A>) -> Result<Job<B>>,
) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Frame { job, .. } if stage == Stage::Pre && !shared.start(&job.dropped) => {}
            Msg::Frame { epoch, job } if epoch != shared.epoch() => {
                shared.drop_stale(job.data.is_some())
            }
            Msg::Frame { epoch, job } => {
                let t = Instant::now();
                let timed = job.data.is_some();
                let out = match guarded(stage, || work(job)) {
                    Ok(job) => Msg::Frame { epoch, job },
                    Err(error) => Msg::Failed {
                        epoch,
                        error,
                        working: timed,
                    },
                };
                if timed {
                    shared.stats().record(stage, t.elapsed());
                }
                emit(out);
            }
            other => {
                if pass_on(other, &emit) {
                    return;
                }
            }
        }
    }
}

/// Runs `f`, turning a panic into [`Error::StagePanic`] naming `stage`: a panicking stage fails
/// its frame (counted, reported) instead of killing its thread and hanging the stream.
fn guarded<T>(stage: Stage, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        Err(Error::StagePanic {
            stage: stage.name(),
            msg,
        })
    })
}

/// Passes a non-frame message to the next stage; `true` when it was `Stop`.
fn pass_on<A, B>(msg: Msg<A>, emit: &impl Fn(Msg<B>)) -> bool {
    let stop = matches!(msg, Msg::Stop);
    if let Some(m) = msg.pass() {
        emit(m);
    }
    stop
}

#[cfg(test)]
mod tests;
