//! Sessions shared by name (`model-instance`): several elements of one process (e.g. one per
//! camera branch) naming the same instance use one loaded model instead of one copy each, and
//! their requests are batched together: a worker thread runs the model, and each run takes the
//! requests waiting at that moment up to the first request's `batch-size` items (at most
//! [`MAX_ITEMS`]), waiting for more no longer than its `batch-timeout-ms` (0: never holds a
//! stream back). With the default `batch-size` 1 each run serves one request: four camera
//! branches then hold one model and one run's memory (issue 27: merging every waiting request
//! into one run made ONNX Runtime's arena grow to the largest merged batch, 1.54 GB for four
//! Goliath-308 branches where four processes took 1.23 GB); a larger `batch-size` merges
//! streams for throughput, paying that memory.
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use super::FrameOutputs;
use super::{ModelSession, RuntimeOptions};
use crate::error::{Error, Result};
use crate::gather::{Take, gather};

/// Most items (crops or frames) merged into one run.
pub const MAX_ITEMS: usize = 64;

/// How an element runs its model: its own session, or a shared instance (with how long its
/// requests may wait for other elements' to join the run, its `batch-timeout-ms`, and the most
/// items a run started by its request takes, its `batch-size`).
#[derive(Clone)]
pub enum Runner {
    Own(Arc<ModelSession>),
    Shared(Arc<SharedSession>, Duration, usize),
}

impl Runner {
    pub fn session(&self) -> &Arc<ModelSession> {
        match self {
            Runner::Own(s) => s,
            Runner::Shared(s, _, _) => &s.session,
        }
    }

    /// [`ModelSession::run_frames`], through the shared worker when shared (owned data moves
    /// there without a copy; borrowed data is copied once).
    pub fn run_frames(
        &self,
        input: &str,
        outputs: &[String],
        frames: Vec<Cow<'_, [f32]>>,
        counts: &[usize],
        item_shape: &[usize],
    ) -> Result<Vec<FrameOutputs>> {
        match self {
            Runner::Own(s) => {
                let slices: Vec<&[f32]> = frames.iter().map(|f| &f[..]).collect();
                s.run_frames(input, outputs, &slices, counts, item_shape)
            }
            Runner::Shared(s, wait, max_items) => {
                let (reply, answer) = bounded(1);
                let request = Request {
                    deadline: Instant::now() + *wait,
                    max_items: (*max_items).clamp(1, MAX_ITEMS),
                    key: (input.to_owned(), outputs.to_vec(), item_shape.to_vec()),
                    data: frames.into_iter().map(Cow::into_owned).collect(),
                    counts: counts.to_vec(),
                    reply,
                };
                s.requests
                    .send(request)
                    .map_err(|_| Error::Inference("the shared session has stopped".into()))?;
                answer
                    .recv()
                    .map_err(|_| Error::Inference("the shared session has stopped".into()))?
                    .map_err(Error::Inference)
            }
        }
    }
}

type Key = (String, Vec<String>, Vec<usize>);

struct Request {
    /// Until when the run may wait for more requests.
    deadline: Instant,
    /// The most items of a run this request starts (its element's `batch-size`).
    max_items: usize,
    key: Key,
    data: Vec<Vec<f32>>,
    counts: Vec<usize>,
    reply: Sender<std::result::Result<Vec<FrameOutputs>, String>>,
}

/// Upper bounds of the items-per-run buckets of [`InstanceStats::items_hist`] (a last bucket
/// takes what is above).
pub const BATCH_BUCKETS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// What the worker of a shared session counts.
#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    /// Items (crops or frames) and requests (element runs) served.
    items: AtomicU64,
    requests: AtomicU64,
    /// Runs per number of items, by [`BATCH_BUCKETS`].
    items_hist: [AtomicU64; BATCH_BUCKETS.len() + 1],
}

/// A live shared session's figures (for monitoring: `sapiens serve`'s `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceStats {
    /// Its `model-instance` name.
    pub name: String,
    pub runs: u64,
    pub items: u64,
    pub requests: u64,
    /// Runs per number of items (not cumulative), by [`BATCH_BUCKETS`] and one above.
    pub items_hist: Vec<u64>,
    /// Requests waiting for the worker now.
    pub queued: usize,
}

