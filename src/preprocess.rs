//! Frame → normalized NCHW f32 model input, shared by every head.
//!
//! One OpenCV resampling takes frame pixels straight to the model input, the same operation the
//! official code runs ([`Sampling`]): `warpAffine` (bilinear, constant-black border) for the
//! top-down pose crop, `resize` (bilinear, edges clamped) for the dense heads' whole-frame
//! stretch. Packed RGB/BGR(x) frames are read in place. YUV frames (I420, NV12) are never
//! converted as a whole: each plane is resampled to the input size (chroma through its own map,
//! which honours the chroma siting) and only the 1024x768 result is turned to RGB.
use opencv::core::{self as cv, Mat, MatTraitConstManual, Scalar, Size};
use opencv::imgproc;

use crate::cvmat::{check_plane, mat_over};
use crate::error::{Error, Result};
use crate::geometry::{Affine, Letterbox};

/// Pixel layouts the pre-processing reads directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// Packed, `bytes_per_pixel` bytes, R/G/B at the given byte offsets.
    Packed {
        bytes_per_pixel: usize,
        rgb: [usize; 3],
    },
    /// Planar Y, U, V; chroma at half width and height.
    I420,
    /// Y plane and interleaved UV plane at half width and height.
    Nv12,
}

impl PixelLayout {
    pub const RGB: Self = Self::Packed {
        bytes_per_pixel: 3,
        rgb: [0, 1, 2],
    };
    pub const BGR: Self = Self::Packed {
        bytes_per_pixel: 3,
        rgb: [2, 1, 0],
    };
    pub const RGBX: Self = Self::Packed {
        bytes_per_pixel: 4,
        rgb: [0, 1, 2],
    };
    pub const BGRX: Self = Self::Packed {
        bytes_per_pixel: 4,
        rgb: [2, 1, 0],
    };
    pub const XRGB: Self = Self::Packed {
        bytes_per_pixel: 4,
        rgb: [1, 2, 3],
    };
    pub const XBGR: Self = Self::Packed {
        bytes_per_pixel: 4,
        rgb: [3, 2, 1],
    };
}

/// How YUV samples become RGB: `Kr`, `Kb` of the colour matrix, the range, and where the
/// chroma samples sit on the luma grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YuvMatrix {
    pub kr: f32,
    pub kb: f32,
    /// Full range (0..255) instead of limited (Y 16..235, UV 16..240).
    pub full_range: bool,
    /// Luma-pixel position (x, y) of chroma sample (0, 0): 0.5 on an axis where chroma is
    /// centred between two luma samples (JPEG, GStreamer's default), 0 where it is co-sited with
    /// the first (horizontally for MPEG-2/H.264 `chroma-site=mpeg2`).
    pub chroma_origin: [f64; 2],
}

impl YuvMatrix {
    pub const BT601: Self = Self {
        kr: 0.299,
        kb: 0.114,
        full_range: false,
        chroma_origin: [0.5, 0.5],
    };
    pub const BT709: Self = Self {
        kr: 0.2126,
        kb: 0.0722,
        full_range: false,
        chroma_origin: [0.5, 0.5],
    };

    /// Luma pixels → chroma pixels (chroma planes are subsampled 2× on both axes).
    fn luma_to_chroma(&self) -> Affine {
        let [ox, oy] = self.chroma_origin;
        Affine([[0.5, 0.0, -0.5 * ox], [0.0, 0.5, -0.5 * oy]])
    }

    /// RGB (0..255, unclamped) of one YUV sample.
    #[inline]
    pub fn to_rgb(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        YuvToRgb::new(self).apply(y, u, v)
    }

    /// The YUV sample of black (the warp border).
    fn black(&self) -> (f64, f64) {
        (self.luma_of_grey(0), 128.0)
    }

    /// The luma of the grey RGB (g, g, g) (its chroma is 128).
    fn luma_of_grey(&self, g: u8) -> f64 {
        if self.full_range {
            g as f64
        } else {
            16.0 + g as f64 * 219.0 / 255.0
        }
    }
}

