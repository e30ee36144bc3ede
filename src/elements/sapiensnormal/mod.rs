//! `sapiensnormal`: unit surface normals of the whole frame, attached as `SapiensNormalMeta` at
//! frame size; background masked (NaN) with the seg result on the same buffer when one is there.
use crate::config::Config;
use crate::elements::dense::{DenseHead, DenseKind, masked_by_seg};
use crate::error::Result;
use crate::heads::normal::normals;
use crate::meta::dense::{DenseInfo, NormalResult};

#[derive(Default)]
pub struct NormalKind;

pub struct NormalHead;

impl DenseHead for NormalHead {
    const HEAD: crate::config::Head = crate::config::Head::Normal;
    const META: &'static str = crate::meta::dense::NORMAL_META;
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
        let (n, masked) =
            masked_by_seg(buffer, info, |labels| normals(output, w, h, fw, fh, labels))?;
        NormalResult::new(info, masked, n).attach(buffer)
    }
}

impl DenseKind for NormalKind {
    type Head = NormalHead;
    const FACTORY: &'static str = "sapiensnormal";
    const LONG_NAME: &'static str = "Sapiens surface normals";
    const DESCRIPTION: &'static str = "Unit surface normals of the whole frame with Meta's Sapiens models on ONNX Runtime; \
        background masked with an upstream sapiensseg result; results as SapiensNormalMeta";

    fn head(&self, _config: &Config) -> Result<NormalHead> {
        Ok(NormalHead)
    }
}

crate::dense_element!(
    SapiensNormal,
    "GstSapiensNormal",
    crate::elements::sapiensnormal::NormalKind
);
