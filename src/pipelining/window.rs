//! The window: which frames are inside the executor, and the admission decisions over it. Every
//! count the executor keeps changes here, under one lock.
//!
//! Invariants (with the lock held):
//! - `in_flight` = frames submitted and not yet gone (pushed, dropped, flushed or failed);
//! - `working` = those of them that will be inferred and have not finished post-processing;
//!   `working ≤ in_flight`, and `working ≤ max_inflight` except while a flush empties the window;
//! - `waiting` holds the drop flags of working frames that pre-processing has not started, oldest
//!   first: the only frames the `Drop` policy may still drop;
//! - `in_flight ≤ 2·max_inflight + 2`: frames done but waiting for downstream (or, under
//!   `Skip`, carried frames waiting behind inferred ones to leave in order) are bounded too: a
//!   full backlog makes `Block` wait and `Drop`/`Skip` drop the new frame, so a live source never
//!   sees the delay grow.
//!
//! Every frame in is counted exactly once as out, flushed, failed or dropped ([`Recorder`]).
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::stats::Recorder;
use super::{Admission, Log, Policy};

/// A frame's place in the window, set when it is admitted.
#[derive(Debug)]
pub(super) enum Admitted {
    /// To be inferred; `dropped` is set if the `Drop` policy drops it before pre-processing.
    Infer { dropped: Arc<AtomicBool> },
    /// Passes without inference, carrying the last results (`interval` or the `Skip` policy).
    Carry,
}

/// What `admit` decided for a new frame.
pub(super) enum Decision {
    /// Enters the executor, tagged with the flush epoch it was admitted in (read under the same
    /// lock a flush takes to start a new one: a frame admitted before a flush is always stale
    /// after it, even when it is sent on after the flush has started).
    Enter { admitted: Admitted, epoch: u64 },
    /// Dropped at once by the `Drop` policy (counted).
    Dropped,
    /// A flush is in progress: the frame is refused.
    Flushing,
}

struct Counts {
    in_flight: usize,
    working: usize,
    waiting: VecDeque<Arc<AtomicBool>>,
    /// Frames submitted so far (for `interval`).
    seen: u64,
    flushing: bool,
    /// The admission's policy and interval now: they change while frames flow
    /// ([`Window::set_policy`]), the rest of the admission does not.
    policy: Policy,
    interval: u32,
}

/// The window and what every stage thread shares: admission settings, the flush epoch, stats.
pub(super) struct Window {
    counts: Mutex<Counts>,
    changed: Condvar,
    pub(super) admission: Admission,
    epoch: AtomicU64,
    stats: Mutex<Recorder>,
    log: Log,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Window {
    pub(super) fn new(admission: Admission, log: Log) -> Self {
        Self {
            counts: Mutex::new(Counts {
                in_flight: 0,
                working: 0,
                waiting: VecDeque::new(),
                seen: 0,
                flushing: false,
                policy: admission.policy,
                interval: admission.interval.max(1),
            }),
            changed: Condvar::new(),
            admission,
            epoch: AtomicU64::new(0),
            stats: Mutex::new(Recorder::default()),
            log,
        }
    }

    pub(super) fn log(&self) -> &Log {
        &self.log
    }

    pub(super) fn stats(&self) -> MutexGuard<'_, Recorder> {
        locked(&self.stats)
    }

    /// The policy now.
    pub(super) fn policy(&self) -> Policy {
        locked(&self.counts).policy
    }

    /// Changes the policy and the interval for the frames from now on (a frame waiting under
    /// `Block` is decided again under the new policy).
    pub(super) fn set_policy(&self, policy: Policy, interval: u32) {
        let mut c = locked(&self.counts);
        if (c.policy, c.interval) != (policy, interval.max(1)) {
            self.log.debug(format_args!(
                "admission now: policy {}, interval {}",
                policy.as_str(),
                interval.max(1)
            ));
        }
        c.policy = policy;
        c.interval = interval.max(1);
        drop(c);
        self.changed.notify_all();
    }

    /// The current flush epoch: items of an older one are stale.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The current epoch, `None` while flushing (read under the lock a flush takes).
    pub(super) fn open_epoch(&self) -> Option<u64> {
        let c = locked(&self.counts);
        (!c.flushing).then(|| self.epoch())
    }

