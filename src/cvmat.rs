//! OpenCV `Mat`s over borrowed frame memory (no copy), with the size check that makes them
//! safe to build. Shared by pre-processing (reads) and rendering (draws in place).
use std::ffi::c_void;

use opencv::core::{self as cv, Mat};

use crate::error::{Error, Result};

/// Checks that a plane of `len` bytes holds `height` rows of `width` x `channels` bytes at `stride`.
pub fn check_plane(
    len: usize,
    stride: usize,
    width: u32,
    height: u32,
    channels: usize,
) -> Result<()> {
    let row_bytes = width as usize * channels;
    if height == 0 || stride < row_bytes || len < stride * (height as usize - 1) + row_bytes {
        return Err(Error::UnsupportedVideo(format!(
            "plane of {len} bytes, stride {stride}, too small for {width}x{height}x{channels}"
        )));
    }
    Ok(())
}

/// An 8-bit `channels`-channel `Mat` over `len` bytes at `data` (rows `stride` bytes apart),
/// after checking with [`check_plane`] that they hold the image.
///
/// # Safety
/// `data..data+len` must stay valid (and unaliased, if the Mat is written) while the Mat lives.
pub unsafe fn mat_over(
    data: *mut u8,
    len: usize,
    stride: usize,
    width: u32,
    height: u32,
    channels: usize,
) -> Result<Mat> {
    check_plane(len, stride, width, height, channels)?;
    let typ = cv::CV_MAKETYPE(cv::CV_8U, channels as i32);
    // SAFETY: the caller guarantees the memory; its size was checked above.
    Ok(unsafe {
        Mat::new_rows_cols_with_data_unsafe(
            height as i32,
            width as i32,
            typ,
            data as *mut c_void,
            stride,
        )?
    })
}