/// [`YuvMatrix`] folded into per-sample constants (computed once per frame, so the per-pixel
/// loop has no branches).
#[derive(Debug, Clone, Copy)]
struct YuvToRgb {
    y0: f32,
    ys: f32,
    cs: f32,
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl YuvToRgb {
    fn new(m: &YuvMatrix) -> Self {
        let (y0, ys, cs) = if m.full_range {
            (0.0, 1.0, 1.0)
        } else {
            (16.0, 255.0 / 219.0, 255.0 / 224.0)
        };
        let kg = 1.0 - m.kr - m.kb;
        Self {
            y0,
            ys,
            cs,
            rv: 2.0 * (1.0 - m.kr),
            gu: 2.0 * m.kb * (1.0 - m.kb) / kg,
            gv: 2.0 * m.kr * (1.0 - m.kr) / kg,
            bu: 2.0 * (1.0 - m.kb),
        }
    }

    #[inline]
    fn apply(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        let (y, cb, cr) = (
            (y - self.y0) * self.ys,
            (u - 128.0) * self.cs,
            (v - 128.0) * self.cs,
        );
        [
            y + self.rv * cr,
            y - self.gu * cb - self.gv * cr,
            y + self.bu * cb,
        ]
    }
}

/// A borrowed video frame: its layout, size and planes (data, stride in bytes).
#[derive(Debug, Clone)]
pub struct FrameView<'a> {
    pub layout: PixelLayout,
    pub width: u32,
    pub height: u32,
    pub planes: Vec<(&'a [u8], usize)>,
    /// Used for YUV layouts only.
    pub matrix: YuvMatrix,
}

/// Model-input normalization: `(v - mean) / std` per RGB channel, 0..255 scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    pub width: u32,
    pub height: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// f32 values per item: `3 * height * width`.
    pub fn item_len(&self) -> usize {
        3 * self.height as usize * self.width as usize
    }

    /// NCHW item shape `[3, height, width]`.
    pub fn item_shape(&self) -> [usize; 3] {
        [3, self.height as usize, self.width as usize]
    }
}

/// How frame pixels are resampled onto the model input grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// `warpAffine` through the map (frame px → input px), bilinear, black outside the frame:
    /// the top-down pose crop, as mmpose's `TopdownAffine` does it (SAPIENS.md 3.2).
    Warp(Affine),
    /// The whole frame stretched to the input size with `resize`, bilinear, edges clamped: the
    /// dense heads, as the official `cv2.resize(frame, (768, 1024), INTER_LINEAR)` (SAPIENS.md
    /// 3.1). Same geometry as [`crate::geometry::stretch`], without its 1/32-px rounding.
    Stretch,
    /// `warpAffine` through the map with this grey level outside the frame: a detector's
    /// letterbox (pad 114 for YOLO and mmdet).
    Padded(Affine, u8),
    /// Sapiens2's letterbox (normal, pointmap): [`Sampling::Stretch`] into the inner box, black
    /// (0 before normalization) around it, as `cv2.resize` then zero padding (SAPIENS2.md 4.3).
    Letterbox(Letterbox),
}

impl Sampling {
    /// The frame px → input px map for a `width`×`height` frame.
    fn map(&self, width: u32, height: u32, norm: &Normalization) -> Affine {
        match self {
            Sampling::Warp(m) | Sampling::Padded(m, _) => *m,
            Sampling::Stretch => crate::geometry::stretch(width, height, norm.width, norm.height),
            Sampling::Letterbox(l) => l.to_input(width, height),
        }
    }
}

