//! Drawing results onto video frames with OpenCV (in place, on the frame's own memory).
pub mod analytics;
pub mod anonymize;
pub mod compose;
pub mod dense;
pub mod pose;

use std::marker::PhantomData;

use opencv::core::{Mat, Point, Rect, Scalar};
use opencv::imgproc;
use opencv::prelude::*;

use crate::cvmat::mat_over;
use crate::error::Result;
use crate::preprocess::PixelLayout;

/// A packed RGB-family frame wrapped as an OpenCV `Mat` without copying; it borrows the frame's
/// memory mutably for its whole life.
pub struct Canvas<'a> {
    mat: Mat,
    channels: usize,
    rgb: [usize; 3],
    _frame: PhantomData<&'a mut [u8]>,
}

impl<'a> Canvas<'a> {
    /// Wraps the memory of `img` for OpenCV drawing.
    pub fn over(img: &'a mut dense::Packed<'_>) -> Result<Self> {
        let PixelLayout::Packed {
            bytes_per_pixel,
            rgb,
        } = img.layout()
        else {
            unreachable!("Packed images are packed")
        };
        // SAFETY: `img` is borrowed mutably for the canvas' life `'a`, so its memory stays alive
        // and nobody else touches it while the Mat points into it; `Packed::new` checked its size.
        let mat = unsafe {
            mat_over(
                img.data.as_mut_ptr(),
                img.data.len(),
                img.stride,
                img.width,
                img.height,
                bytes_per_pixel,
            )?
        };
        Ok(Self {
            mat,
            channels: bytes_per_pixel,
            rgb,
            _frame: PhantomData,
        })
    }

    /// The frame's pixel value for an RGB colour (padding/alpha bytes set to 255).
    pub fn color(&self, rgb: [u8; 3]) -> Scalar {
        let mut v = [255.0; 4];
        for (c, &off) in self.rgb.iter().enumerate() {
            v[off] = rgb[c] as f64;
        }
        if self.channels == 3 {
            Scalar::new(v[0], v[1], v[2], 0.0)
        } else {
            Scalar::new(v[0], v[1], v[2], v[3])
        }
    }

    pub fn width(&self) -> i32 {
        self.mat.cols()
    }

    pub fn height(&self) -> i32 {
        self.mat.rows()
    }

    pub fn circle(&mut self, center: Point, radius: i32, rgb: [u8; 3]) -> Result<()> {
        let c = self.color(rgb);
        imgproc::circle(
            &mut self.mat,
            center,
            radius,
            c,
            imgproc::FILLED,
            imgproc::LINE_AA,
            0,
        )?;
        Ok(())
    }

    pub fn line(&mut self, a: Point, b: Point, rgb: [u8; 3], thickness: i32) -> Result<()> {
        let c = self.color(rgb);
        imgproc::line(&mut self.mat, a, b, c, thickness, imgproc::LINE_AA, 0)?;
        Ok(())
    }

    /// Rectangle outline, or filled when `thickness` is `imgproc::FILLED`.
    pub fn rect(&mut self, r: Rect, rgb: [u8; 3], thickness: i32) -> Result<()> {
        let c = self.color(rgb);
        imgproc::rectangle(&mut self.mat, r, c, thickness, imgproc::LINE_8, 0)?;
        Ok(())
    }

    /// Text with its top-left corner at `origin`, on a filled background box.
    pub fn label(
        &mut self,
        origin: Point,
        text: &str,
        scale: f64,
        fg: [u8; 3],
        bg: [u8; 3],
    ) -> Result<()> {
        let font = imgproc::FONT_HERSHEY_SIMPLEX;
        let thickness = (scale * 2.0).round().max(1.0) as i32;
        let mut baseline = 0;
        let size = imgproc::get_text_size(text, font, scale, thickness, &mut baseline)?;
        let pad = (4.0 * scale).round().max(2.0) as i32;
        let r = Rect::new(
            origin.x,
            origin.y,
            size.width + 2 * pad,
            size.height + baseline + 2 * pad,
        );
        self.rect(r, bg, imgproc::FILLED)?;
        let c = self.color(fg);
        let at = Point::new(origin.x + pad, origin.y + pad + size.height);
        imgproc::put_text(
            &mut self.mat,
            text,
            at,
            font,
            scale,
            c,
            thickness,
            imgproc::LINE_AA,
            false,
        )?;
        Ok(())
    }

    /// The red "UNTRAINED WEIGHTS" banner across the top of the frame.
    pub fn untrained_banner(&mut self) -> Result<()> {
        let scale = (self.width() as f64 / 1280.0).clamp(0.4, 1.5);
        self.label(
            Point::new(0, 0),
            "UNTRAINED WEIGHTS - generated test model, output is noise",
            scale,
            [255, 255, 255],
            [200, 0, 0],
        )
    }
}
