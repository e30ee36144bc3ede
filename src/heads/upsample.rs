//! Bilinear upsampling as `F.interpolate(mode="bilinear", align_corners=False)` (PyTorch), shared
//! by the dense heads: model-resolution maps → frame-resolution maps.

/// One output coordinate's two source taps and the weight of the second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub w1: f32,
}

/// Taps for `n_out` outputs from `n_in` inputs: source `(i + 0.5)·n_in/n_out − 0.5`, clamped at
/// 0 below (PyTorch) and to the last sample above.
pub fn taps(n_in: usize, n_out: usize) -> Vec<Tap> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|i| {
            let src = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = (i0 + 1).min(n_in - 1);
            Tap {
                i0,
                i1,
                w1: (src - i0 as f64) as f32,
            }
        })
        .collect()
}

/// Bilinear value of `plane` (`w` wide, row-major) at the taps `tx`, `ty`.
#[inline]
pub fn sample(plane: &[f32], w: usize, tx: Tap, ty: Tap) -> f32 {
    let r0 = &plane[ty.i0 * w..];
    let r1 = &plane[ty.i1 * w..];
    let top = r0[tx.i0] + tx.w1 * (r0[tx.i1] - r0[tx.i0]);
    let bottom = r1[tx.i0] + tx.w1 * (r1[tx.i1] - r1[tx.i0]);
    top + ty.w1 * (bottom - top)
}

/// Upsamples `c` planes of `w`×`h` to `out_w`×`out_h`, interleaved per pixel (HWC) in the result.
pub fn bilinear_hwc(
    planes: &[f32],
    c: usize,
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let (tx, ty) = (taps(w, out_w), taps(h, out_h));
    let mut out = vec![0.0; out_w * out_h * c];
    for (y, &t) in ty.iter().enumerate() {
        for (x, &s) in tx.iter().enumerate() {
            for k in 0..c {
                out[(y * out_w + x) * c + k] = sample(&planes[k * w * h..(k + 1) * w * h], w, s, t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_match_pytorch_align_corners_false() {
        // 2 -> 4: sources -0.25 (clamped 0), 0.25, 0.75, 1.25 (i0 = 1 = last).
        let t = taps(2, 4);
        let want = [(0, 1, 0.0), (0, 1, 0.25), (0, 1, 0.75), (1, 1, 0.25)];
        for (got, (i0, i1, w1)) in t.iter().zip(want) {
            assert_eq!((got.i0, got.i1), (i0, i1));
            assert!((got.w1 - w1).abs() < 1e-6, "{got:?}");
        }
        // Same size: identity.
        assert!(
            taps(5, 5)
                .iter()
                .enumerate()
                .all(|(i, t)| t.i0 == i && t.w1 == 0.0)
        );
    }

    #[test]
    fn bilinear_of_a_linear_ramp_is_the_ramp_at_source_coordinates() {
        // plane(x, y) = 2x + 10y on 4x3; upsample to 8x6: value at the source coordinate
        // (clamped at the edges, where the ramp is held).
        let (w, h) = (4, 3);
        let plane: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| 2.0 * x as f32 + 10.0 * y as f32))
            .collect();
        let out = bilinear_hwc(&plane, 1, w, h, 8, 6);
        for y in 0..6 {
            for x in 0..8 {
                let sx = ((x as f32 + 0.5) * 0.5 - 0.5).clamp(0.0, 3.0);
                let sy = ((y as f32 + 0.5) * 0.5 - 0.5).clamp(0.0, 2.0);
                assert!(
                    (out[y * 8 + x] - (2.0 * sx + 10.0 * sy)).abs() < 1e-5,
                    "({x},{y})"
                );
            }
        }
    }
}
