//! The three stage threads and what travels between them. Each stage takes messages in order
//! from its channel; frames of an older flush epoch are dropped (counted) wherever they are.
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::stats::Stage;
use super::window::{Admitted, Window};
use super::{Output, Stages};
use crate::error::{Error, Result};
use crate::gather::{Take, gather};
use crate::meta;

/// What a frame carries through the stages.
pub(super) enum Work<T> {
    /// To be inferred: the stage's data (`()` before pre-processing); `dropped` as admitted.
    Infer { data: T, dropped: Arc<AtomicBool> },
    /// Passes without inference, carrying the last results.
    Carry,
}

pub(super) struct Job<T> {
    pub(super) buffer: gst::Buffer,
    pub(super) info: Arc<gst_video::VideoInfo>,
    pub(super) entered: Instant,
    pub(super) work: Work<T>,
}

impl Job<()> {
    /// A frame admitted into the window; `arrived` is when it reached the element, before any
    /// wait for admission, so that latency figures include that wait.
    pub(super) fn new(
        buffer: gst::Buffer,
        info: Arc<gst_video::VideoInfo>,
        admitted: Admitted,
        arrived: Instant,
    ) -> Self {
        let work = match admitted {
            Admitted::Infer { dropped } => Work::Infer { data: (), dropped },
            Admitted::Carry => Work::Carry,
        };
        Self {
            buffer,
            info,
            entered: arrived,
            work,
        }
    }
}

impl<T> Job<T> {
    /// Whether the frame holds an inference slot.
    fn working(&self) -> bool {
        matches!(self.work, Work::Infer { .. })
    }

    /// A carried frame re-typed for the next stage (`None` for a frame to be inferred).
    fn carried<U>(self) -> Option<Job<U>> {
        match self.work {
            Work::Infer { .. } => None,
            Work::Carry => Some(Job {
                buffer: self.buffer,
                info: self.info,
                entered: self.entered,
                work: Work::Carry,
            }),
        }
    }

    /// The same frame with its data turned into the next stage's by `f` (carried frames pass).
    fn then<U>(self, f: impl FnOnce(T) -> Result<U>) -> Result<Job<U>> {
        let work = match self.work {
            Work::Infer { data, dropped } => Work::Infer {
                data: f(data)?,
                dropped,
            },
            Work::Carry => Work::Carry,
        };
        Ok(Job {
            buffer: self.buffer,
            info: self.info,
            entered: self.entered,
            work,
        })
    }
}

pub(super) enum Msg<T> {
    Frame {
        epoch: u64,
        job: Job<T>,
    },
    Event {
        epoch: u64,
        event: gst::Event,
    },
    /// A frame lost in a stage; `working` when it held an inference slot. `frame` is the frame
    /// itself when pre-processing or inference failed (`policy=skip` passes it on carrying the
    /// last results).
    Failed {
        epoch: u64,
        error: Error,
        working: bool,
        frame: Option<(gst::Buffer, Arc<gst_video::VideoInfo>)>,
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
                frame,
            } => Some(Msg::Failed {
                epoch,
                error,
                working,
                frame,
            }),
            Msg::Stop => Some(Msg::Stop),
        }
    }
}

/// Passes a non-frame message to the next stage; `true` when it was `Stop`.
fn pass_on<A, B>(msg: Msg<A>, emit: &impl Fn(Msg<B>)) -> bool {
    let stop = matches!(msg, Msg::Stop);
    if let Some(m) = msg.pass() {
        emit(m);
    }
    stop
}

