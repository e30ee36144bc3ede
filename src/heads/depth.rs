//! Depth head: `(1, h, w)` relative depth → frame size (SAPIENS.md 6.3). Background (seg class 0,
//! when a class map is given) becomes NaN; min/max are taken over the foreground.
use super::Planes;
use super::upsample::bilinear_hwc;

/// Frame-size depth and its foreground range.
#[derive(Debug, Clone, PartialEq)]
pub struct Depth {
    pub values: Vec<f32>,
    /// Min and max over non-NaN pixels; `None` when every pixel is background.
    pub range: Option<(f32, f32)>,
}

/// Depth at `out_w`×`out_h` from the one-plane `map`; `labels` (same size) masks class 0.
pub fn depth(map: Planes<'_>, out_w: usize, out_h: usize, labels: Option<&[u8]>) -> Depth {
    let mut values = bilinear_hwc(map.data, 1, map.w, map.h, out_w, out_h);
    if let Some(labels) = labels {
        values
            .iter_mut()
            .zip(labels)
            .filter(|(_, l)| **l == 0)
            .for_each(|(v, _)| *v = f32::NAN);
    }
    let range = values
        .iter()
        .filter(|v| !v.is_nan())
        .fold(None, |r: Option<(f32, f32)>, &v| {
            Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        });
    Depth { values, range }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_background_and_ranges_the_foreground() {
        // Constant-per-row map upsampled 1:1; background on the first row.
        let map = vec![5.0, 5.0, 2.0, 2.0, 9.0, 9.0];
        let labels = [0, 0, 3, 3, 1, 1];
        let map = Planes::new(&map, [1, 3, 2]).unwrap();
        let d = depth(map, 2, 3, Some(&labels));
        assert!(d.values[0].is_nan() && d.values[1].is_nan());
        assert_eq!(&d.values[2..], &[2.0, 2.0, 9.0, 9.0]);
        assert_eq!(d.range, Some((2.0, 9.0)));
        assert_eq!(depth(map, 2, 3, None).range, Some((2.0, 9.0)));
        assert_eq!(depth(map, 2, 3, Some(&[0; 6])).range, None);
    }
}
