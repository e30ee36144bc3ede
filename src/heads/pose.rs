//! Pose head: heatmaps → keypoints, as the official `udp_decode` does it (SAPIENS.md 6.1).
//!
//! Per channel: argmax (score = raw max, location −1 when max ≤ 0), DARK-UDP refinement (Gaussian
//! blur k=11 σ=2 with zero padding, rescale to the original max, clip to [1e-3, 50], log, one
//! Newton step `kp -= H⁻¹∇` on the edge-padded 3x3 neighbourhood), then heatmap → frame through
//! the inverse of the crop's UDP warp.
//!
//! The blur is evaluated only where the Newton step reads it (the 3x3 neighbourhood) instead of
//! over the whole heatmap: the rescale factor cancels in the log-derivatives, so the result is the
//! official one except when the 1e-3 clip binds. There the blurred maximum is taken over the 5x5
//! window around the argmax (the official code takes it over the whole map); this matters only for
//! flat, near-zero heatmaps whose keypoints score far below any drawing threshold.
use crate::geometry::Crop;

/// A keypoint in frame pixels with its score (the heatmap maximum, ~[0, 1] for trained models).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// DARK blur kernel: size 11, σ = 0.3·((11−1)·0.5−1)+0.8 = 2 (OpenCV's rule for σ = 0).
const BLUR_RADIUS: isize = 5;
const BLUR_SIGMA: f64 = 2.0;
/// Window (radius) around the argmax over which the blurred maximum is taken.
const MAX_RADIUS: isize = 2;
/// Raw heatmap values the refinement reads around the argmax: the blur at ±`MAX_RADIUS`.
const PATCH_RADIUS: isize = MAX_RADIUS + BLUR_RADIUS;
/// Floats per keypoint when the model decodes in its graph (`scripts/postprocess_graph.py`):
/// x, y, max, then the heatmap at the 15×15 positions around the argmax, row by row.
pub const DECODED_LEN: usize = 3 + ((2 * PATCH_RADIUS + 1) * (2 * PATCH_RADIUS + 1)) as usize;

/// Decodes `(K, hm_h, hm_w)` heatmaps.
#[derive(Debug, Clone)]
pub struct PoseDecoder {
    pub num_keypoints: usize,
    pub hm_w: usize,
    pub hm_h: usize,
    kernel: [f64; (2 * BLUR_RADIUS + 1) as usize],
}

impl PoseDecoder {
    pub fn new(num_keypoints: usize, hm_w: usize, hm_h: usize) -> Self {
        let mut kernel = [0.0; (2 * BLUR_RADIUS + 1) as usize];
        for (i, k) in kernel.iter_mut().enumerate() {
            let x = i as f64 - BLUR_RADIUS as f64;
            *k = (-x * x / (2.0 * BLUR_SIGMA * BLUR_SIGMA)).exp();
        }
        let sum: f64 = kernel.iter().sum();
        kernel.iter_mut().for_each(|k| *k /= sum);
        Self {
            num_keypoints,
            hm_w,
            hm_h,
            kernel,
        }
    }

    /// Values per person: `K * hm_h * hm_w`.
    pub fn item_len(&self) -> usize {
        self.num_keypoints * self.hm_h * self.hm_w
    }

    /// Refined keypoint locations in heatmap pixels `(x, y)` and scores. A channel whose max is
    /// ≤ 0 gives location (−1, −1), as the official code.
    pub fn decode_heatmap_px(&self, heatmaps: &[f32]) -> Vec<(f64, f64, f32)> {
        let plane = self.hm_w * self.hm_h;
        heatmaps
            .chunks_exact(plane)
            .take(self.num_keypoints)
            .map(|h| {
                let (idx, max) = argmax(h);
                if max <= 0.0 {
                    return (-1.0, -1.0, max);
                }
                let (px, py) = ((idx % self.hm_w) as isize, (idx / self.hm_w) as isize);
                let w = self.hm_w as isize;
                let (dx, dy) = self.dark_step(px, py, max, |x, y| {
                    self.blurred(x, y, |xx, yy| h[(yy * w + xx) as usize])
                });
                (px as f64 - dx, py as f64 - dy, max)
            })
            .collect()
    }

