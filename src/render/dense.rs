//! Dense results as pictures, as the official demo draws them (SAPIENS.md 6.2–6.4):
//! seg `rgb·(1−α) + palette·α` (α = 0.5 official), depth inverted min–max over the foreground
//! through INFERNO with a grey (100) background, normals `(n+1)/2` with a black background;
//! Sapiens2 pointmaps by inverse depth through TURBO (SAPIENS2.md 4.5, per-frame bounds).
use std::sync::OnceLock;

use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;

use crate::error::{Error, Result};
use crate::meta::dense::{DepthResult, NormalResult, PointmapResult, SegResult};
use crate::preprocess::PixelLayout;

/// A packed RGB-family image (a frame, or a tile of one) for per-pixel writes.
pub struct Packed<'a> {
    pub data: &'a mut [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    bpp: usize,
    rgb: [usize; 3],
}

impl<'a> Packed<'a> {
    pub fn new(
        data: &'a mut [u8],
        layout: PixelLayout,
        width: u32,
        height: u32,
        stride: usize,
    ) -> Result<Self> {
        let PixelLayout::Packed {
            bytes_per_pixel,
            rgb,
        } = layout
        else {
            return Err(Error::UnsupportedVideo(
                "drawing needs a packed RGB/BGR(x) frame".into(),
            ));
        };
        crate::cvmat::check_plane(data.len(), stride, width, height, bytes_per_pixel)?;
        Ok(Self {
            data,
            width,
            height,
            stride,
            bpp: bytes_per_pixel,
            rgb,
        })
    }

    pub fn layout(&self) -> PixelLayout {
        PixelLayout::Packed {
            bytes_per_pixel: self.bpp,
            rgb: self.rgb,
        }
    }

    /// The `width`×`height` region at (`x`, `y`), as its own image.
    pub fn tile(&mut self, x: u32, y: u32, width: u32, height: u32) -> Result<Packed<'_>> {
        let off = y as usize * self.stride + x as usize * self.bpp;
        let layout = self.layout();
        Packed::new(&mut self.data[off..], layout, width, height, self.stride)
    }

    /// Sets every pixel to `f(x, y, current RGB)`; padding bytes become 255.
    pub fn map(&mut self, f: impl Fn(usize, usize, [u8; 3]) -> [u8; 3]) {
        let (w, bpp, [r, g, b]) = (self.width as usize, self.bpp, self.rgb);
        for (y, row) in self
            .data
            .chunks_mut(self.stride)
            .take(self.height as usize)
            .enumerate()
        {
            for (x, px) in row[..w * bpp].chunks_exact_mut(bpp).enumerate() {
                let out = f(x, y, [px[r], px[g], px[b]]);
                px.fill(255);
                (px[r], px[g], px[b]) = (out[0], out[1], out[2]);
            }
        }
    }

    /// Copies `src` (same layout and size) into this image.
    pub fn copy_from(&mut self, src: &[u8], src_stride: usize) {
        let row = self.width as usize * self.bpp;
        for (dst, s) in self
            .data
            .chunks_mut(self.stride)
            .zip(src.chunks(src_stride))
            .take(self.height as usize)
        {
            dst[..row].copy_from_slice(&s[..row]);
        }
    }
}

/// Blends the class palette over the image: `rgb·(1−alpha) + palette[class]·alpha`.
pub fn seg_blend(img: &mut Packed<'_>, seg: &SegResult, alpha: f32) {
    let (pal, labels, w) = (seg.classes.palette(), seg.labels(), img.width as usize);
    img.map(|x, y, px| {
        let c = pal[labels[y * w + x] as usize % pal.len()];
        [0, 1, 2].map(|i| (px[i] as f32 * (1.0 - alpha) + c[i] as f32 * alpha).round() as u8)
    });
}

/// An OpenCV colormap (`COLORMAP_*`) as 256 RGB entries; `slot` caches it per process.
fn colormap(slot: &'static OnceLock<[[u8; 3]; 256]>, map: i32) -> Result<&'static [[u8; 3]; 256]> {
    if let Some(l) = slot.get() {
        return Ok(l);
    }
    let values: Vec<u8> = (0..=255).collect();
    let ramp = Mat::from_slice(&values)?;
    let mut bgr = Mat::default();
    imgproc::apply_color_map(&ramp, &mut bgr, map)?;
    let mut lut = [[0u8; 3]; 256];
    for (entry, p) in lut.iter_mut().zip(bgr.data_bytes()?.chunks_exact(3)) {
        *entry = [p[2], p[1], p[0]];
    }
    Ok(slot.get_or_init(|| lut))
}

fn inferno() -> Result<&'static [[u8; 3]; 256]> {
    static LUT: OnceLock<[[u8; 3]; 256]> = OnceLock::new();
    colormap(&LUT, imgproc::COLORMAP_INFERNO)
}

fn turbo() -> Result<&'static [[u8; 3]; 256]> {
    static LUT: OnceLock<[[u8; 3]; 256]> = OnceLock::new();
    colormap(&LUT, imgproc::COLORMAP_TURBO)
}

/// Depth as the official demo: `1 − (d − min)/(max − min)` over the foreground (near = bright),
/// INFERNO; background (NaN) grey 100.
pub fn depth_map(img: &mut Packed<'_>, depth: &DepthResult) -> Result<()> {
    let lut = inferno()?;
    let values = depth.values();
    let (lo, hi) = depth.range.unwrap_or((0.0, 1.0));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let w = img.width as usize;
    img.map(|x, y, _| {
        let d = values[y * w + x];
        if d.is_nan() {
            [100, 100, 100]
        } else {
            lut[((1.0 - (d - lo) / span).clamp(0.0, 1.0) * 255.0) as usize]
        }
    });
    Ok(())
}

/// Normals as `(n + 1)/2 · 255` (x → R, y → G, z → B); background (NaN) black.
pub fn normal_map(img: &mut Packed<'_>, normals: &NormalResult) {
    let (n, w) = (normals.values(), img.width as usize);
    img.map(|x, y, _| {
        let p = &n[3 * (y * w + x)..][..3];
        if p[0].is_nan() {
            [0, 0, 0]
        } else {
            [0, 1, 2].map(|i| ((p[i] + 1.0) * 0.5 * 255.0).clamp(0.0, 255.0) as u8)
        }
    });
}

/// The pointmap's depth as the official demo colours it (`vis_pointmap.py`): inverse depth
/// between `1/z_p99` (at least 1/250) and `1/z_p1` (at most 10), through TURBO; background (NaN)
/// grey 100. The official bounds span the whole video (two passes); a stream uses each frame's.
pub fn pointmap_depth(img: &mut Packed<'_>, pm: &PointmapResult) -> Result<()> {
    let lut = turbo()?;
    let points = pm.values();
    let (p1, p99) = pm.z_range.unwrap_or((1.0, 250.0));
    let max_inv = (1.0 / p1.max(1e-6)).min(10.0);
    let min_inv = (1.0 / 250.0f32).max(1.0 / p99.max(1e-6));
    let span = if max_inv > min_inv {
        max_inv - min_inv
    } else {
        1.0
    };
    let w = img.width as usize;
    img.map(|x, y, _| {
        let z = points[3 * (y * w + x) + 2];
        if z.is_nan() {
            [100, 100, 100]
        } else {
            let inv = 1.0 / z.max(1e-6);
            lut[((inv - min_inv) / span * 255.0).clamp(0.0, 255.0) as usize]
        }
    });
    Ok(())
}