/// One loaded session and the worker that batches the requests of every element using it.
pub struct SharedSession {
    pub session: Arc<ModelSession>,
    requests: Sender<Request>,
    counters: Arc<Counters>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl SharedSession {
    fn start(session: Arc<ModelSession>) -> Result<Self> {
        let (requests, rx) = unbounded();
        let counters = Arc::new(Counters::default());
        let (s, c) = (session.clone(), counters.clone());
        let worker = std::thread::Builder::new()
            .name("sapiens:shared".into())
            .spawn(move || work(&s, &rx, &c))
            .map_err(|e| Error::Invalid(format!("cannot start the shared-session thread: {e}")))?;
        Ok(Self {
            session,
            requests,
            counters,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Model runs so far (each may serve several elements' requests).
    pub fn runs(&self) -> u64 {
        self.counters.runs.load(Ordering::Relaxed)
    }

    fn stats(&self, name: &str) -> InstanceStats {
        let c = &self.counters;
        InstanceStats {
            name: name.to_owned(),
            runs: c.runs.load(Ordering::Relaxed),
            items: c.items.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            items_hist: c
                .items_hist
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect(),
            queued: self.requests.len(),
        }
    }
}

impl Drop for SharedSession {
    fn drop(&mut self) {
        // Closing the channel ends the worker.
        let (closed, _) = unbounded();
        self.requests = closed;
        if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

/// The worker: each run takes the waiting requests with the same tensors, up to the first one's
/// `max_items`.
fn work(session: &ModelSession, rx: &Receiver<Request>, counters: &Counters) {
    let mut next: Option<Request> = None;
    loop {
        let first = match next.take() {
            Some(r) => r,
            None => match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        let (key, deadline, limit) = (first.key.clone(), first.deadline, first.max_items);
        let (batch, closing) = gather(
            rx,
            first,
            limit,
            deadline,
            |r| r.counts.iter().sum(),
            |r| {
                if r.key == key {
                    Take::Join
                } else {
                    Take::Close
                }
            },
        );
        next = closing;
        let (input, outputs, shape) = &batch[0].key;
        let frames: Vec<&[f32]> = batch
            .iter()
            .flat_map(|r| r.data.iter().map(|d| &d[..]))
            .collect();
        let counts: Vec<usize> = batch
            .iter()
            .flat_map(|r| r.counts.iter().copied())
            .collect();
        let result = session.run_frames(input, outputs, &frames, &counts, shape);
        let items: usize = counts.iter().sum();
        let bucket = BATCH_BUCKETS
            .iter()
            .position(|&b| items <= b)
            .unwrap_or(BATCH_BUCKETS.len());
        counters.items_hist[bucket].fetch_add(1, Ordering::Relaxed);
        counters.items.fetch_add(items as u64, Ordering::Relaxed);
        counters
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters.runs.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(slices) => {
                let mut slices = slices.into_iter();
                for r in batch {
                    let mine: Vec<FrameOutputs> = slices.by_ref().take(r.counts.len()).collect();
                    let _ = r.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for r in batch {
                    let _ = r.reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

type Registry = HashMap<String, (PathBuf, RuntimeOptions, Weak<SharedSession>)>;

static INSTANCES: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// The shared session named `instance`: the live one when it exists (it must be the same model
/// with the same options), else a newly loaded one. It is unloaded with its last element.
pub fn session(instance: &str, path: &Path, opts: &RuntimeOptions) -> Result<Arc<SharedSession>> {
    let mut reg = INSTANCES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((loaded_path, loaded_opts, weak)) = reg.get(instance)
        && let Some(shared) = weak.upgrade()
    {
        // The batch size only shapes TensorRT's profile: elements batching differently share.
        let same = |a: &RuntimeOptions, b: &RuntimeOptions| {
            RuntimeOptions {
                batch_size: 0,
                ..a.clone()
            } == RuntimeOptions {
                batch_size: 0,
                ..b.clone()
            }
        };
        if loaded_path != path || !same(loaded_opts, opts) {
            return Err(Error::Invalid(format!(
                "model-instance '{instance}' is already loaded from {} ({loaded_opts:?}); this element asks for {} ({opts:?})",
                loaded_path.display(),
                path.display()
            )));
        }
        return Ok(shared);
    }
    let shared = Arc::new(SharedSession::start(Arc::new(ModelSession::load(
        path, opts,
    )?))?);
    reg.insert(
        instance.to_owned(),
        (path.to_owned(), opts.clone(), Arc::downgrade(&shared)),
    );
    Ok(shared)
}

/// The figures of every live shared session, by name.
pub fn instances() -> Vec<InstanceStats> {
    let reg = INSTANCES.lock().unwrap_or_else(|p| p.into_inner());
    let mut all: Vec<InstanceStats> = reg
        .iter()
        .filter_map(|(name, (_, _, w))| Some(w.upgrade()?.stats(name)))
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// Model runs of the live shared session `instance`, if any.
pub fn runs(instance: &str) -> Option<u64> {
    let reg = INSTANCES.lock().unwrap_or_else(|p| p.into_inner());
    reg.get(instance)
        .and_then(|(_, _, w)| w.upgrade())
        .map(|s| s.runs())
}
