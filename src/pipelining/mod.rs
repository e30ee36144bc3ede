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
mod stats;

use std::sync::atomic::{AtomicU64, Ordering};
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
    fn infer(&self, pre: Self::Pre) -> Result<Self::Inferred>;
    /// Model output → result attached to the (writable) buffer.
    fn postprocess(
        &self,
        inferred: Self::Inferred,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<()>;
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
    data: T,
}

enum Msg<T> {
    Frame { epoch: u64, job: Job<T> },
    Event { epoch: u64, event: gst::Event },
    Failed { epoch: u64, error: Error },
    Stop,
}

impl<T> Msg<T> {
    /// A non-frame message re-typed for the next stage.
    fn pass<U>(self) -> Option<Msg<U>> {
        match self {
            Msg::Frame { .. } => None,
            Msg::Event { epoch, event } => Some(Msg::Event { epoch, event }),
            Msg::Failed { epoch, error } => Some(Msg::Failed { epoch, error }),
            Msg::Stop => Some(Msg::Stop),
        }
    }
}

struct Window {
    in_flight: usize,
    flushing: bool,
}

struct Shared {
    window: Mutex<Window>,
    changed: Condvar,
    max_inflight: usize,
    epoch: AtomicU64,
    stats: Mutex<stats::Recorder>,
}

impl Shared {
    fn release(&self) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.in_flight = w.in_flight.saturating_sub(1);
        self.changed.notify_all();
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, stats::Recorder> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A frame of an old epoch dropped in a stage.
    fn drop_stale(&self) {
        self.stats().flushed += 1;
        self.release();
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

impl Executor {
    /// Starts the three stage threads for `stages`, allowing `max_inflight` (≥ 1) frames inside.
    pub fn new<S: Stages>(name: &str, stages: Arc<S>, max_inflight: usize) -> Result<Self> {
        let shared = Arc::new(Shared {
            window: Mutex::new(Window {
                in_flight: 0,
                flushing: false,
            }),
            changed: Condvar::new(),
            max_inflight: max_inflight.max(1),
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
                        let data = s1.preprocess(&job.buffer, &job.info)?;
                        Ok(Job {
                            buffer: job.buffer,
                            info: job.info,
                            entered: job.entered,
                            data,
                        })
                    },
                )
            }),
        )?;
        let (s2, sh2) = (stages.clone(), shared.clone());
        let t2 = spawn(
            "infer",
            Box::new(move || {
                run_stage(
                    &infer_rx,
                    &sh2,
                    Stage::Infer,
                    |m| drop(infer_tx.send(m)),
                    |job: Job<S::Pre>| {
                        let data = s2.infer(job.data)?;
                        Ok(Job {
                            buffer: job.buffer,
                            info: job.info,
                            entered: job.entered,
                            data,
                        })
                    },
                )
            }),
        )?;
        let (s3, sh3, out3) = (stages, shared.clone(), output_tx.clone());
        let t3 = spawn(
            "post",
            Box::new(move || {
                let emit = |m: Msg<()>| {
                    let item = match m {
                        Msg::Frame { epoch, job } => Some((epoch, Output::Buffer(job.buffer))),
                        Msg::Event { epoch, event } => Some((epoch, Output::Event(event))),
                        Msg::Failed { epoch, error } => Some((epoch, Output::Error(error))),
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
                        s3.postprocess(job.data, job.buffer.make_mut(), &job.info)?;
                        sh3.stats().record(Stage::Total, job.entered.elapsed());
                        Ok(Job {
                            buffer: job.buffer,
                            info: job.info,
                            entered: job.entered,
                            data: (),
                        })
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

    /// Enters a frame; blocks while `max_inflight` frames are inside. `Err(Flushing)` while
    /// flushing (the frame is dropped, as upstream expects during a flush).
    pub fn submit_frame(
        &self,
        buffer: gst::Buffer,
        info: Arc<gst_video::VideoInfo>,
    ) -> Result<(), Flushing> {
        {
            let mut w = self.shared.window.lock().unwrap_or_else(|p| p.into_inner());
            while !w.flushing && w.in_flight >= self.shared.max_inflight {
                w = self
                    .shared
                    .changed
                    .wait(w)
                    .unwrap_or_else(|p| p.into_inner());
            }
            if w.flushing {
                return Err(Flushing);
            }
            w.in_flight += 1;
        }
        self.shared.stats().frame_in();
        let job = Job {
            buffer,
            info,
            entered: Instant::now(),
            data: (),
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
                    self.shared.release();
                }
                return out;
            }
            if let Output::Buffer(_) | Output::Error(_) = out {
                self.shared.drop_stale();
            }
        }
    }

    /// A buffer from [`Output::Buffer`] has left (pushed downstream, or refused there).
    pub fn frame_done(&self) {
        self.shared.stats().frame_out();
        self.shared.release();
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
                self.shared.drop_stale();
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
            Msg::Frame { epoch, .. } if epoch != shared.epoch() => shared.drop_stale(),
            Msg::Frame { epoch, job } => {
                let t = Instant::now();
                let out = match work(job) {
                    Ok(job) => Msg::Frame { epoch, job },
                    Err(error) => Msg::Failed { epoch, error },
                };
                shared.stats().record(stage, t.elapsed());
                emit(out);
            }
            Msg::Stop => {
                emit(Msg::Stop);
                return;
            }
            other => {
                if let Some(m) = other.pass() {
                    emit(m);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
