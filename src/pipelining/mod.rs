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
//! waits), `Skip` lets the new frame through without inference, carrying the last results.
//! The policy also says what a frame whose inference failed (a lost server) does: `Block` and
//! `Drop` report it ([`Output::Error`]; the element stops on it under `Block`, goes on under
//! `Drop`), `Skip` passes it on carrying the last results; either way it is counted as failed. With
//! `interval = N` only every Nth frame is inferred; the others carry the last results too.
//! Carried results are copies of the head's metadata marked `carried = true`.
//!
//! Inside: [`window`] admits frames and keeps every count (its invariants are written there),
//! [`stage`] runs the three stage threads and gathers batches, and carried results travel as
//! [`crate::meta::snapshot`] / [`crate::meta::carry`].
mod log;
mod stage;
mod stats;
mod window;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};

pub use stats::{BUCKETS_MS, ExecutorStats, Histogram, LatencySummary, Stage};

use crate::error::{Error, Result};
pub use log::Log;
use stage::{Job, Msg};
use window::{Decision, Window};

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
    /// Gives a frame that skips inference the last inferred frame's results (`last`, the
    /// [`Stages::result_metas`] found there), marked carried.
    fn carry(
        &self,
        buffer: &mut gst::BufferRef,
        _info: &gst_video::VideoInfo,
        last: &[(&'static str, gst::Structure)],
    ) -> Result<()> {
        crate::meta::carry(buffer, last)
    }
}

/// What a full window does to a new frame (the `policy` property and `--policy` flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum, clap::ValueEnum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensPolicy")]
pub enum Policy {
    /// Wait for a slot (nothing is lost; latency grows when the source is faster).
    #[default]
    #[enum_value(
        name = "Wait for a slot: nothing is lost, latency grows if the source is faster (files)",
        nick = "block"
    )]
    Block,
    /// Drop the oldest frame still waiting for pre-processing, else the new frame (counted).
    #[enum_value(
        name = "Drop the oldest frame still waiting, else the new one (counted in stats)",
        nick = "drop"
    )]
    Drop,
    /// Pass the new frame through without inference, carrying the last results (counted); when
    /// the output backlog is full too, drop it (counted), so delay stays bounded.
    #[enum_value(
        name = "Pass the new frame without inference, carrying the last results (marked carried)",
        nick = "skip"
    )]
    Skip,
}

impl Policy {
    /// The name the property and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Block => "block",
            Policy::Drop => "drop",
            Policy::Skip => "skip",
        }
    }
}

/// Default frames inside an element at once (one per stage): the property's, the CLI's.
pub const DEFAULT_MAX_INFLIGHT: u32 = 3;
/// Default inference interval (every frame): the property's, the CLI's.
pub const DEFAULT_INTERVAL: u32 = 1;
/// Default batch size (frames or person crops a run): the property's, the CLI's.
pub const DEFAULT_BATCH_SIZE: u32 = 1;
/// Default model runs in flight at once (`inflight-requests`): the property's, the CLI's.
pub const DEFAULT_REQUESTS: u32 = 1;

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
    /// Model runs in flight at once (≥ 1), their results taken in order.
    pub requests: usize,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_inflight: DEFAULT_MAX_INFLIGHT as usize,
            policy: Policy::Block,
            interval: DEFAULT_INTERVAL,
            batch_size: DEFAULT_BATCH_SIZE as usize,
            batch_timeout: Duration::ZERO,
            requests: DEFAULT_REQUESTS as usize,
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

/// The staged executor. Dropping it stops and joins its threads.
pub struct Executor {
    window: Arc<Window>,
    input: Sender<Msg<()>>,
    output: Receiver<(u64, Output)>,
    output_tx: Sender<(u64, Output)>,
    threads: Vec<JoinHandle<()>>,
}