    /// As [`Self::decode_heatmap_px`], from the model's own decoding (`scripts/
    /// postprocess_graph.py`): per keypoint `[x, y, max, h(15×15 around the argmax)]`
    /// ([`DECODED_LEN`] floats), all the heatmap values DARK-UDP reads, so the result is the
    /// heatmap form's to the bit.
    pub fn decode_compact_px(&self, rows: &[f32]) -> Vec<(f64, f64, f32)> {
        const SIDE: isize = 2 * PATCH_RADIUS + 1;
        rows.chunks_exact(DECODED_LEN)
            .take(self.num_keypoints)
            .map(|r| {
                let (px, py, max) = (r[0] as isize, r[1] as isize, r[2]);
                if max <= 0.0 {
                    return (-1.0, -1.0, max);
                }
                let patch = &r[3..];
                let (dx, dy) = self.dark_step(px, py, max, |x, y| {
                    self.blurred(x, y, |xx, yy| {
                        patch[((yy - py + PATCH_RADIUS) * SIDE + xx - px + PATCH_RADIUS) as usize]
                    })
                });
                (px as f64 - dx, py as f64 - dy, max)
            })
            .collect()
    }

    /// The flip test's heatmaps (as mmpose `flip_test`, no shift): `(h + flip(h_mirrored))/2`,
    /// where `h_mirrored` came from the horizontally mirrored crop: channel `k` takes the
    /// mirrored output's channel `partner[k]`, read right to left.
    pub fn flip_average(&self, h: &[f32], mirrored: &[f32], partner: &[usize]) -> Vec<f32> {
        let (w, plane) = (self.hm_w, self.hm_w * self.hm_h);
        let mut out = Vec::with_capacity(self.num_keypoints * plane);
        for (k, hk) in h.chunks_exact(plane).take(self.num_keypoints).enumerate() {
            let mk = &mirrored[partner[k] * plane..][..plane];
            for (row, mrow) in hk.chunks_exact(w).zip(mk.chunks_exact(w)) {
                out.extend(
                    row.iter()
                        .zip(mrow.iter().rev())
                        .map(|(a, b)| 0.5 * (a + b)),
                );
            }
        }
        out
    }

    /// Keypoints in frame pixels for a person whose crop is `crop`.
    pub fn decode(&self, heatmaps: &[f32], crop: &Crop) -> Vec<Keypoint> {
        self.to_frame(self.decode_heatmap_px(heatmaps), crop)
    }

    /// [`Self::decode`] from the model's own decoding ([`Self::decode_compact_px`]).
    pub fn decode_compact(&self, rows: &[f32], crop: &Crop) -> Vec<Keypoint> {
        self.to_frame(self.decode_compact_px(rows), crop)
    }

    /// Heatmap-pixel keypoints → frame pixels through the crop.
    fn to_frame(&self, px: Vec<(f64, f64, f32)>, crop: &Crop) -> Vec<Keypoint> {
        px.into_iter()
            .map(|(hx, hy, score)| {
                let (x, y) = crop.heatmap_to_frame(hx, hy, self.hm_w as u32, self.hm_h as u32);
                Keypoint {
                    x: x as f32,
                    y: y as f32,
                    score,
                }
            })
            .collect()
    }

    /// Blurred heatmap at `(x, y)` (zero padding outside the map), reading the heatmap through
    /// `raw(x, y)` (asked only on the map).
    fn blurred(&self, x: isize, y: isize, raw: impl Fn(isize, isize) -> f32) -> f64 {
        let (w, hh) = (self.hm_w as isize, self.hm_h as isize);
        let mut acc = 0.0;
        for j in -BLUR_RADIUS..=BLUR_RADIUS {
            let yy = y + j;
            if yy < 0 || yy >= hh {
                continue;
            }
            let mut racc = 0.0;
            for i in -BLUR_RADIUS..=BLUR_RADIUS {
                let xx = x + i;
                if xx >= 0 && xx < w {
                    racc += self.kernel[(i + BLUR_RADIUS) as usize] * raw(xx, yy) as f64;
                }
            }
            acc += self.kernel[(j + BLUR_RADIUS) as usize] * racc;
        }
        acc
    }