/// A sender as an `emit` function (a closed channel means the executor is gone).
fn sender<T>(tx: &Sender<T>) -> impl Fn(T) + '_ {
    move |m| {
        let _ = tx.send(m);
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

/// One stage's loop: runs `work` on current frames that `starts` (timed when inferred), drops
/// stale ones, passes everything else on in order.
fn run_stage<A, B>(
    rx: &Receiver<Msg<A>>,
    window: &Window,
    stage: Stage,
    starts: impl Fn(&Job<A>) -> bool,
    work: impl Fn(Job<A>) -> Result<Job<B>>,
    emit: impl Fn(Msg<B>),
) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Frame { job, .. } if !starts(&job) => {}
            Msg::Frame { epoch, job } if epoch != window.epoch() => {
                window.drop_stale(job.working())
            }
            Msg::Frame { epoch, job } => {
                let t = Instant::now();
                let working = job.working();
                // Pre-processing only reads the frame: keep it, so a failure can still pass it
                // on (a second reference during post-processing would copy the frame).
                let keep = (stage == Stage::Pre).then(|| (job.buffer.clone(), job.info.clone()));
                let out = match guarded(stage, || work(job)) {
                    Ok(job) => {
                        drop(keep);
                        Msg::Frame { epoch, job }
                    }
                    Err(error) => Msg::Failed {
                        epoch,
                        error,
                        working,
                        frame: keep,
                    },
                };
                if working {
                    window.stats().record(stage, t.elapsed());
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

/// Pre-processing: frame → model input. A frame the `Drop` policy dropped while it waited does
/// not start (its slot was freed and it was counted when it was dropped).
pub(super) fn preprocess<S: Stages>(
    stages: &S,
    window: &Window,
    rx: &Receiver<Msg<()>>,
    next: &Sender<Msg<S::Pre>>,
) {
    let starts = |job: &Job<()>| match &job.work {
        Work::Infer { dropped, .. } => window.start(dropped),
        Work::Carry => true,
    };
    let work = |job: Job<()>| {
        let (buffer, info) = (job.buffer.clone(), job.info.clone());
        job.then(|()| stages.preprocess(&buffer, &info))
    };
    run_stage(rx, window, Stage::Pre, starts, work, sender(next));
}

/// Where the inference loop sends what it makes: items in order, and batches to run.
trait InferSink<S: Stages> {
    /// An item that needs no model run (event, carried frame, stop), in its place.
    fn pass(&self, msg: Msg<S::Inferred>);
    /// A batch to run; its frames leave in their place.
    fn run(&self, epoch: u64, batch: Vec<Msg<S::Pre>>);
}

/// One request in flight: batches run on the inference thread itself.
struct Inline<'a, S: Stages> {
    stages: &'a S,
    window: &'a Window,
    next: &'a Sender<Msg<S::Inferred>>,
}

impl<S: Stages> InferSink<S> for Inline<'_, S> {
    fn pass(&self, msg: Msg<S::Inferred>) {
        let _ = self.next.send(msg);
    }
    fn run(&self, epoch: u64, batch: Vec<Msg<S::Pre>>) {
        for m in run_batch(self.stages, self.window, epoch, batch) {
            let _ = self.next.send(m);
        }
    }
}

/// An item of the order queue: ready now, or a batch's results once its request answers.
enum Pending<T> {
    Now(Msg<T>),
    Later(Receiver<Vec<Msg<T>>>),
}

/// A batch handed to a request thread: its epoch, its frames, and where its results go.
type RequestJob<S> = (
    u64,
    Vec<Msg<<S as Stages>::Pre>>,
    Sender<Vec<Msg<<S as Stages>::Inferred>>>,
);

/// Several requests in flight: batches run on request threads; the order queue (one slot fewer
/// than requests: the forwarder holds the oldest) hands their results on in input order.
struct Pool<'a, S: Stages> {
    order: Sender<Pending<S::Inferred>>,
    jobs: &'a Sender<RequestJob<S>>,
}

impl<S: Stages> InferSink<S> for Pool<'_, S> {
    fn pass(&self, msg: Msg<S::Inferred>) {
        let _ = self.order.send(Pending::Now(msg));
    }
    fn run(&self, epoch: u64, batch: Vec<Msg<S::Pre>>) {
        let (reply, answer) = crossbeam_channel::bounded(1);
        // Blocks while `requests` batches are unanswered: at most that many run at once.
        let _ = self.order.send(Pending::Later(answer));
        let _ = self.jobs.send((epoch, batch, reply));
    }
}

