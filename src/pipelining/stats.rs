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
        self.rings[stage as usize].push(d.as_secs_f64() * 1e3);
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
}