/// Resamples `frame` onto the model input as `sampling` says and writes one normalized CHW item
/// (`norm.item_len()` values, RGB plane order) into `out`.
pub fn sample_normalize(
    frame: &FrameView<'_>,
    sampling: &Sampling,
    norm: &Normalization,
    out: &mut [f32],
) -> Result<()> {
    if out.len() != norm.item_len() {
        return Err(Error::Invalid(format!(
            "output slot holds {} values, need {}",
            out.len(),
            norm.item_len()
        )));
    }
    if let Sampling::Letterbox(l) = sampling {
        return letterbox_normalize(frame, l, norm, out);
    }
    let (w, h) = (norm.width as usize, norm.height as usize);
    let scale = [1.0 / norm.std[0], 1.0 / norm.std[1], 1.0 / norm.std[2]];
    let offset = [
        -norm.mean[0] * scale[0],
        -norm.mean[1] * scale[1],
        -norm.mean[2] * scale[2],
    ];
    let (r_out, rest) = out.split_at_mut(w * h);
    let (g_out, b_out) = rest.split_at_mut(w * h);
    match frame.layout {
        PixelLayout::Packed {
            bytes_per_pixel,
            rgb,
        } => {
            let warped = sample_plane(
                plane(frame, 0)?,
                (frame.width, frame.height, bytes_per_pixel),
                &PlaneSampling::of(sampling, Scalar::all(0.0), |g| Scalar::all(g as f64)),
                norm,
            )?;
            let data = warped.data_bytes()?;
            let planes = [r_out, g_out, b_out];
            match bytes_per_pixel {
                3 => normalize_packed::<3>(data, rgb, scale, offset, planes),
                4 => normalize_packed::<4>(data, rgb, scale, offset, planes),
                n => {
                    return Err(Error::UnsupportedVideo(format!("{n} bytes per pixel")));
                }
            }
        }
        PixelLayout::I420 | PixelLayout::Nv12 => {
            let (y_black, c_black) = frame.matrix.black();
            let y = sample_plane(
                plane(frame, 0)?,
                (frame.width, frame.height, 1),
                &PlaneSampling::of(sampling, Scalar::all(y_black), |g| {
                    Scalar::all(frame.matrix.luma_of_grey(g))
                }),
                norm,
            )?;
            // Chroma: input px → luma px → chroma px, inverted; warped (never resized, so that
            // the siting holds) with the border the luma plane has.
            let luma_of_input = sampling.map(frame.width, frame.height, norm).inverse();
            let to_input = frame
                .matrix
                .luma_to_chroma()
                .after(&luma_of_input)
                .inverse();
            let border = match sampling {
                Sampling::Warp(_) | Sampling::Padded(..) | Sampling::Letterbox(_) => {
                    Border::Constant(Scalar::all(c_black))
                }
                Sampling::Stretch => Border::Replicate,
            };
            let (cw, ch) = (frame.width.div_ceil(2), frame.height.div_ceil(2));
            // Chroma is warped as one 2-channel plane (one warp instead of two for I420: the
            // separate U and V planes are interleaved first, a cheap pass at quarter size).
            let interleaved;
            let uv_plane = if frame.layout == PixelLayout::I420 {
                let ((u, us), (v, vs)) = (plane(frame, 1)?, plane(frame, 2)?);
                check_plane(u.len(), us, cw, ch, 1)?;
                check_plane(v.len(), vs, cw, ch, 1)?;
                let (cw, ch) = (cw as usize, ch as usize);
                interleaved = (0..ch)
                    .flat_map(|row| {
                        u[row * us..][..cw]
                            .iter()
                            .zip(&v[row * vs..][..cw])
                            .flat_map(|(a, b)| [*a, *b])
                    })
                    .collect::<Vec<u8>>();
                (&interleaved[..], 2 * cw)
            } else {
                plane(frame, 1)?
            };
            let uv = sample_plane(
                uv_plane,
                (cw, ch, 2),
                &PlaneSampling::Warp(to_input, border),
                norm,
            )?;
            let (yd, uvd) = (y.data_bytes()?, uv.data_bytes()?);
            let m = YuvToRgb::new(&frame.matrix);
            let out = r_out.iter_mut().zip(g_out.iter_mut()).zip(b_out.iter_mut());
            for (((r, g), b), (&y, uv)) in out.zip(yd.iter().zip(uvd.chunks_exact(2))) {
                let [cr, cg, cb] = m.apply(y as f32, uv[0] as f32, uv[1] as f32);
                *r = cr.clamp(0.0, 255.0) * scale[0] + offset[0];
                *g = cg.clamp(0.0, 255.0) * scale[1] + offset[1];
                *b = cb.clamp(0.0, 255.0) * scale[2] + offset[2];
            }
        }
    }
    Ok(())
}

/// [`Sampling::Letterbox`]: the frame stretched to the inner box, normalized, placed at its offset
/// in planes filled with normalized black (`−mean/std`).
fn letterbox_normalize(
    frame: &FrameView<'_>,
    l: &Letterbox,
    norm: &Normalization,
    out: &mut [f32],
) -> Result<()> {
    let inner = Normalization {
        width: l.inner_w,
        height: l.inner_h,
        ..*norm
    };
    let mut tmp = vec![0.0f32; inner.item_len()];
    sample_normalize(frame, &Sampling::Stretch, &inner, &mut tmp)?;
    let (w, h) = (norm.width as usize, norm.height as usize);
    let (iw, ih) = (l.inner_w as usize, l.inner_h as usize);
    let (left, top) = (l.left as usize, l.top as usize);
    for (c, (plane, src)) in out
        .chunks_exact_mut(w * h)
        .zip(tmp.chunks_exact(iw * ih))
        .enumerate()
    {
        plane.fill(-norm.mean[c] / norm.std[c]);
        for (row, src_row) in plane
            .chunks_exact_mut(w)
            .skip(top)
            .zip(src.chunks_exact(iw))
        {
            row[left..left + iw].copy_from_slice(src_row);
        }
    }
    Ok(())
}