    /// The DARK Newton step `H⁻¹∇` at integer peak `(px, py)`, reading the blurred heatmap
    /// through `blurred(x, y)` (asked only within ±2 of the peak and on the map); (0, 0) when it
    /// is undefined.
    fn dark_step(
        &self,
        px: isize,
        py: isize,
        max: f32,
        blurred: impl Fn(isize, isize) -> f64,
    ) -> (f64, f64) {
        let (w, hh) = (self.hm_w as isize, self.hm_h as isize);
        // The blur at each position of the window on the map, computed once: its maximum, and
        // the 3x3 the Newton step reads (clamped to the map, so inside the window).
        const SIDE: usize = (2 * MAX_RADIUS + 1) as usize;
        let mut window = [[0.0f64; SIDE]; SIDE];
        let mut blur_max = f64::MIN;
        for j in -MAX_RADIUS..=MAX_RADIUS {
            for i in -MAX_RADIUS..=MAX_RADIUS {
                let (x, y) = (px + i, py + j);
                if x >= 0 && x < w && y >= 0 && y < hh {
                    let b = blurred(x, y);
                    window[(j + MAX_RADIUS) as usize][(i + MAX_RADIUS) as usize] = b;
                    blur_max = blur_max.max(b);
                }
            }
        }
        if blur_max.is_nan() || blur_max <= 0.0 {
            return (0.0, 0.0);
        }
        let gain = max as f64 / blur_max;
        // Log of the rescaled, clipped blur; edge padding = clamp the sample position.
        let l = |i: isize, j: isize| {
            let (x, y) = ((px + i).clamp(0, w - 1), (py + j).clamp(0, hh - 1));
            let b = window[(y - py + MAX_RADIUS) as usize][(x - px + MAX_RADIUS) as usize];
            (b * gain).clamp(1e-3, 50.0).ln()
        };
        let c = l(0, 0);
        let (xp, xm, yp, ym) = (l(1, 0), l(-1, 0), l(0, 1), l(0, -1));
        let (xpyp, xmym) = (l(1, 1), l(-1, -1));
        let dx = 0.5 * (xp - xm);
        let dy = 0.5 * (yp - ym);
        let dxx = xp - 2.0 * c + xm;
        let dyy = yp - 2.0 * c + ym;
        let dxy = 0.5 * (xpyp - xp - yp + 2.0 * c - xm - ym + xmym);
        let eps = f32::EPSILON as f64;
        let (a, b, d) = (dxx + eps, dxy, dyy + eps);
        let det = a * d - b * b;
        let step = ((d * dx - b * dy) / det, (-b * dx + a * dy) / det);
        if step.0.is_finite() && step.1.is_finite() {
            step
        } else {
            (0.0, 0.0)
        }
    }
}

/// The graph form's values ([`DECODED_LEN`] per keypoint, `scripts/postprocess_graph.py`) made on
/// the CPU from `(K, h, w)` heatmaps: for benchmarks comparing the two forms' decoding.
pub fn compact_rows(heatmaps: &[f32], k: usize, w: usize, h: usize) -> Vec<f32> {
    let mut rows = Vec::with_capacity(k * DECODED_LEN);
    for c in heatmaps.chunks_exact(w * h).take(k) {
        let (at, max) = argmax(c);
        let (px, py) = ((at % w) as isize, (at / w) as isize);
        rows.extend([px as f32, py as f32, max]);
        for y in py - PATCH_RADIUS..=py + PATCH_RADIUS {
            for x in px - PATCH_RADIUS..=px + PATCH_RADIUS {
                let on = (0..w as isize).contains(&x) && (0..h as isize).contains(&y);
                rows.push(if on {
                    c[(y * w as isize + x) as usize]
                } else {
                    0.0
                });
            }
        }
    }
    rows
}

