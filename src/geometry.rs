//! Affine maps between frame pixels and model-input pixels.
//!
//! Coordinates are pixel centres: pixel (i, j) of an image sits at (x, y) = (i, j), as OpenCV's
//! `warpAffine` and mmpose's UDP ("unbiased data processing") assume.

/// A 2x3 affine map `(x, y) -> (a x + b y + c, d x + e y + f)`, rows `[[a, b, c], [d, e, f]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [[f64; 3]; 2]);

impl Affine {
    /// Maps a point.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.0;
        (
            m[0][0] * x + m[0][1] * y + m[0][2],
            m[1][0] * x + m[1][1] * y + m[1][2],
        )
    }

    /// The inverse map. Panics never: a singular map (zero scale) gives non-finite entries.
    pub fn inverse(&self) -> Affine {
        let [[a, b, c], [d, e, f]] = self.0;
        let det = a * e - b * d;
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Affine([[ia, ib, -(ia * c + ib * f)], [id, ie, -(id * c + ie * f)]])
    }

    /// `self` after `first`: `(self ∘ first)(p) = self(first(p))`.
    pub fn after(&self, first: &Affine) -> Affine {
        let [[a, b, c], [d, e, f]] = self.0;
        let [[p, q, r], [s, t, u]] = first.0;
        Affine([
            [a * p + b * s, a * q + b * t, a * r + b * u + c],
            [d * p + e * s, d * q + e * t, d * r + e * u + f],
        ])
    }
}

/// An axis-aligned box in frame pixels: `(x1, y1)` top-left, `(x2, y2)` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    /// The whole frame `[0, 0, width, height]`, as the official demo uses when there is no box.
    pub fn frame(width: u32, height: u32) -> Self {
        Self {
            x1: 0.0,
            y1: 0.0,
            x2: width as f32,
            y2: height as f32,
        }
    }
}

/// The region of the frame a top-down model sees: centre and size in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub center: [f64; 2],
    /// Width, height of the region (mmpose's "scale"), frame pixels.
    pub scale: [f64; 2],
}

impl Crop {
    /// mmpose `bbox_xyxy2cs` with `padding`, then `fix_aspect_ratio` to `aspect` (= w / h, 0.75
    /// for a 768x1024 input) by growing the shorter side (SAPIENS.md 3.2, training behaviour).
    pub fn from_box(b: &BBox, padding: f32, aspect: f64) -> Self {
        let center = [
            (b.x1 as f64 + b.x2 as f64) * 0.5,
            (b.y1 as f64 + b.y2 as f64) * 0.5,
        ];
        let (mut w, mut h) = (
            ((b.x2 - b.x1) * padding) as f64,
            ((b.y2 - b.y1) * padding) as f64,
        );
        if w > h * aspect {
            h = w / aspect;
        } else {
            w = h * aspect;
        }
        Self {
            center,
            scale: [w, h],
        }
    }

    /// mmpose `get_udp_warp_matrix` (rotation 0): frame → model input of `out_w` x `out_h`.
    /// The crop's left edge `cx - w/2` maps to 0 and its right edge to `out_w - 1`.
    pub fn udp_warp(&self, out_w: u32, out_h: u32) -> Affine {
        let sx = (out_w as f64 - 1.0) / self.scale[0];
        let sy = (out_h as f64 - 1.0) / self.scale[1];
        Affine([
            [sx, 0.0, sx * (-self.center[0] + 0.5 * self.scale[0])],
            [0.0, sy, sy * (-self.center[1] + 0.5 * self.scale[1])],
        ])
    }

    /// Heatmap pixel `(hx, hy)` of a `hm_w` x `hm_h` UDP heatmap → frame pixels
    /// (SAPIENS.md 6.1 steps 3–4: `kp / [W-1, H-1] * input`, then `/ input * scale + c - s/2`).
    pub fn heatmap_to_frame(&self, hx: f64, hy: f64, hm_w: u32, hm_h: u32) -> (f64, f64) {
        (
            hx / (hm_w as f64 - 1.0) * self.scale[0] + self.center[0] - 0.5 * self.scale[0],
            hy / (hm_h as f64 - 1.0) * self.scale[1] + self.center[1] - 0.5 * self.scale[1],
        )
    }
}