    /// Decides a new frame's fate (blocking while the window is full and the policy waits):
    /// every Nth frame (`interval`) is to be inferred; when `max_inflight` frames are being
    /// inferred, `Block` waits, `Drop` drops the oldest frame still waiting for pre-processing
    /// (else this one), `Skip` lets this one through carrying the last results.
    pub(super) fn admit(&self) -> Decision {
        let a = self.admission;
        let mut c = locked(&self.counts);
        let mut infer = c.seen.is_multiple_of(c.interval as u64);
        c.seen += 1;
        loop {
            if c.flushing {
                return Decision::Flushing;
            }
            let full = c.working >= a.max_inflight;
            let backlog = c.in_flight >= 2 * a.max_inflight + 2;
            if backlog && c.policy != Policy::Block {
                // Live policies never wait: with the output backlog full, the new frame is
                // dropped (counted), so the delay through the element stays bounded.
                drop(c);
                let mut st = self.stats();
                st.frame_in();
                st.dropped += 1;
                drop(st);
                self.log.debug(format_args!(
                    "drop: output backlog full ({} frames inside), dropped the new frame",
                    2 * a.max_inflight + 2
                ));
                return Decision::Dropped;
            }
            if backlog || (infer && full && c.policy == Policy::Block) {
                c = self.changed.wait(c).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            if infer && full {
                match c.policy {
                    Policy::Skip => {
                        self.log.debug(format_args!(
                            "skip: {} frames being inferred, the new frame carries the last results",
                            c.working
                        ));
                        infer = false;
                    }
                    Policy::Drop => match c.waiting.pop_front() {
                        Some(oldest) => {
                            oldest.store(true, Ordering::Release);
                            c.in_flight -= 1;
                            c.working -= 1;
                            self.stats().dropped += 1;
                            self.log.debug(format_args!(
                                "drop: window full, dropped the oldest frame waiting for pre-processing"
                            ));
                            continue;
                        }
                        None => {
                            drop(c);
                            let mut st = self.stats();
                            st.frame_in();
                            st.dropped += 1;
                            self.log.debug(format_args!(
                                "drop: window full and none waiting, dropped the new frame"
                            ));
                            return Decision::Dropped;
                        }
                    },
                    Policy::Block => unreachable!("Block waited above"),
                }
            }
            break;
        }
        c.in_flight += 1;
        let admitted = if infer {
            let dropped = Arc::new(AtomicBool::new(false));
            c.working += 1;
            c.waiting.push_back(dropped.clone());
            Admitted::Infer { dropped }
        } else {
            Admitted::Carry
        };
        let epoch = self.epoch();
        drop(c);
        self.stats().frame_in();
        Decision::Enter { admitted, epoch }
    }

    /// Pre-processing starts a frame: `false` when the `Drop` policy already dropped it (its slot
    /// is freed and it is counted).
    pub(super) fn start(&self, dropped: &AtomicBool) -> bool {
        let mut c = locked(&self.counts);
        if dropped.load(Ordering::Acquire) {
            return false;
        }
        if let Some(i) = c
            .waiting
            .iter()
            .position(|f| std::ptr::eq(Arc::as_ptr(f), dropped))
        {
            c.waiting.remove(i);
        }
        true
    }

    /// A frame to be inferred has finished its stages (post-processed, or failed).
    pub(super) fn release_working(&self) {
        let mut c = locked(&self.counts);
        c.working = c.working.saturating_sub(1);
        self.changed.notify_all();
    }

    /// A frame has left (or is gone); `working` when it still held an inference slot.
    pub(super) fn release(&self, working: bool) {
        let mut c = locked(&self.counts);
        c.in_flight = c.in_flight.saturating_sub(1);
        if working {
            c.working = c.working.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// A frame of an old epoch was dropped in a stage.
    pub(super) fn drop_stale(&self, working: bool) {
        self.stats().flushed += 1;
        self.release(working);
    }

    /// Starts a flush: a new epoch, and admission refuses frames until [`Window::end_flush`].
    pub(super) fn begin_flush(&self) {
        let mut c = locked(&self.counts);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        c.flushing = true;
        self.changed.notify_all();
    }

    pub(super) fn end_flush(&self) {
        let mut c = locked(&self.counts);
        c.flushing = false;
        self.changed.notify_all();
    }

    pub(super) fn is_flushing(&self) -> bool {
        locked(&self.counts).flushing
    }

    pub(super) fn in_flight(&self) -> usize {
        locked(&self.counts).in_flight
    }

    /// Blocks until no frame is inside (or a flush starts, or `timeout` passes).
    pub(super) fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut c = locked(&self.counts);
        while c.in_flight > 0 && !c.flushing {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            c = self
                .changed
                .wait_timeout(c, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        c.in_flight == 0
    }
}