/// De-interleaves `N`-byte pixels into the three planes, `v * scale + offset` per channel
/// (`N` fixed so the loop vectorizes).
fn normalize_packed<const N: usize>(
    data: &[u8],
    rgb: [usize; 3],
    scale: [f32; 3],
    offset: [f32; 3],
    [r, g, b]: [&mut [f32]; 3],
) {
    let pixels = data
        .chunks_exact(N)
        .zip(r.iter_mut())
        .zip(g.iter_mut())
        .zip(b.iter_mut());
    for (((px, r), g), b) in pixels {
        *r = px[rgb[0]] as f32 * scale[0] + offset[0];
        *g = px[rgb[1]] as f32 * scale[1] + offset[1];
        *b = px[rgb[2]] as f32 * scale[2] + offset[2];
    }
}

/// The frame's pixels, packed without row padding, as a pixel-form model reads them
/// (`channels` 4: B, G, R and a padding byte the graph ignores; 3: R, G, B). Packed RGB-family frames only: the graph's warp
/// samples 8-bit RGB pixels, as OpenCV's does on the CPU path.
pub fn packed_pixels(frame: &FrameView<'_>, channels: usize) -> Result<Vec<u8>> {
    let PixelLayout::Packed {
        bytes_per_pixel: n,
        rgb,
    } = frame.layout
    else {
        return Err(Error::UnsupportedVideo(format!(
            "{:?} frames: a model that takes frame bytes (pixel form) reads packed RGB pixels; \
             convert first (videoconvert ! video/x-raw,format=BGRx)",
            frame.layout
        )));
    };
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (data, stride) = plane(frame, 0)?;
    check_plane(data.len(), stride, frame.width, frame.height, n)?;
    // Source byte of each output channel (`None`: the padding byte, 0).
    let order: Vec<Option<usize>> = match channels {
        4 => vec![Some(rgb[2]), Some(rgb[1]), Some(rgb[0]), None],
        3 => rgb.iter().map(|c| Some(*c)).collect(),
        c => {
            return Err(Error::Invalid(format!(
                "pixel form with {c} channels (3 or 4)"
            )));
        }
    };
    // Same bytes in the same places (the padding byte aside): rows are copied.
    let same = n == channels
        && order
            .iter()
            .enumerate()
            .all(|(i, c)| c.is_none_or(|c| c == i));
    let mut out = Vec::with_capacity(w * h * channels);
    for row in data.chunks(stride).take(h) {
        let row = &row[..w * n];
        if same {
            out.extend_from_slice(row);
        } else {
            for px in row.chunks_exact(n) {
                out.extend(order.iter().map(|c| c.map_or(0, |c| px[c])));
            }
        }
    }
    Ok(out)
}

fn plane<'a>(frame: &FrameView<'a>, i: usize) -> Result<(&'a [u8], usize)> {
    frame.planes.get(i).copied().ok_or_else(|| {
        Error::UnsupportedVideo(format!("{:?} frame without plane {i}", frame.layout))
    })
}

/// What lies outside the frame for a warp.
#[derive(Debug, Clone, Copy)]
enum Border {
    Constant(Scalar),
    Replicate,
}

/// How one plane reaches the input grid.
#[derive(Debug, Clone, Copy)]
enum PlaneSampling {
    Resize,
    Warp(Affine, Border),
}

impl PlaneSampling {
    /// A frame-size plane under `sampling`: `black` outside the frame for a warp, `grey(level)`
    /// for a padded one.
    fn of(sampling: &Sampling, black: Scalar, grey: impl Fn(u8) -> Scalar) -> Self {
        match sampling {
            Sampling::Warp(m) => PlaneSampling::Warp(*m, Border::Constant(black)),
            Sampling::Padded(m, g) => PlaneSampling::Warp(*m, Border::Constant(grey(*g))),
            // A letterbox is sampled as a stretch into its inner box (letterbox_normalize).
            Sampling::Stretch | Sampling::Letterbox(_) => PlaneSampling::Resize,
        }
    }
}

