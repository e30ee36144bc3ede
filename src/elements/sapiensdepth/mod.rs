//! `sapiensdepth`: relative depth of the whole frame, attached as `SapiensDepthMeta` at frame
//! size; background masked (NaN) with the seg result on the same buffer when one is there.
use crate::config::Config;
use crate::elements::dense::{DenseHead, DenseKind, masked_by_seg};
use crate::error::Result;
use crate::heads::depth::depth;
use crate::meta::dense::{DenseInfo, DepthResult};

#[derive(Default)]
pub struct DepthKind;

pub struct DepthHead;

impl DenseHead for DepthHead {
    const HEAD: crate::config::Head = crate::config::Head::Depth;
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
        let (fw, fh) = (info.width as usize, info.height as usize);
        let (d, masked) =
            masked_by_seg(buffer, info, |labels| depth(output, w, h, fw, fh, labels))?;
        DepthResult::new(info, masked, d.range, d.values).attach(buffer)
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