/// First index of the maximum and the maximum (NaN ignored; `(0, -inf)` for an empty or all-NaN
/// slice). One pass over 16 independent lanes (value and index per lane) so the compiler
/// vectorizes it; ties resolve to the lowest index, as `np.argmax`.
fn argmax(v: &[f32]) -> (usize, f32) {
    const LANES: usize = 16;
    let mut best = [f32::NEG_INFINITY; LANES];
    let mut at = [0u32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for (ci, c) in chunks.enumerate() {
        let base = (ci * LANES) as u32;
        for l in 0..LANES {
            let better = c[l] > best[l];
            best[l] = if better { c[l] } else { best[l] };
            at[l] = if better { base + l as u32 } else { at[l] };
        }
    }
    let mut result = (0usize, f32::NEG_INFINITY);
    let tail = rest
        .iter()
        .enumerate()
        .map(|(i, &x)| (v.len() - rest.len() + i, x));
    for (i, x) in at.iter().map(|&i| i as usize).zip(best).chain(tail) {
        if x > result.1 || (x == result.1 && i < result.0) {
            result = (i, x);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_is_numpys_first_maximum() {
        let long = |at: usize| {
            (0..37)
                .map(|i| if i == at { 9.0 } else { (i % 5) as f32 })
                .collect::<Vec<_>>()
        };
        let mut ties = vec![1.0f32; 40];
        ties[17] = 4.0;
        ties[33] = 4.0;
        let cases: Vec<(Vec<f32>, (usize, f32))> = vec![
            (vec![1.0, 3.0, 3.0, 2.0], (1, 3.0)),
            (vec![f32::NAN, 2.0, 5.0, 5.0], (2, 5.0)),
            (long(36), (36, 9.0)), // in the remainder after the 16-lane chunks
            (long(20), (20, 9.0)),
            (ties, (17, 4.0)), // same value in two lanes: the lower index
            (vec![-2.0; 33], (0, -2.0)),
            (vec![], (0, f32::NEG_INFINITY)),
        ];
        for (v, want) in cases {
            assert_eq!(argmax(&v), want, "{v:?}");
        }
    }

    /// A heatmap plane with a Gaussian of `sigma` px and `peak` height at sub-pixel (x0, y0).
    fn gaussian(w: usize, h: usize, x0: f64, y0: f64, sigma: f64, peak: f64) -> Vec<f32> {
        (0..h)
            .flat_map(|y| {
                (0..w).map(move |x| {
                    let d2 = (x as f64 - x0).powi(2) + (y as f64 - y0).powi(2);
                    (peak * (-d2 / (2.0 * sigma * sigma)).exp()) as f32
                })
            })
            .collect()
    }

    #[test]
    fn dark_recovers_subpixel_gaussian_centres() {
        // The log of a blurred Gaussian is quadratic, so one Newton step lands on its centre
        // (away from the border, where the official zero-padded blur biases it).
        let dec = PoseDecoder::new(1, 192, 256);
        let cases = [
            (95.5, 127.5),
            (10.3, 20.8),
            (100.77, 200.12),
            (180.4, 13.6),
            (47.0, 61.0),
        ];
        for (x0, y0) in cases {
            for sigma in [1.5, 2.0, 3.0] {
                let h = gaussian(192, 256, x0, y0, sigma, 0.9);
                let (x, y, s) = dec.decode_heatmap_px(&h)[0];
                assert!(
                    (x - x0).abs() < 0.02 && (y - y0).abs() < 0.02,
                    "σ={sigma} ({x0},{y0}) -> ({x},{y})"
                );
                assert!((s - h.iter().cloned().fold(f32::MIN, f32::max)).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn empty_channel_scores_zero_at_minus_one_and_border_peaks_are_finite() {
        let dec = PoseDecoder::new(3, 48, 64);
        let mut h = vec![0.0f32; 3 * 48 * 64];
        // Channel 1: peak on the corner pixel.
        h[48 * 64] = 1.0;
        // Channel 2: Gaussian hugging the right edge.
        h[2 * 48 * 64..].copy_from_slice(&gaussian(48, 64, 47.0, 30.0, 2.0, 0.5));
        let kps = dec.decode_heatmap_px(&h);
        assert_eq!(kps[0], (-1.0, -1.0, 0.0));
        assert_eq!(kps[1].2, 1.0);
        assert!(kps[1].0.is_finite() && kps[1].1.is_finite());
        assert!(
            (kps[2].1 - 30.0).abs() < 0.05 && kps[2].0 > 45.0 && kps[2].0.is_finite(),
            "{:?}",
            kps[2]
        );
    }

    /// The compact form as `scripts/postprocess_graph.py` lays it out, made here from heatmaps:
    /// x, y, max, then the 15×15 values around the (first) argmax, 0 off the map.
    fn compact(h: &[f32], k: usize, w: usize, hh: usize) -> Vec<f32> {
        let mut rows = Vec::new();
        for c in h.chunks_exact(w * hh).take(k) {
            let (mut best, mut at) = (f32::NEG_INFINITY, 0);
            for (i, v) in c.iter().enumerate() {
                if *v > best {
                    (best, at) = (*v, i);
                }
            }
            let (px, py) = ((at % w) as i64, (at / w) as i64);
            rows.extend([px as f32, py as f32, best]);
            for dy in -7..=7i64 {
                for dx in -7..=7i64 {
                    let (x, y) = (px + dx, py + dy);
                    let on = x >= 0 && y >= 0 && x < w as i64 && y < hh as i64;
                    rows.push(if on {
                        c[(y * w as i64 + x) as usize]
                    } else {
                        0.0
                    });
                }
            }
        }
        rows
    }

    #[test]
    fn the_compact_form_decodes_to_the_heatmap_forms_keypoints_exactly() {
        let (w, hh) = (48, 64);
        let dec = PoseDecoder::new(4, w, hh);
        let mut h = vec![0.0f32; 4 * w * hh];
        let plane = w * hh;
        h[..plane].copy_from_slice(&gaussian(w, hh, 20.3, 31.7, 2.0, 0.9));
        h[plane] = 1.0; // a corner peak
        h[2 * plane..3 * plane].copy_from_slice(&gaussian(w, hh, 47.0, 30.0, 2.0, 0.5));
        // Channel 3 stays empty (max 0: location -1).
        let rows = compact(&h, 4, w, hh);
        assert_eq!(rows.len(), 4 * DECODED_LEN);
        let (a, b) = (dec.decode_heatmap_px(&h), dec.decode_compact_px(&rows));
        assert_eq!(a, b);
        assert_eq!(b[3], (-1.0, -1.0, 0.0));
        assert!(
            (b[0].0 - 20.3).abs() < 0.05 && (b[0].1 - 31.7).abs() < 0.05,
            "{:?}",
            b[0]
        );
    }

    #[test]
    fn decode_maps_to_frame_pixels_through_the_crop() {
        // A peak at heatmap (x0, y0) must land at x0/(W-1)*sw + cx - sw/2 (SAPIENS.md 6.1).
        let dec = PoseDecoder::new(2, 192, 256);
        let crop = Crop {
            center: [400.0, 300.0],
            scale: [300.0, 400.0],
        };
        let mut h = gaussian(192, 256, 60.25, 100.5, 2.0, 1.0);
        h.extend(gaussian(192, 256, 150.0, 30.75, 2.0, 0.4));
        let kps = dec.decode(&h, &crop);
        let plane_max = |k: usize| {
            h[k * 192 * 256..(k + 1) * 192 * 256]
                .iter()
                .cloned()
                .fold(f32::MIN, f32::max)
        };
        for (k, (kp, (x0, y0))) in kps.iter().zip([(60.25, 100.5), (150.0, 30.75)]).enumerate() {
            let ex = x0 / 191.0 * 300.0 + 400.0 - 150.0;
            let ey = y0 / 255.0 * 400.0 + 300.0 - 200.0;
            assert!(
                (kp.x as f64 - ex).abs() < 0.05 && (kp.y as f64 - ey).abs() < 0.05,
                "{kp:?} vs ({ex},{ey})"
            );
            assert_eq!(kp.score, plane_max(k));
        }
    }
}