/// Resamples one plane of `channels` interleaved u8 channels (`width`×`height`) to
/// `norm.width`×`norm.height`, bilinear.
fn sample_plane(
    (data, stride): (&[u8], usize),
    (width, height, channels): (u32, u32, usize),
    how: &PlaneSampling,
    norm: &Normalization,
) -> Result<Mat> {
    // SAFETY: the Mat lives only for this call and OpenCV only reads its source.
    let src = unsafe {
        mat_over(
            data.as_ptr() as *mut u8,
            data.len(),
            stride,
            width,
            height,
            channels,
        )?
    };
    let size = Size::new(norm.width as i32, norm.height as i32);
    let mut dst = Mat::default();
    match how {
        PlaneSampling::Resize => {
            imgproc::resize(&src, &mut dst, size, 0.0, 0.0, imgproc::INTER_LINEAR)?;
        }
        PlaneSampling::Warp(to_input, border) => {
            let (mode, value) = match border {
                Border::Constant(v) => (cv::BORDER_CONSTANT, *v),
                Border::Replicate => (cv::BORDER_REPLICATE, Scalar::default()),
            };
            let m = Mat::from_slice_2d(&to_input.0)?;
            imgproc::warp_affine(&src, &mut dst, &m, size, imgproc::INTER_LINEAR, mode, value)?;
        }
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Crop, stretch};

    const NORM: Normalization = Normalization {
        width: 96,
        height: 128,
        mean: [123.5, 116.5, 103.5],
        std: [58.5, 57.0, 57.5],
    };

    /// A frame whose colour is a known linear function of position: R = x, G = y, B = 200.
    fn gradient_rgb(w: u32, h: u32) -> Vec<[f32; 3]> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| [x as f32, y as f32, 200.0]))
            .collect()
    }

    fn pack(rgb: &[[f32; 3]], bpp: usize, off: [usize; 3]) -> Vec<u8> {
        let mut v = vec![7u8; rgb.len() * bpp];
        for (i, p) in rgb.iter().enumerate() {
            for c in 0..3 {
                v[i * bpp + off[c]] = p[c] as u8;
            }
        }
        v
    }

    /// BT.601 limited-range forward conversion (the inverse of `YuvMatrix::BT601`).
    fn rgb_to_yuv601(p: [f32; 3]) -> [f32; 3] {
        let [r, g, b] = p;
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        [
            16.0 + y * 219.0 / 255.0,
            128.0 + (b - y) / 1.772 * 224.0 / 255.0,
            128.0 + (r - y) / 1.402 * 224.0 / 255.0,
        ]
    }

    fn yuv_frames(rgb: &[[f32; 3]], w: u32, h: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (cw, ch) = (w as usize / 2, h as usize / 2);
        let y: Vec<u8> = rgb
            .iter()
            .map(|p| rgb_to_yuv601(*p)[0].round() as u8)
            .collect();
        let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
        for j in 0..ch {
            for i in 0..cw {
                let mut acc = [0.0f32; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let yuv = rgb_to_yuv601(rgb[(2 * j + dy) * w as usize + 2 * i + dx]);
                    acc[1] += yuv[1] / 4.0;
                    acc[2] += yuv[2] / 4.0;
                }
                u[j * cw + i] = acc[1].round() as u8;
                v[j * cw + i] = acc[2].round() as u8;
            }
        }
        (y, u, v)
    }

    /// Every output pixel must hold the normalized colour of the frame point it maps from
    /// (bilinear interpolation of a linear function is exact).
    fn check(out: &[f32], to_input: &Affine, tol: f32, label: &str) {
        let inv = to_input.inverse();
        let hw = (NORM.width * NORM.height) as usize;
        let mut checked = 0;
        for v in (0..NORM.height).step_by(7) {
            for u in (0..NORM.width).step_by(5) {
                let (x, y) = inv.apply(u as f64, v as f64);
                // Stay clear of the border, where the black constant blends in.
                if x < 2.0 || y < 2.0 || x > 60.0 || y > 44.0 {
                    continue;
                }
                let i = (v * NORM.width + u) as usize;
                let expect = [x as f32, y as f32, 200.0];
                for c in 0..3 {
                    let got = out[c * hw + i] * NORM.std[c] + NORM.mean[c];
                    assert!(
                        (got - expect[c]).abs() <= tol,
                        "{label}: ({u},{v}) ch{c}: got {got}, want {}",
                        expect[c]
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 20, "{label}: only {checked} points checked");
    }

    #[test]
    fn packed_layouts_warp_and_normalize_exactly() {
        let (w, h) = (64u32, 48u32);
        let rgb = gradient_rgb(w, h);
        let crop = Crop::from_box(
            &crate::geometry::BBox {
                x1: 4.0,
                y1: 3.0,
                x2: 60.0,
                y2: 44.0,
            },
            1.25,
            0.75,
        );
        for sampling in [
            Sampling::Warp(crop.udp_warp(NORM.width, NORM.height)),
            Sampling::Stretch,
        ] {
            let to_input = sampling.map(w, h, &NORM);
            for (layout, name) in [
                (PixelLayout::RGB, "RGB"),
                (PixelLayout::BGR, "BGR"),
                (PixelLayout::BGRX, "BGRx"),
                (PixelLayout::XRGB, "xRGB"),
            ] {
                let PixelLayout::Packed {
                    bytes_per_pixel,
                    rgb: off,
                } = layout
                else {
                    unreachable!()
                };
                // Padded stride, as GStreamer frames often have.
                let stride = w as usize * bytes_per_pixel + 8;
                let packed = pack(&rgb, bytes_per_pixel, off);
                let mut data = vec![0u8; stride * h as usize];
                for y in 0..h as usize {
                    let row = w as usize * bytes_per_pixel;
                    data[y * stride..y * stride + row]
                        .copy_from_slice(&packed[y * row..(y + 1) * row]);
                }
                let frame = FrameView {
                    layout,
                    width: w,
                    height: h,
                    planes: vec![(&data, stride)],
                    matrix: YuvMatrix::BT601,
                };
                let mut out = vec![0.0; NORM.item_len()];
                sample_normalize(&frame, &sampling, &NORM, &mut out).unwrap();
                // u8 rounding in the warp: within 0.5 + interpolation rounding.
                check(&out, &to_input, 0.75, name);
            }
        }
    }

    #[test]
    fn yuv_layouts_match_rgb_within_chroma_resolution() {
        let (w, h) = (64u32, 48u32);
        // Chroma is subsampled, so use a frame whose colour varies slowly in chroma.
        let rgb = gradient_rgb(w, h);
        let (y, u, v) = yuv_frames(&rgb, w, h);
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(a, b)| [*a, *b]).collect();
        let to_input = stretch(w, h, NORM.width, NORM.height);
        let cw = w as usize / 2;
        let i420 = FrameView {
            layout: PixelLayout::I420,
            width: w,
            height: h,
            planes: vec![(&y, w as usize), (&u, cw), (&v, cw)],
            matrix: YuvMatrix::BT601,
        };
        let nv12 = FrameView {
            layout: PixelLayout::Nv12,
            planes: vec![(&y, w as usize), (&uv, w as usize)],
            ..i420.clone()
        };
        for (frame, name) in [(i420, "I420"), (nv12, "NV12")] {
            let mut out = vec![0.0; NORM.item_len()];
            sample_normalize(&frame, &Sampling::Stretch, &NORM, &mut out).unwrap();
            // YUV quantization (~1 level in each of Y, U, V) amplified by the matrix.
            check(&out, &to_input, 3.0, name);
        }
    }

    #[test]
    fn border_is_black_for_every_layout() {
        // A crop far outside the frame sees only the border: normalized black everywhere.
        let (w, h) = (16u32, 16u32);
        let y = vec![235u8; 256];
        let c = vec![128u8; 64];
        let rgb = vec![255u8; 16 * 16 * 3];
        let far = Crop {
            center: [1000.0, 1000.0],
            scale: [30.0, 40.0],
        }
        .udp_warp(NORM.width, NORM.height);
        let frames = [
            FrameView {
                layout: PixelLayout::RGB,
                width: w,
                height: h,
                planes: vec![(&rgb, 48)],
                matrix: YuvMatrix::BT601,
            },
            FrameView {
                layout: PixelLayout::I420,
                width: w,
                height: h,
                planes: vec![(&y, 16), (&c, 8), (&c, 8)],
                matrix: YuvMatrix::BT709,
            },
        ];
        for f in frames {
            let mut out = vec![1.0; NORM.item_len()];
            sample_normalize(&f, &Sampling::Warp(far), &NORM, &mut out).unwrap();
            let hw = out.len() / 3;
            for c in 0..3 {
                let want = -NORM.mean[c] / NORM.std[c];
                assert!(
                    out[c * hw..(c + 1) * hw]
                        .iter()
                        .all(|v| (v - want).abs() < 1e-4),
                    "{:?} ch{c}",
                    f.layout
                );
            }
        }
    }

    #[test]
    fn padded_border_is_the_pad_grey_for_every_layout() {
        let (y, c, rgb) = (vec![235u8; 256], vec![128u8; 64], vec![255u8; 16 * 16 * 3]);
        let far = Affine([[1.0, 0.0, 5000.0], [0.0, 1.0, 5000.0]]);
        let frames = [
            (PixelLayout::RGB, vec![(&rgb[..], 48)]),
            (
                PixelLayout::I420,
                vec![(&y[..], 16), (&c[..], 8), (&c[..], 8)],
            ),
        ];
        for (layout, planes) in frames {
            let f = FrameView {
                layout,
                width: 16,
                height: 16,
                planes,
                matrix: YuvMatrix::BT601,
            };
            let mut out = vec![0.0; NORM.item_len()];
            sample_normalize(&f, &Sampling::Padded(far, 114), &NORM, &mut out).unwrap();
            let hw = out.len() / 3;
            for ch in 0..3 {
                let want = (114.0 - NORM.mean[ch]) / NORM.std[ch];
                let worst = out[ch * hw..(ch + 1) * hw]
                    .iter()
                    .map(|v| (v - want).abs() * NORM.std[ch])
                    .fold(0.0f32, f32::max);
                assert!(worst <= 0.6, "{layout:?} ch{ch}: off by {worst} levels");
            }
        }
    }

    #[test]
    fn short_plane_is_an_error_not_a_crash() {
        let data = vec![0u8; 10];
        let f = FrameView {
            layout: PixelLayout::RGB,
            width: 16,
            height: 16,
            planes: vec![(&data, 48)],
            matrix: YuvMatrix::BT601,
        };
        let mut out = vec![0.0; NORM.item_len()];
        let e = sample_normalize(&f, &Sampling::Stretch, &NORM, &mut out).unwrap_err();
        assert!(e.to_string().contains("too small"), "{e}");
    }

    #[test]
    fn letterbox_is_a_stretch_into_the_inner_box_with_black_around() {
        // 40x30 into 96x128: s = 2.4 → inner 96x72 at top (128 − 72)/2 = 28.
        let (w, h) = (40u32, 30u32);
        let rgb = gradient_rgb(w, h);
        let data = pack(&rgb, 3, [0, 1, 2]);
        let frame = FrameView {
            layout: PixelLayout::Packed {
                bytes_per_pixel: 3,
                rgb: [0, 1, 2],
            },
            width: w,
            height: h,
            planes: vec![(&data, 3 * w as usize)],
            matrix: YuvMatrix::BT601,
        };
        let l = Letterbox::new(w, h, NORM.width, NORM.height);
        assert_eq!((l.inner_w, l.inner_h, l.left, l.top), (96, 72, 0, 28));
        let mut boxed = vec![0.0; NORM.item_len()];
        sample_normalize(&frame, &Sampling::Letterbox(l), &NORM, &mut boxed).unwrap();
        let inner = Normalization {
            width: 96,
            height: 72,
            ..NORM
        };
        let mut stretched = vec![0.0; inner.item_len()];
        sample_normalize(&frame, &Sampling::Stretch, &inner, &mut stretched).unwrap();
        let (pw, ph) = (NORM.width as usize, NORM.height as usize);
        for c in 0..3 {
            let black = -NORM.mean[c] / NORM.std[c];
            for y in 0..ph {
                for x in 0..pw {
                    let got = boxed[c * pw * ph + y * pw + x];
                    let want = if (28..100).contains(&y) {
                        stretched[c * 96 * 72 + (y - 28) * 96 + x]
                    } else {
                        black
                    };
                    assert_eq!(got, want, "channel {c} ({x},{y})");
                }
            }
        }
    }
}
