//! Reading a mapped GStreamer video frame as a [`FrameView`] (no copy).
use gst_video::prelude::*;
use gst_video::{VideoChromaSite, VideoColorMatrix, VideoColorRange, VideoFormat};

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
    let view = FrameView {
        layout,
        width: info.width(),
        height: info.height(),
        planes,
        matrix: yuv_matrix(info)?,
    };
    f(&view)
}

/// How the caps say YUV samples become RGB: colour matrix (BT.601, BT.709, BT.2020, SMPTE 240M,
/// FCC; unknown = BT.601, GStreamer's own default), range, and chroma siting (co-sited axes from
/// `chroma-site`; absent or unknown = centred, as GStreamer's converter assumes). Unused for
/// packed RGB formats.
pub fn yuv_matrix(info: &gst_video::VideoInfo) -> Result<YuvMatrix> {
    if !info.is_yuv() {
        return Ok(YuvMatrix::BT601);
    }
    let c = info.colorimetry();
    let (kr, kb) = match c.matrix() {
        VideoColorMatrix::Unknown => (0.299, 0.114),
        m => m.kr_kb().map_err(|_| {
            Error::UnsupportedVideo(format!(
                "colour matrix {m:?} for {} (YUV needs BT.601, BT.709, BT.2020, SMPTE 240M or FCC)",
                info.format()
            ))
        })?,
    };
    let site = info.chroma_site();
    let origin = |cosited| if site.contains(cosited) { 0.0 } else { 0.5 };
    Ok(YuvMatrix {
        kr: kr as f32,
        kb: kb as f32,
        full_range: c.range() == VideoColorRange::Range0_255,
        chroma_origin: [
            origin(VideoChromaSite::H_COSITED),
            origin(VideoChromaSite::V_COSITED),
        ],
    })
}