impl Executor {
    /// Starts the three stage threads (named `{id}:pre`, `:infer`, `:post` after the log's id)
    /// for `stages`, admitting frames as `admission` says; decisions are logged to `log`.
    pub fn new<S: Stages>(log: Log, stages: Arc<S>, admission: Admission) -> Result<Self> {
        let batch_size = admission.batch_size.max(1);
        let name = log.id().to_owned();
        let window = Arc::new(Window::new(
            Admission {
                // A batch can only fill if that many frames may be inside; `requests` batches
                // in flight need that many, plus one frame each in pre- and post-processing.
                max_inflight: admission.max_inflight.max(1).max(batch_size.min(64)).max(
                    if admission.requests > 1 {
                        (admission.requests * batch_size).min(64) + 2
                    } else {
                        0
                    },
                ),
                requests: admission.requests.max(1),
                interval: admission.interval.max(1),
                batch_size,
                ..admission
            },
            log,
        ));
        let (input, pre_rx) = unbounded();
        let (pre_tx, infer_rx) = unbounded();
        let (infer_tx, post_rx) = unbounded();
        let (output_tx, output) = unbounded();
        let spawn = |stage: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("{name}:{stage}"))
                .spawn(f)
                .map_err(|e| Error::Invalid(format!("cannot start the {stage} thread: {e}")))
        };
        let (s, w) = (stages.clone(), window.clone());
        let pre = spawn(
            "pre",
            Box::new(move || stage::preprocess(&*s, &w, &pre_rx, &pre_tx)),
        )?;
        let (s, w) = (stages.clone(), window.clone());
        let infer = spawn(
            "infer",
            Box::new(move || stage::infer(&*s, &w, &infer_rx, &infer_tx)),
        )?;
        let (s, w, out) = (stages, window.clone(), output_tx.clone());
        let post = spawn(
            "post",
            Box::new(move || stage::postprocess(&*s, &w, &post_rx, &out)),
        )?;
        Ok(Self {
            window,
            input,
            output,
            output_tx,
            threads: vec![pre, infer, post],
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
        let arrived = std::time::Instant::now();
        match self.window.admit() {
            Decision::Flushing => Err(Flushing),
            Decision::Dropped => Ok(()),
            Decision::Enter { admitted, epoch } => self
                .input
                .send(Msg::Frame {
                    epoch,
                    job: Job::new(buffer, info, admitted, arrived),
                })
                .map_err(|_| Flushing),
        }
    }

    /// Enters a serialized event; it leaves after every frame submitted before it. `false` (the
    /// event is dropped) while flushing, as a flushing pad refuses serialized events.
    pub fn submit_event(&self, event: gst::Event) -> bool {
        let Some(epoch) = self.window.open_epoch() else {
            return false;
        };
        self.input.send(Msg::Event { epoch, event }).is_ok()
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
            if epoch == self.window.epoch() {
                match &out {
                    Output::Error(e) => {
                        self.window.log().debug(format_args!("frame failed: {e}"));
                        self.window.stats().failed += 1;
                        self.window.release(false);
                    }
                    Output::Event(e) if e.type_() == gst::EventType::Eos => {
                        let s = self.stats();
                        self.window.log().debug(format_args!(
                            "EOS after every frame before it: {} in, {} out, {} dropped, {} failed",
                            s.frames_in, s.frames_out, s.dropped, s.failed
                        ));
                    }
                    _ => {}
                }
                return out;
            }
            if let Output::Buffer(_) | Output::Error(_) = out {
                self.window.drop_stale(false);
            }
        }
    }

    /// A buffer from [`Output::Buffer`] has left (pushed downstream, or refused there).
    pub fn frame_done(&self) {
        self.window.stats().frame_out();
        self.window.release(false);
    }

    /// Starts a flush: frames inside are dropped and counted, `submit_frame` returns
    /// `Err(Flushing)` and `next_output` wakes.
    pub fn flush_start(&self) {
        self.window.log().debug(format_args!(
            "flush: {} frames inside are dropped",
            self.in_flight()
        ));
        self.window.begin_flush();
        let _ = self.output_tx.send((WAKE, Output::Wake));
    }

    /// Ends a flush: new frames are accepted again.
    pub fn flush_stop(&self) {
        // Drop what is already waiting at the output (older epoch).
        while let Ok((epoch, out)) = self.output.try_recv() {
            if epoch != WAKE && matches!(out, Output::Buffer(_) | Output::Error(_)) {
                self.window.drop_stale(false);
            }
        }
        self.window.end_flush();
        self.window.log().debug(format_args!("flush done"));
    }

    /// Whether a flush is in progress.
    pub fn is_flushing(&self) -> bool {
        self.window.is_flushing()
    }

    /// Blocks until no frame is inside (or a flush starts, or `timeout` passes).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.window.wait_idle(timeout)
    }

    /// Frames inside now.
    pub fn in_flight(&self) -> usize {
        self.window.in_flight()
    }

    /// Frames failed so far (a cheap read of one counter).
    pub fn failed(&self) -> u64 {
        self.window.stats().failed
    }

    /// Counters and latency percentiles so far.
    /// Changes the policy and the interval while frames flow; the frames inside keep the
    /// decisions already made for them.
    pub fn set_policy(&self, policy: Policy, interval: u32) {
        self.window.set_policy(policy, interval);
    }

    pub fn stats(&self) -> ExecutorStats {
        self.window.stats().snapshot()
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

#[cfg(test)]
mod tests;
