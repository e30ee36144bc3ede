//! Pointmap head (Sapiens2, SAPIENS2.md 2.4 and 4.5): `(3, h, w)` canonical XYZ and a scale →
//! metric XYZ at frame size, HWC: `pointmap / scale`, smoothed when upsampled (four 3×3 Gaussian
//! blurs, σ 0.8, reflect borders, as `resize_pointmap(smooth=True)`), bilinear to the frame.
//! Background (seg class 0, when a class map is given) becomes NaN.
use super::Planes;
use super::upsample::bilinear_hwc;

/// A frame's metric points.
#[derive(Debug, Clone)]
pub struct Points {
    /// H×W×3 (x, y, z), the model's units (metres by the official demo's reading), NaN =
    /// background.
    pub xyz: Vec<f32>,
    /// 1st and 99th percentile of foreground Z; `None` when no pixel is foreground.
    pub z_range: Option<(f32, f32)>,
}

/// Metric points at `out_w`×`out_h` from the three-plane `map` (the frame's part of the output)
/// and the model's `scale`; `labels` masks class 0.
pub fn points(
    map: Planes<'_>,
    scale: f32,
    out_w: usize,
    out_h: usize,
    labels: Option<&[u8]>,
) -> Points {
    let mut planes: Vec<f32> = map.data.iter().map(|v| v / scale).collect();
    if out_w > map.w || out_h > map.h {
        for plane in planes.chunks_exact_mut(map.w * map.h) {
            for _ in 0..4 {
                blur3(plane, map.w, map.h);
            }
        }
    }
    let mut xyz = bilinear_hwc(&planes, 3, map.w, map.h, out_w, out_h);
    if let Some(l) = labels {
        for (p, &class) in xyz.chunks_exact_mut(3).zip(l) {
            if class == 0 {
                p.fill(f32::NAN);
            }
        }
    }
    let mut z: Vec<f32> = xyz
        .chunks_exact(3)
        .map(|p| p[2])
        .filter(|z| z.is_finite())
        .collect();
    let z_range = (!z.is_empty()).then(|| (percentile(&mut z, 0.01), percentile(&mut z, 0.99)));
    Points { xyz, z_range }
}

/// The `q` quantile (nearest rank) of `v`, reordering it.
fn percentile(v: &mut [f32], q: f64) -> f32 {
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}

/// The 3-tap Gaussian of σ 0.8 (torchvision `gaussian_blur`, kernel 3), normalized.
fn kernel() -> [f32; 3] {
    let e = (-1.0f64 / (2.0 * 0.8 * 0.8)).exp();
    let sum = 1.0 + 2.0 * e;
    [(e / sum) as f32, (1.0 / sum) as f32, (e / sum) as f32]
}

/// One separable 3×3 Gaussian blur of a `w`×`h` plane in place, reflect borders (`x[-1] = x[1]`).
fn blur3(plane: &mut [f32], w: usize, h: usize) {
    let k = kernel();
    let reflect = |i: isize, n: usize| -> usize {
        if n == 1 {
            0
        } else if i < 0 {
            1
        } else if i as usize >= n {
            n - 2
        } else {
            i as usize
        }
    };
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        let row = &plane[y * w..][..w];
        for x in 0..w {
            let xi = x as isize;
            tmp[y * w + x] =
                k[0] * row[reflect(xi - 1, w)] + k[1] * row[x] + k[2] * row[reflect(xi + 1, w)];
        }
    }
    for y in 0..h {
        let yi = y as isize;
        let (a, b) = (reflect(yi - 1, h), reflect(yi + 1, h));
        for x in 0..w {
            plane[y * w + x] =
                k[0] * tmp[a * w + x] + k[1] * tmp[y * w + x] + k[2] * tmp[b * w + x];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_is_pointmap_over_scale_and_background_nan() {
        // Same size (no smoothing): two pixels, scale 2.
        let map = vec![2.0, -4.0, 6.0, 8.0, 10.0, 12.0]; // x plane, y plane, z plane
        let p = points(Planes::new(&map, [3, 1, 2]).unwrap(), 2.0, 2, 1, None);
        assert_eq!(p.xyz, [1.0, 3.0, 5.0, -2.0, 4.0, 6.0]);
        assert_eq!(p.z_range, Some((5.0, 6.0)));
        let p = points(
            Planes::new(&map, [3, 1, 2]).unwrap(),
            2.0,
            2,
            1,
            Some(&[0, 3]),
        );
        assert!(p.xyz[..3].iter().all(|v| v.is_nan()));
        assert_eq!(p.z_range, Some((6.0, 6.0)));
    }

    #[test]
    fn smoothing_keeps_constants_and_linear_ramps_inside() {
        // The blur is normalized: a constant plane stays constant, upsampled or not.
        let map = vec![3.0f32; 3 * 4 * 5];
        let p = points(Planes::new(&map, [3, 4, 5]).unwrap(), 1.5, 10, 8, None);
        assert!(p.xyz.iter().all(|v| (v - 2.0).abs() < 1e-5));
        // Kernel: exp(-0.5 (1/0.8)²) = 0.4578 → [0.2390, 0.5220, 0.2390] (sums to 1).
        let k = kernel();
        assert!((k[0] - 0.23899).abs() < 1e-4 && (k[1] - 0.52201).abs() < 1e-4);
        // Away from the border a symmetric kernel leaves a linear ramp unchanged.
        let mut ramp: Vec<f32> = (0..25).map(|i| (i % 5) as f32).collect();
        blur3(&mut ramp, 5, 5);
        assert!((ramp[2 * 5 + 2] - 2.0).abs() < 1e-6);
        // Reflect border: x[-1] = x[1] → column 0 of the ramp becomes 2·k0·1 = 0.4780.
        assert!((ramp[2 * 5] - 2.0 * k[0]).abs() < 1e-6, "{}", ramp[10]);
    }
}