/// The whole-frame stretch the dense heads use (`cv2.resize` INTER_LINEAR, half-pixel centres):
/// frame `w` x `h` → `out_w` x `out_h`, `u = (x + 0.5) * out_w / w - 0.5`.
pub fn stretch(w: u32, h: u32, out_w: u32, out_h: u32) -> Affine {
    let (sx, sy) = (out_w as f64 / w as f64, out_h as f64 / h as f64);
    Affine([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
}

/// Sapiens2's letterbox for normal and pointmap (`NormalResizePadImage`, SAPIENS2.md 4.3): the
/// frame resized by `s = min(in_w/w, in_h/h)` to `(⌊w·s⌋, ⌊h·s⌋)` and padded, `pad//2` on the
/// left/top and the rest on the right/bottom. All sizes in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letterbox {
    /// The resized frame inside the model input.
    pub inner_w: u32,
    pub inner_h: u32,
    /// Padding on the left and top, input px.
    pub left: u32,
    pub top: u32,
}

impl Letterbox {
    /// The letterbox of a `w`×`h` frame into an `in_w`×`in_h` input.
    pub fn new(w: u32, h: u32, in_w: u32, in_h: u32) -> Self {
        let s = (in_w as f64 / w as f64).min(in_h as f64 / h as f64);
        // Python's int() of the product, as the official code; never past the input.
        let inner_w = ((w as f64 * s) as u32).clamp(1, in_w);
        let inner_h = ((h as f64 * s) as u32).clamp(1, in_h);
        Self {
            inner_w,
            inner_h,
            left: (in_w - inner_w) / 2,
            top: (in_h - inner_h) / 2,
        }
    }

    /// Frame px → input px: the resize (half-pixel centres, as `cv2.resize`), then the offset.
    pub fn to_input(&self, w: u32, h: u32) -> Affine {
        let mut m = stretch(w, h, self.inner_w, self.inner_h);
        m.0[0][2] += self.left as f64;
        m.0[1][2] += self.top as f64;
        m
    }

    /// The frame's part of an output at `stride` input px per output px: `(x, y, w, h)` in output
    /// px (the official crop `[top:H−bottom, left:W−right]`, at the output's resolution).
    pub fn output_region(&self, stride: u32) -> (usize, usize, usize, usize) {
        let d = |v: u32| (v as f64 / stride as f64).round() as usize;
        (
            d(self.left),
            d(self.top),
            d(self.inner_w).max(1),
            d(self.inner_h).max(1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() <= tol && (a.1 - b.1).abs() <= tol
    }

    #[test]
    fn crop_from_box_pads_then_fixes_aspect() {
        // (box, padding, aspect) -> (center, scale), worked by hand.
        let cases = [
            // 100x200 box, x1.25 -> 125x250; 125 < 250*0.75=187.5 -> w=187.5.
            (
                BBox {
                    x1: 0.0,
                    y1: 0.0,
                    x2: 100.0,
                    y2: 200.0,
                },
                1.25,
                0.75,
                [50.0, 100.0],
                [187.5, 250.0],
            ),
            // Landscape 400x100 -> 500x125; 500 > 93.75 -> h=500/0.75=666.67.
            (
                BBox {
                    x1: 10.0,
                    y1: 20.0,
                    x2: 410.0,
                    y2: 120.0,
                },
                1.25,
                0.75,
                [210.0, 70.0],
                [500.0, 2000.0 / 3.0],
            ),
            // Whole 1280x720 frame, no padding: 1280 > 540 -> h=1706.67.
            (
                BBox::frame(1280, 720),
                1.0,
                0.75,
                [640.0, 360.0],
                [1280.0, 5120.0 / 3.0],
            ),
            // Exactly 3:4 already.
            (
                BBox {
                    x1: 0.0,
                    y1: 0.0,
                    x2: 30.0,
                    y2: 40.0,
                },
                1.0,
                0.75,
                [15.0, 20.0],
                [30.0, 40.0],
            ),
        ];
        for (b, pad, aspect, c, s) in cases {
            let crop = Crop::from_box(&b, pad, aspect);
            assert!(
                close((crop.center[0], crop.center[1]), (c[0], c[1]), 1e-9),
                "{b:?}: {crop:?}"
            );
            assert!(
                close((crop.scale[0], crop.scale[1]), (s[0], s[1]), 1e-3),
                "{b:?}: {crop:?}"
            );
        }
    }

    #[test]
    fn udp_warp_maps_crop_edges_to_input_corners() {
        let crop = Crop {
            center: [300.0, 200.0],
            scale: [150.0, 200.0],
        };
        let m = crop.udp_warp(768, 1024);
        // Left/top edge of the crop -> 0; right/bottom edge -> size-1; centre -> (size-1)/2.
        assert!(close(m.apply(225.0, 100.0), (0.0, 0.0), 1e-9));
        assert!(close(m.apply(375.0, 300.0), (767.0, 1023.0), 1e-9));
        assert!(close(m.apply(300.0, 200.0), (383.5, 511.5), 1e-9));
        // Inverse round-trips.
        let inv = m.inverse();
        assert!(close(inv.apply(767.0, 1023.0), (375.0, 300.0), 1e-9));
        assert!(close(m.after(&inv).apply(12.5, -3.0), (12.5, -3.0), 1e-9));
    }

    #[test]
    fn heatmap_to_frame_inverts_the_warp_through_the_udp_heatmap_grid() {
        // UDP: heatmap pixel j <-> input pixel j * (767/191), so hm -> input -> frame must equal
        // warp^-1 of the input point.
        let crop = Crop {
            center: [640.0, 360.0],
            scale: [900.0, 1200.0],
        };
        let inv = crop.udp_warp(768, 1024).inverse();
        for (hx, hy) in [(0.0, 0.0), (191.0, 255.0), (95.5, 127.5), (17.25, 203.75)] {
            let expect = inv.apply(hx * 767.0 / 191.0, hy * 1023.0 / 255.0);
            assert!(
                close(crop.heatmap_to_frame(hx, hy, 192, 256), expect, 1e-9),
                "({hx},{hy})"
            );
        }
    }

    #[test]
    fn stretch_matches_cv_resize_centres() {
        // cv2.resize 1920x1080 -> 768x1024: x = (u+0.5)*2.5-0.5, y = (v+0.5)*1080/1024-0.5.
        let m = stretch(1920, 1080, 768, 1024).inverse();
        assert!(close(
            m.apply(0.0, 0.0),
            (0.75, 0.5 * 1080.0 / 1024.0 - 0.5),
            1e-9
        ));
        assert!(close(
            m.apply(767.0, 1023.0),
            (1918.25, 1023.5 * 1080.0 / 1024.0 - 0.5),
            1e-9
        ));
    }

    #[test]
    fn letterbox_as_the_official_resize_pad() {
        // 1920x1080 into 768x1024: s = 0.4 → 768x432, pad_h = 592 split 296/296.
        let l = Letterbox::new(1920, 1080, 768, 1024);
        assert_eq!(
            l,
            Letterbox {
                inner_w: 768,
                inner_h: 432,
                left: 0,
                top: 296
            }
        );
        // 768x576 (vtest): s = 1.0 → 768x576, top (1024−576)/2 = 224.
        let l = Letterbox::new(768, 576, 768, 1024);
        assert_eq!((l.inner_h, l.top), (576, 224));
        // A tall frame: 300x1000 → s = 1.024 → int(307.2) = 307 wide, pad 461 → left 230.
        let l = Letterbox::new(300, 1000, 768, 1024);
        assert_eq!(
            l,
            Letterbox {
                inner_w: 307,
                inner_h: 1024,
                left: 230,
                top: 0
            }
        );
        // Frame pixel centres land in the inner box: first and last column, first row.
        let m = l.to_input(300, 1000);
        let (x0, y0) = m.apply(0.0, 0.0);
        let (x1, _) = m.apply(299.0, 0.0);
        assert!(
            (x0 - (230.0 + 0.5 * 307.0 / 300.0 - 0.5)).abs() < 1e-9,
            "{x0}"
        );
        assert!(
            (x1 - (230.0 + 299.5 * 307.0 / 300.0 - 0.5)).abs() < 1e-9,
            "{x1}"
        );
        assert!((y0 - (0.5 * 1.024 - 0.5)).abs() < 1e-9);
        assert_eq!(l.output_region(1), (230, 0, 307, 1024));
        assert_eq!(l.output_region(2), (115, 0, 154, 512));
    }
}
