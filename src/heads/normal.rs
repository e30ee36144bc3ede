//! Normal head: `(3, h, w)` unnormalized normals → unit normals at frame size, HWC
//! (SAPIENS.md 6.4): bilinear upsample, then `n / (‖n‖ + 1e-5)`. Background (seg class 0, when a
//! class map is given) becomes NaN.
use super::Planes;
use super::upsample::bilinear_hwc;

/// Unit normals (HWC) at `out_w`×`out_h` from the three-plane `map`; `labels` masks class 0.
pub fn normals(map: Planes<'_>, out_w: usize, out_h: usize, labels: Option<&[u8]>) -> Vec<f32> {
    let mut n = bilinear_hwc(map.data, 3, map.w, map.h, out_w, out_h);
    for (i, p) in n.chunks_exact_mut(3).enumerate() {
        if labels.is_some_and(|l| l[i] == 0) {
            p.fill(f32::NAN);
        } else {
            let len = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() + 1e-5;
            p.iter_mut().for_each(|v| *v /= len);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_direction_kept_background_nan() {
        // Two pixels: (3,0,4) and (0,-2,0) → (0.6,0,0.8) and (0,-1,0).
        let map = vec![3.0, 0.0, 0.0, -2.0, 4.0, 0.0];
        let map = Planes::new(&map, [3, 1, 2]).unwrap();
        let n = normals(map, 2, 1, None);
        let want = [0.6, 0.0, 0.8, 0.0, -1.0, 0.0];
        assert!(
            n.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5),
            "{n:?}"
        );
        let n = normals(map, 2, 1, Some(&[0, 4]));
        assert!(n[..3].iter().all(|v| v.is_nan()) && (n[4] + 1.0).abs() < 1e-5);
    }
}
