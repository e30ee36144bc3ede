//! What an inference element tells the pipeline about itself: the latency it adds (LATENCY
//! query, re-announced when the measured value grows) and its stats as periodic bus messages.
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::stats;
use crate::pipelining::Executor;

/// Frames between checks of the measured latency.
const CHECK_EVERY: u64 = 16;
/// Sentinel for "latency measured, not fixed".
const MEASURED: u64 = u64::MAX;

pub struct Reporter {
    /// Latency from the `latency-ms` property, ns, or [`MEASURED`].
    fixed_ns: AtomicU64,
    /// What the last LATENCY answer added, ns.
    reported_ns: AtomicU64,
    stats_interval_ms: AtomicU32,
    last_stats: Mutex<Instant>,
    frames: AtomicU64,
}

impl Default for Reporter {
    fn default() -> Self {
        Self {
            fixed_ns: AtomicU64::new(MEASURED),
            reported_ns: AtomicU64::new(0),
            stats_interval_ms: AtomicU32::new(0),
            last_stats: Mutex::new(Instant::now()),
            frames: AtomicU64::new(0),
        }
    }
}

impl Reporter {
    /// Applies the `latency-ms` (ns, `None` = measured) and `stats-interval-ms` properties.
    pub fn configure(&self, latency_ns: Option<u64>, stats_interval_ms: u32) {
        self.fixed_ns
            .store(latency_ns.unwrap_or(MEASURED), Ordering::Relaxed);
        self.stats_interval_ms
            .store(stats_interval_ms, Ordering::Relaxed);
    }

    /// The latency this element adds: the property's, else the measured p95 time a frame spends
    /// inside (0 before any frame). Remembered as the reported value.
    pub fn latency(&self, executor: Option<&Executor>) -> gst::ClockTime {
        let fixed = self.fixed_ns.load(Ordering::Relaxed);
        let ns = if fixed != MEASURED {
            fixed
        } else {
            executor.map_or(0, |e| (e.stats().total.p95_ms * 1e6) as u64)
        };
        self.reported_ns.store(ns, Ordering::Relaxed);
        gst::ClockTime::from_nseconds(ns)
    }

    /// After each frame pushed: posts a LATENCY message when the measured latency outgrew the
    /// reported one (by > 25 % and 5 ms), and the stats as an element message when due.
    pub fn after_frame(&self, element: &gst::Element, executor: &Executor) {
        let n = self.frames.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(CHECK_EVERY) && self.fixed_ns.load(Ordering::Relaxed) == MEASURED {
            let measured = executor.stats().total.p95_ms * 1e6;
            let reported = self.reported_ns.load(Ordering::Relaxed) as f64;
            if measured > reported * 1.25 + 5e6 {
                self.reported_ns.store(measured as u64, Ordering::Relaxed);
                let _ = element.post_message(gst::message::Latency::builder().src(element).build());
            }
        }
        let period = self.stats_interval_ms.load(Ordering::Relaxed);
        if period > 0 {
            let mut last = self.last_stats.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= Duration::from_millis(period as u64) {
                *last = Instant::now();
                let s = stats::to_structure(&executor.stats());
                let _ =
                    element.post_message(gst::message::Element::builder(s).src(element).build());
            }
        }
    }
}
