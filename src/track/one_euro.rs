//! The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012): a low-pass filter whose cutoff rises
//! with speed, so a still keypoint stops jittering while a moving one lags little. Time in
//! seconds (from buffer timestamps), values in frame pixels.

/// Filter settings: `min_cutoff` (Hz) is the smoothing at rest, `beta` how fast the cutoff rises
/// with speed (per px/s), `d_cutoff` (Hz) the smoothing of the speed estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuroParams {
    pub min_cutoff: f64,
    pub beta: f64,
    pub d_cutoff: f64,
}

impl Default for OneEuroParams {
    fn default() -> Self {
        Self {
            min_cutoff: 1.0,
            beta: 0.01,
            d_cutoff: 1.0,
        }
    }
}

/// One filtered value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuro {
    x: f64,
    dx: f64,
    t: f64,
}

fn alpha(cutoff: f64, dt: f64) -> f64 {
    let tau = 1.0 / (2.0 * std::f64::consts::PI * cutoff);
    1.0 / (1.0 + tau / dt)
}

impl OneEuro {
    /// Starts at `x` at time `t` (s).
    pub fn new(x: f64, t: f64) -> Self {
        Self { x, dx: 0.0, t }
    }

    /// The filtered value of `x` measured at time `t` (s). A time that does not advance (a
    /// repeated timestamp) returns the last value unchanged.
    pub fn filter(&mut self, x: f64, t: f64, p: &OneEuroParams) -> f64 {
        let dt = t - self.t;
        if dt <= 0.0 || !dt.is_finite() {
            return self.x;
        }
        let dx = (x - self.x) / dt;
        self.dx += alpha(p.d_cutoff, dt) * (dx - self.dx);
        let cutoff = p.min_cutoff + p.beta * self.dx.abs();
        self.x += alpha(cutoff, dt) * (x - self.x);
        self.t = t;
        self.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed pseudo-random sequence in [-1, 1] (no dependency on a RNG crate).
    fn noise(n: usize) -> Vec<f64> {
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 20_001) as f64 / 10_000.0 - 1.0
            })
            .collect()
    }

    fn std_dev(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    #[test]
    fn a_still_noisy_keypoint_jitters_far_less() {
        // 30 fps, ±3 px of noise around x = 100.
        let p = OneEuroParams::default();
        let raw: Vec<f64> = noise(300).iter().map(|n| 100.0 + 3.0 * n).collect();
        let mut f = OneEuro::new(raw[0], 0.0);
        let out: Vec<f64> = raw
            .iter()
            .enumerate()
            .map(|(i, x)| f.filter(*x, i as f64 / 30.0, &p))
            .collect();
        let (before, after) = (std_dev(&raw[30..]), std_dev(&out[30..]));
        // At rest the cutoff is min_cutoff: alpha = 0.173 at 30 fps, so the ideal reduction of
        // white noise is sqrt((2 - a) / a) = 3.25x; the speed term costs a little of it.
        assert!(before / after >= 2.5, "jitter {before:.2} -> {after:.2} px");
    }

    #[test]
    fn a_moving_keypoint_lags_a_bounded_distance() {
        // 300 px/s (10 px a frame at 30 fps): with beta the cutoff rises and the lag stays small.
        let p = OneEuroParams::default();
        let mut f = OneEuro::new(0.0, 0.0);
        let mut lag = 0.0;
        for i in 1..90 {
            let (t, x) = (i as f64 / 30.0, 10.0 * i as f64);
            lag = x - f.filter(x, t, &p);
        }
        assert!(
            lag > 0.0 && lag < 10.0,
            "steady lag {lag:.2} px (one frame = 10 px)"
        );
        // Without the speed term (beta = 0) the same motion lags much more.
        let slow = OneEuroParams { beta: 0.0, ..p };
        let mut f = OneEuro::new(0.0, 0.0);
        let mut lag0 = 0.0;
        for i in 1..90 {
            let (t, x) = (i as f64 / 30.0, 10.0 * i as f64);
            lag0 = x - f.filter(x, t, &slow);
        }
        assert!(lag0 > 3.0 * lag, "beta 0: {lag0:.1} px vs {lag:.1} px");
    }
}
