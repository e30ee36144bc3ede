//! `sapiensdepth`: relative depth of the whole frame, attached as `SapiensDepthMeta` at frame
//! size; background masked (NaN) with the seg result on the same buffer when one is there.
use crate::config::Config;
use crate::elements::dense::{DenseHead, DenseKind};
use crate::error::Result;
use crate::heads::depth::depth;
use crate::meta::dense::{DenseInfo, DepthResult, SegResult};

/// The seg class map on `buffer` when it matches the frame size.
pub(crate) fn seg_labels(buffer: &gst::BufferRef, info: DenseInfo) -> Result<Option<SegResult>> {
    Ok(SegResult::from_buffer(buffer)?
        .filter(|s| (s.info.width, s.info.height) == (info.width, info.height)))
}

#[derive(Default)]
pub struct DepthKind;

pub struct DepthHead;

impl DenseHead for DepthHead {
    const META: &'static str = crate::meta::dense::DEPTH_META;
    fn attach(
        &self,
        output: &[f32],
        _c: usize,
        w: usize,
        h: usize,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let seg = seg_labels(buffer, info)?;
        let d = depth(
            output,
            w,
            h,
            info.width as usize,
            info.height as usize,
            seg.as_ref().map(|s| s.labels()),
        );
        DepthResult::new(info, seg.is_some(), d.range, d.values).attach(buffer)
    }
}

impl DenseKind for DepthKind {
    type Head = DepthHead;
    const FACTORY: &'static str = "sapiensdepth";
    const LONG_NAME: &'static str = "Sapiens relative depth";
    const DESCRIPTION: &'static str = "Relative depth of the whole frame with Meta's Sapiens models on ONNX Runtime; background \
        masked with an upstream sapiensseg result; results as SapiensDepthMeta";

    fn head(&self, _config: &Config) -> Result<DepthHead> {
        Ok(DepthHead)
    }
}

crate::dense_element!(
    SapiensDepth,
    "GstSapiensDepth",
    crate::elements::sapiensdepth::DepthKind
);