/// Inference: gathers frames into batches of up to `batch_size` weight, waiting at most
/// `batch_timeout` after the first; anything that is not a current frame to be inferred (an
/// event, a carried or stale frame, a failure) closes the batch first, so order holds. With
/// `requests` > 1, that many batches run at once on request threads (`{id}:req{n}`) and a
/// forwarder (`{id}:order`) passes their results on in input order.
pub(super) fn infer<S: Stages>(
    stages: &S,
    window: &Window,
    rx: &Receiver<Msg<S::Pre>>,
    next: &Sender<Msg<S::Inferred>>,
) {
    let requests = window.admission.requests.max(1);
    let inline = Inline {
        stages,
        window,
        next,
    };
    if requests == 1 {
        return infer_loop(stages, window, rx, &inline);
    }
    let id = window.log().id().to_owned();
    std::thread::scope(|scope| {
        let (jobs, job_rx) = crossbeam_channel::unbounded();
        let (order, order_rx) = crossbeam_channel::bounded(requests - 1);
        let spawn = |name: String, f| spawn_scoped(scope, name, f, window);
        let forwarder = spawn(
            format!("{id}:order"),
            Box::new(move || {
                while let Ok(p) = order_rx.recv() {
                    let msgs = match p {
                        Pending::Now(m) => vec![m],
                        // Every job taken is answered (run_batch turns panics into failures);
                        // jobs not taken are answered when the channel closes at the end.
                        Pending::Later(answer) => answer.recv().unwrap_or_default(),
                    };
                    for m in msgs {
                        let _ = next.send(m);
                    }
                }
            }),
        );
        let started = (0..requests)
            .filter(|n| {
                let job_rx: Receiver<RequestJob<S>> = job_rx.clone();
                spawn(
                    format!("{id}:req{n}"),
                    Box::new(move || {
                        while let Ok((epoch, batch, reply)) = job_rx.recv() {
                            let _ = reply.send(run_batch(stages, window, epoch, batch));
                        }
                    }),
                )
            })
            .count();
        if forwarder && started > 0 {
            infer_loop(stages, window, rx, &Pool::<S> { order, jobs: &jobs });
        } else {
            // No threads to hand batches to: run them here, one at a time.
            drop(order);
            infer_loop(stages, window, rx, &inline);
        }
        // Leaving the scope closes the channels and joins the threads.
        drop(jobs);
    });
}

/// Starts a named scoped thread; `false` (logged) when the system refuses one.
fn spawn_scoped<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: Box<dyn FnOnce() + Send + 'scope>,
    window: &Window,
) -> bool {
    match std::thread::Builder::new()
        .name(name.clone())
        .spawn_scoped(scope, f)
    {
        Ok(_) => true,
        Err(e) => {
            window
                .log()
                .debug(format_args!("cannot start thread {name}: {e}"));
            false
        }
    }
}

/// The inference stage's loop (see [`infer`]): batches go to `sink.run`, the rest to `sink.pass`.
fn infer_loop<S: Stages>(
    stages: &S,
    window: &Window,
    rx: &Receiver<Msg<S::Pre>>,
    sink: &impl InferSink<S>,
) {
    let a = window.admission;
    let mut pending: Option<Msg<S::Pre>> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        let epoch = window.epoch();
        let batchable = |m: &Msg<S::Pre>| matches!(m, Msg::Frame { epoch: e, job } if *e == epoch && job.working());
        if !batchable(&msg) {
            match msg {
                Msg::Frame { epoch: e, job } if e != epoch => window.drop_stale(job.working()),
                Msg::Frame { epoch, job } => {
                    if let Some(job) = job.carried() {
                        sink.pass(Msg::Frame { epoch, job });
                    }
                }
                other => {
                    if pass_on(other, &|m| sink.pass(m)) {
                        return;
                    }
                }
            }
            continue;
        }
        let weight = |m: &Msg<S::Pre>| match m {
            Msg::Frame {
                job:
                    Job {
                        work: Work::Infer { data, .. },
                        ..
                    },
                ..
            } => stages.weight(data),
            _ => 0,
        };
        let started = Instant::now();
        let deadline = started + a.batch_timeout;
        let (batch, closing) = gather(rx, msg, a.batch_size, deadline, weight, |m| {
            if batchable(m) {
                Take::Join
            } else {
                Take::Close
            }
        });
        if window.log().logs() {
            let w: usize = batch.iter().map(weight).sum();
            window.log().log(format_args!(
                "batch of {} frames (weight {w} of {}), gathered in {:.1} ms{}",
                batch.len(),
                a.batch_size,
                started.elapsed().as_secs_f64() * 1e3,
                if closing.is_some() {
                    ", closed by the next item"
                } else {
                    ""
                }
            ));
        }
        pending = closing;
        sink.run(epoch, batch);
    }
}

