//! Reading a mapped GStreamer video frame as a [`FrameView`] (no copy).
use gst_video::prelude::*;
use gst_video::{VideoColorMatrix, VideoColorRange, VideoFormat};

use crate::error::{Error, Result};
use crate::preprocess::{FrameView, PixelLayout, YuvMatrix};

/// Packed RGB-family formats (what drawing elements accept).
pub const PACKED_FORMATS: &[VideoFormat] = &[
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Argb,
    VideoFormat::Abgr,
];

/// Raw formats the inference elements accept: the packed ones plus planar YUV.
pub fn formats() -> impl Iterator<Item = VideoFormat> {
    PACKED_FORMATS
        .iter()
        .copied()
        .chain([VideoFormat::I420, VideoFormat::Nv12])
}

/// The pixel layout of `format` (alpha is read as padding).
pub fn layout(format: VideoFormat) -> Result<PixelLayout> {
    Ok(match format {
        VideoFormat::Rgb => PixelLayout::RGB,
        VideoFormat::Bgr => PixelLayout::BGR,
        VideoFormat::Rgbx | VideoFormat::Rgba => PixelLayout::RGBX,
        VideoFormat::Bgrx | VideoFormat::Bgra => PixelLayout::BGRX,
        VideoFormat::Xrgb | VideoFormat::Argb => PixelLayout::XRGB,
        VideoFormat::Xbgr | VideoFormat::Abgr => PixelLayout::XBGR,
        VideoFormat::I420 => PixelLayout::I420,
        VideoFormat::Nv12 => PixelLayout::Nv12,
        other => {
            return Err(Error::UnsupportedVideo(format!(
                "format {} (supported: {})",
                other.to_str(),
                formats()
                    .map(|f| f.to_str().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    })
}

/// Maps `buffer` readable and calls `f` with a view of its planes.
pub fn with_view<R>(
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    f: impl FnOnce(&FrameView<'_>) -> Result<R>,
) -> Result<R> {
    let layout = layout(info.format())?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).map_err(|e| {
        Error::UnsupportedVideo(format!(
            "cannot map a {}x{} {} buffer: {e}",
            info.width(),
            info.height(),
            info.format()
        ))
    })?;
    let mut planes = Vec::with_capacity(frame.n_planes() as usize);
    for i in 0..frame.n_planes() {
        let data = frame
            .plane_data(i)
            .map_err(|e| Error::UnsupportedVideo(format!("plane {i}: {e}")))?;
        planes.push((data, frame.plane_stride()[i as usize] as usize));
    }
    let colorimetry = info.colorimetry();
    let full_range = colorimetry.range() == VideoColorRange::Range0_255;
    let matrix = match colorimetry.matrix() {
        VideoColorMatrix::Bt709 => YuvMatrix::BT709,
        _ => YuvMatrix::BT601,
    };
    let view = FrameView {
        layout,
        width: info.width(),
        height: info.height(),
        planes,
        matrix: YuvMatrix {
            full_range,
            ..matrix
        },
    };
    f(&view)
}
