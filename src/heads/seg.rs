//! Seg head: `(C, h, w)` logits → a frame-size class map (SAPIENS.md 6.2).
//!
//! `exact` is the official result, argmax of the bilinearly upsampled logits, computed cheaply:
//! where the four source pixels around an output pixel share their argmax class k, every convex
//! combination of them also has k as its (first) maximum, so the full C-channel interpolation is
//! needed only where they differ (class boundaries). `fast` is the argmax at model resolution,
//! upsampled nearest (pixel centres).
use super::Planes;
use super::upsample::{sample, taps};
use crate::config::SegMode;

/// Per-pixel argmax (first maximum) over `c` planes of `n` values.
pub fn argmax_planes(logits: &[f32], c: usize, n: usize) -> Vec<u8> {
    let mut best = logits[..n].to_vec();
    let mut label = vec![0u8; n];
    for k in 1..c {
        for ((b, l), &v) in best
            .iter_mut()
            .zip(label.iter_mut())
            .zip(&logits[k * n..(k + 1) * n])
        {
            if v > *b {
                *b = v;
                *l = k as u8;
            }
        }
    }
    label
}

/// The class map at `out_w`×`out_h` from a model's own label map (one plane of class indices,
/// argmax computed in its graph), upsampled as [`SegMode::Fast`] does. A value that is not a
/// class index (negative, fractional, over 255) is an error naming it.
pub fn labels_from_map(map: Planes<'_>, out_w: usize, out_h: usize) -> crate::Result<Vec<u8>> {
    let low = map
        .data
        .iter()
        .map(|&v| {
            ((0.0..=255.0).contains(&v) && v.fract() == 0.0)
                .then_some(v as u8)
                .ok_or_else(|| crate::Error::Output {
                    name: "labels".into(),
                    msg: format!("{v} is not a class index"),
                })
        })
        .collect::<crate::Result<Vec<u8>>>()?;
    Ok(nearest(&low, map.w, map.h, out_w, out_h))
}

/// `low` (w×h) at `out_w`×`out_h`, nearest (pixel centres).
fn nearest(low: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    let xs: Vec<usize> = (0..out_w)
        .map(|x| ((x * 2 + 1) * w / (2 * out_w)).min(w - 1))
        .collect();
    (0..out_h)
        .flat_map(|y| {
            let row = ((y * 2 + 1) * h / (2 * out_h)).min(h - 1) * w;
            xs.iter().map(move |&x| row + x)
        })
        .map(|i| low[i])
        .collect()
}

/// The class map at `out_w`×`out_h` from the logit planes.
pub fn labels(logits: Planes<'_>, out_w: usize, out_h: usize, mode: SegMode) -> Vec<u8> {
    let Planes {
        data: logits,
        c,
        h,
        w,
    } = logits;
    let low = argmax_planes(logits, c, w * h);
    match mode {
        SegMode::Fast => nearest(&low, w, h, out_w, out_h),
        SegMode::Exact => {
            let (tx, ty) = (taps(w, out_w), taps(h, out_h));
            let plane = w * h;
            let mut out = vec![0u8; out_w * out_h];
            for (y, &t) in ty.iter().enumerate() {
                for (x, &s) in tx.iter().enumerate() {
                    let corners = [
                        low[t.i0 * w + s.i0],
                        low[t.i0 * w + s.i1],
                        low[t.i1 * w + s.i0],
                        low[t.i1 * w + s.i1],
                    ];
                    out[y * out_w + x] = if corners.iter().all(|&k| k == corners[0]) {
                        corners[0]
                    } else {
                        let mut best = (0u8, f32::NEG_INFINITY);
                        for k in 0..c {
                            let v = sample(&logits[k * plane..(k + 1) * plane], w, s, t);
                            if v > best.1 {
                                best = (k as u8, v);
                            }
                        }
                        best.0
                    };
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heads::upsample::bilinear_hwc;

    /// Smooth random-ish logits: a few classes with overlapping ramps, so boundaries are curved.
    fn logits(c: usize, w: usize, h: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(c * w * h);
        for k in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                    v.push(
                        ((k as f32 * 1.7 + fx * 6.0).sin() + (k as f32 * 0.9 + fy * 5.0).cos())
                            * (1.0 + k as f32 * 0.01),
                    );
                }
            }
        }
        v
    }

    #[test]
    fn exact_equals_argmax_of_fully_upsampled_logits() {
        let (c, w, h) = (6, 24, 32);
        let l = logits(c, w, h);
        for (ow, oh) in [(24, 32), (57, 75), (100, 61), (13, 9)] {
            let full = bilinear_hwc(&l, c, w, h, ow, oh);
            let want: Vec<u8> = full
                .chunks_exact(c)
                .map(|p| argmax_planes(p, c, 1)[0])
                .collect();
            assert_eq!(
                labels(Planes::new(&l, [c, h, w]).unwrap(), ow, oh, SegMode::Exact),
                want,
                "{ow}x{oh}"
            );
        }
    }

    #[test]
    fn fast_is_nearest_of_the_low_resolution_argmax() {
        // 2x2 classes map; 4x4 output: each quadrant keeps its class.
        let l = vec![
            1.0, 0.0, 0.0, 1.0, // class-0 logits
            0.0, 1.0, 1.0, 0.0, // class-1 logits
        ];
        let got = labels(Planes::new(&l, [2, 2, 2]).unwrap(), 4, 4, SegMode::Fast);
        assert_eq!(got, vec![0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0]);
    }

    #[test]
    fn a_label_map_from_the_graph_upsamples_as_fast_mode_and_rejects_non_labels() {
        // Logits whose argmax is known: class = (x + y) % 3 on a 4x2 grid.
        let (w, h, c) = (4usize, 2usize, 3usize);
        let mut logits = vec![0.0f32; c * w * h];
        let mut map = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let k = (x + y) % c;
                logits[k * w * h + y * w + x] = 1.0;
                map[y * w + x] = k as f32;
            }
        }
        let fast = labels(
            Planes::new(&logits, [c, h, w]).unwrap(),
            9,
            5,
            SegMode::Fast,
        );
        let graph = labels_from_map(Planes::new(&map, [1, h, w]).unwrap(), 9, 5).unwrap();
        assert_eq!(graph, fast);
        map[3] = 1.5;
        let e = labels_from_map(Planes::new(&map, [1, h, w]).unwrap(), 9, 5).unwrap_err();
        assert!(e.to_string().contains("1.5 is not a class index"), "{e}");
    }
}