/// Runs one batch: each frame with its own result, or every frame failed.
fn run_batch<S: Stages>(
    stages: &S,
    window: &Window,
    epoch: u64,
    batch: Vec<Msg<S::Pre>>,
) -> Vec<Msg<S::Inferred>> {
    let mut jobs = Vec::with_capacity(batch.len());
    let mut inputs = Vec::with_capacity(batch.len());
    for msg in batch {
        if let Msg::Frame {
            job:
                Job {
                    buffer,
                    info,
                    entered,
                    work: Work::Infer { data, dropped },
                },
            ..
        } = msg
        {
            inputs.push(data);
            jobs.push((buffer, info, entered, dropped));
        }
    }
    let n = jobs.len();
    let t = Instant::now();
    window.stats().runs += 1;
    let outputs = guarded(Stage::Infer, || stages.infer(inputs)).and_then(|outs| {
        if outs.len() == n {
            Ok(outs)
        } else {
            Err(Error::Inference(format!(
                "inference returned {} results for a batch of {n}",
                outs.len()
            )))
        }
    });
    match outputs {
        Ok(outs) => {
            let elapsed = t.elapsed();
            jobs.into_iter()
                .zip(outs)
                .map(|((buffer, info, entered, dropped), data)| {
                    window.stats().record(Stage::Infer, elapsed);
                    let job = Job {
                        buffer,
                        info,
                        entered,
                        work: Work::Infer { data, dropped },
                    };
                    Msg::Frame { epoch, job }
                })
                .collect()
        }
        Err(e) => {
            let msg = e.to_string();
            jobs.into_iter()
                .map(|(buffer, info, ..)| Msg::Failed {
                    epoch,
                    error: Error::Inference(msg.clone()),
                    working: true,
                    frame: Some((buffer, info)),
                })
                .collect()
        }
    }
}

/// Post-processing: model output → result on the frame; carried frames get the last results.
/// Sends every frame, event and failure to the output in order; a finished inferred frame (or a
/// failed one) frees its inference slot here.
pub(super) fn postprocess<S: Stages>(
    stages: &S,
    window: &Window,
    rx: &Receiver<Msg<S::Inferred>>,
    output: &Sender<(u64, Output)>,
) {
    let last = std::cell::RefCell::new(Vec::new());
    let work = |job: Job<S::Inferred>| -> Result<Job<()>> {
        let Job {
            mut buffer,
            info,
            entered,
            work,
        } = job;
        let b = buffer.make_mut();
        let work = match work {
            Work::Infer { data, dropped } => {
                stages.postprocess(data, b, &info)?;
                window.release_working();
                *last.borrow_mut() = meta::snapshot(b, stages.result_metas());
                Work::Infer { data: (), dropped }
            }
            Work::Carry => {
                stages.carry(b, &info, &last.borrow())?;
                window.stats().carried += 1;
                if window.log().logs() {
                    window
                        .log()
                        .log(format_args!("frame {:?} carries the last results", b.pts()));
                }
                Work::Carry
            }
        };
        window.stats().record(Stage::Total, entered.elapsed());
        Ok(Job {
            buffer,
            info,
            entered,
            work,
        })
    };
    let emit = |msg: Msg<()>| {
        let item = match msg {
            Msg::Frame { epoch, job } => (epoch, Output::Buffer(job.buffer)),
            Msg::Event { epoch, event } => (epoch, Output::Event(event)),
            Msg::Failed {
                epoch,
                error,
                working,
                frame,
            } => {
                if working {
                    window.release_working();
                }
                match frame {
                    Some((buffer, info)) if window.policy() == super::Policy::Skip => (
                        epoch,
                        carry_failed(stages, window, buffer, &info, &last.borrow(), error),
                    ),
                    _ => (epoch, Output::Error(error)),
                }
            }
            Msg::Stop => return,
        };
        let _ = output.send(item);
    };
    run_stage(rx, window, Stage::Post, |_| true, work, emit);
}

/// `policy=skip`: a frame whose inference failed leaves carrying the last results (counted as
/// failed and carried), so a live stream goes on while the model cannot answer.
fn carry_failed<S: Stages>(
    stages: &S,
    window: &Window,
    mut buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
    last: &[(&'static str, gst::Structure)],
    error: Error,
) -> Output {
    match stages.carry(buffer.make_mut(), info, last) {
        Ok(()) => {
            let mut stats = window.stats();
            stats.failed += 1;
            stats.carried += 1;
            drop(stats);
            window.log().debug(format_args!(
                "frame {:?} failed ({error}); it carries the last results",
                buffer.pts()
            ));
            Output::Buffer(buffer)
        }
        Err(e) => Output::Error(Error::Inference(format!("{error}; carrying results: {e}"))),
    }
}
