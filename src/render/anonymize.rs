//! Hiding who people are: each person's pixels blurred, pixelated or filled — by the seg mask
//! when a seg result of the frame's size is there, else by the person boxes — or the whole
//! picture blanked or blurred, so that only what is drawn on top (skeletons, zones) is seen.
use gst::glib;
use opencv::core::{Mat, Point, Rect, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

use super::Canvas;
use super::compose::Results;
use super::dense::Packed;
use crate::error::Result;

/// What is hidden, and how (`sapiensoverlay anonymize=…`, `sapiens run --anonymize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum, clap::ValueEnum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensAnonymize")]
pub enum Anonymize {
    #[default]
    #[enum_value(name = "Nothing hidden", nick = "none")]
    None,
    #[enum_value(name = "Each person blurred (seg mask, else box)", nick = "blur")]
    Blur,
    #[enum_value(name = "Each person pixelated (seg mask, else box)", nick = "pixelate")]
    Pixelate,
    #[enum_value(name = "Each person filled grey (seg mask, else box)", nick = "fill")]
    Fill,
    #[enum_value(
        name = "The whole picture black: only the drawing shows",
        nick = "blank"
    )]
    Blank,
    #[enum_value(
        name = "The whole picture blurred under the drawing",
        nick = "blur-all"
    )]
    BlurAll,
}

impl Anonymize {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Blur => "blur",
            Self::Pixelate => "pixelate",
            Self::Fill => "fill",
            Self::Blank => "blank",
            Self::BlurAll => "blur-all",
        }
    }
}

/// Fill colour (RGB).
const FILL_RGB: [u8; 3] = [70, 70, 70];

/// Blur kernel, px: a 16th of the picture's larger side, odd.
fn blur_kernel(w: i32, h: i32) -> i32 {
    (w.max(h) / 16) | 1
}

/// Pixelation block, px: a 40th of the picture's larger side, at least 4.
fn block(w: i32, h: i32) -> i32 {
    (w.max(h) / 40).max(4)
}

/// The persons' pixels (255) of a `w`×`h` frame: the seg result's non-background classes, else
/// the person boxes; `None` when nobody is there.
fn person_mask(results: &Results, w: i32, h: i32) -> Result<Option<Mat>> {
    if let Some(seg) = &results.seg {
        let mask: Vec<u8> = seg
            .labels()
            .iter()
            .map(|&l| if l == 0 { 0 } else { 255 })
            .collect();
        if !mask.contains(&255) {
            return Ok(None);
        }
        return Ok(Some(
            Mat::new_rows_cols_with_data(h, w, &mask)?.try_clone()?,
        ));
    }
    if results.person_boxes.is_empty() {
        return Ok(None);
    }
    let mut mask = Mat::new_rows_cols_with_default(h, w, opencv::core::CV_8U, Scalar::all(0.0))?;
    for b in &results.person_boxes {
        let (x1, y1) = (b.x1.floor().max(0.0) as i32, b.y1.floor().max(0.0) as i32);
        let (x2, y2) = (
            b.x2.ceil().min(w as f32) as i32,
            b.y2.ceil().min(h as f32) as i32,
        );
        if x2 > x1 && y2 > y1 {
            imgproc::rectangle(
                &mut mask,
                Rect::new(x1, y1, x2 - x1, y2 - y1),
                Scalar::all(255.0),
                imgproc::FILLED,
                imgproc::LINE_8,
                0,
            )?;
        }
    }
    Ok(Some(mask))
}

fn blurred(src: &Mat) -> Result<Mat> {
    let k = blur_kernel(src.cols(), src.rows());
    let mut out = Mat::default();
    imgproc::blur(
        src,
        &mut out,
        Size::new(k, k),
        Point::new(-1, -1),
        opencv::core::BORDER_REPLICATE,
    )?;
    Ok(out)
}

fn pixelated(src: &Mat) -> Result<Mat> {
    let b = block(src.cols(), src.rows());
    let small_size = Size::new((src.cols() / b).max(1), (src.rows() / b).max(1));
    let (mut small, mut out) = (Mat::default(), Mat::default());
    imgproc::resize(src, &mut small, small_size, 0.0, 0.0, imgproc::INTER_AREA)?;
    imgproc::resize(
        &small,
        &mut out,
        src.size()?,
        0.0,
        0.0,
        imgproc::INTER_NEAREST,
    )?;
    Ok(out)
}

/// Hides what `mode` says in `img`, in place.
pub fn apply(img: &mut Packed<'_>, results: &Results, mode: Anonymize) -> Result<()> {
    if mode == Anonymize::None {
        return Ok(());
    }
    let (w, h) = (img.width as i32, img.height as i32);
    let mut canvas = Canvas::over(img)?;
    let black = canvas.color([0, 0, 0]);
    let grey = canvas.color(FILL_RGB);
    let frame = &mut canvas.mat;
    match mode {
        Anonymize::None => {}
        Anonymize::Blank => {
            frame.set_to(&black, &opencv::core::no_array())?;
        }
        Anonymize::BlurAll => blurred(frame)?.copy_to(frame)?,
        Anonymize::Blur | Anonymize::Pixelate | Anonymize::Fill => {
            let Some(mask) = person_mask(results, w, h)? else {
                return Ok(());
            };
            match mode {
                Anonymize::Blur => blurred(frame)?.copy_to_masked(frame, &mask)?,
                Anonymize::Pixelate => pixelated(frame)?.copy_to_masked(frame, &mask)?,
                _ => {
                    frame.set_to(&grey, &mask)?;
                }
            }
        }
    }
    Ok(())
}
