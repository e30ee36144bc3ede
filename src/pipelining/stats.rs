//! Counters and per-stage latency percentiles of an executor.
use std::time::{Duration, Instant};

/// A pipeline stage (or the whole trip through the element).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pre,
    Infer,
    Post,
    /// Entry to the end of post-processing.
    Total,
}

impl Stage {
    /// The name used in errors and logs.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Pre => "pre-process",
            Stage::Infer => "inference",
            Stage::Post => "post-process",
            Stage::Total => "element",
        }
    }
}

/// Latencies of one stage, milliseconds, over the last [`WINDOW`] frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct LatencySummary {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// A snapshot of an executor's counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExecutorStats {
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames dropped by a flush (seek, stop).
    pub flushed: u64,
    /// Frames lost to an error in a stage.
    pub failed: u64,
    /// Frames dropped by the `drop` policy while the element was behind a live source.
    pub dropped: u64,
    /// Frames that skipped inference (`skip` policy or `interval`) and carry the last results.
    pub carried: u64,
    /// Model runs (batches); inferred frames / runs is the mean batch.
    pub runs: u64,
    /// Output frames per second between the first frame in and the last frame out.
    pub fps: f64,
    pub pre: LatencySummary,
    pub infer: LatencySummary,
    pub post: LatencySummary,
    pub total: LatencySummary,
    /// Every model run's time since the start (not a window): for monitoring systems that
    /// aggregate over time and streams (Prometheus histograms).
    pub infer_hist: Histogram,
    /// Every frame's time in the element since the start.
    pub total_hist: Histogram,
}

/// Upper bounds (ms) of the [`Histogram`] buckets; a last bucket takes what is above.
pub const BUCKETS_MS: [f64; 14] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10_000.0,
    30_000.0,
];

/// Counts of durations per bucket of [`BUCKETS_MS`] (not cumulative; one more bucket than
/// bounds, for what is above the last), and their sum.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Histogram {
    pub counts: Vec<u64>,
    pub sum_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS_MS.len() + 1],
            sum_ms: 0.0,
        }
    }
}

impl Histogram {
    /// Counts `ms` in the first bucket whose upper bound it does not exceed.
    pub fn add(&mut self, ms: f64) {
        let i = BUCKETS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(BUCKETS_MS.len());
        self.counts[i] += 1;
        self.sum_ms += ms;
    }

    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Samples kept per stage.
pub const WINDOW: usize = 4096;

#[derive(Default)]
struct Ring {
    samples: Vec<f64>,
    next: usize,
}

impl Ring {
    fn push(&mut self, ms: f64) {
        if self.samples.len() < WINDOW {
            self.samples.push(ms);
        } else {
            self.samples[self.next] = ms;
            self.next = (self.next + 1) % WINDOW;
        }
    }

    fn summary(&self) -> LatencySummary {
        LatencySummary::of(self.samples.clone())
    }
}

impl LatencySummary {
    /// Mean and nearest-rank percentiles of `ms` (all zero when empty).
    pub fn of(mut ms: Vec<f64>) -> Self {
        if ms.is_empty() {
            return Self::default();
        }
        ms.sort_by(f64::total_cmp);
        let pct =
            |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Self {
            mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
            p50_ms: pct(50.0),
            p95_ms: pct(95.0),
            p99_ms: pct(99.0),
        }
    }
}

#[derive(Default)]
pub(super) struct Recorder {
    frames_in: u64,
    frames_out: u64,
    pub(super) flushed: u64,
    pub(super) failed: u64,
    pub(super) dropped: u64,
    pub(super) carried: u64,
    pub(super) runs: u64,
    first_in: Option<Instant>,
    last_out: Option<Instant>,
    rings: [Ring; 4],
    infer_hist: Histogram,
    total_hist: Histogram,
}

impl Recorder {
    pub(super) fn frame_in(&mut self) {
        self.frames_in += 1;
        self.first_in.get_or_insert_with(Instant::now);
    }

    pub(super) fn frame_out(&mut self) {
        self.frames_out += 1;
        self.last_out = Some(Instant::now());
    }

    pub(super) fn record(&mut self, stage: Stage, d: Duration) {
        let ms = d.as_secs_f64() * 1e3;
        self.rings[stage as usize].push(ms);
        match stage {
            Stage::Infer => self.infer_hist.add(ms),
            Stage::Total => self.total_hist.add(ms),
            Stage::Pre | Stage::Post => {}
        }
    }

    pub(super) fn snapshot(&self) -> ExecutorStats {
        let fps = match (self.first_in, self.last_out) {
            (Some(a), Some(b)) if b > a => self.frames_out as f64 / (b - a).as_secs_f64(),
            _ => 0.0,
        };
        ExecutorStats {
            frames_in: self.frames_in,
            frames_out: self.frames_out,
            flushed: self.flushed,
            failed: self.failed,
            dropped: self.dropped,
            carried: self.carried,
            runs: self.runs,
            fps,
            pre: self.rings[0].summary(),
            infer: self.rings[1].summary(),
            post: self.rings[2].summary(),
            total: self.rings[3].summary(),
            infer_hist: self.infer_hist.clone(),
            total_hist: self.total_hist.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut r = Ring::default();
        for v in 1..=100 {
            r.push(v as f64);
        }
        let s = r.summary();
        assert_eq!(
            (s.p50_ms, s.p95_ms, s.p99_ms, s.mean_ms),
            (50.0, 95.0, 99.0, 50.5)
        );
        // The window keeps the newest WINDOW samples.
        let mut r = Ring::default();
        for _ in 0..WINDOW {
            r.push(1000.0);
        }
        for _ in 0..WINDOW {
            r.push(1.0);
        }
        assert_eq!(r.summary().p99_ms, 1.0);
    }

    #[test]
    fn histogram_buckets_take_values_up_to_their_bound() {
        let mut h = Histogram::default();
        // 1.0 is in the first bucket (≤ 1 ms), 1.01 in the second, 40_000 above the last bound.
        for ms in [0.2, 1.0, 1.01, 99.0, 100.0, 100.5, 40_000.0] {
            h.add(ms);
        }
        let mut want = vec![0u64; BUCKETS_MS.len() + 1];
        want[0] = 2;
        want[1] = 1;
        want[6] = 2; // 99 and 100: ≤ 100 ms
        want[7] = 1; // 100.5: ≤ 250 ms
        want[BUCKETS_MS.len()] = 1;
        assert_eq!(h.counts, want);
        assert_eq!(h.count(), 7);
        assert!((h.sum_ms - 40_301.71).abs() < 1e-9);
    }
}
