//! `sapiensnormal`: unit surface normals of the whole frame, attached as `SapiensNormalMeta` at
//! frame size; background masked (NaN) with the seg result on the same buffer when one is there.
use crate::config::Config;
use crate::elements::dense::{DenseHead, DenseKind};
use crate::elements::sapiensdepth::seg_labels;
use crate::error::Result;
use crate::heads::normal::normals;
use crate::meta::dense::{DenseInfo, NormalResult};

#[derive(Default)]
pub struct NormalKind;

pub struct NormalHead;

impl DenseHead for NormalHead {
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
        let seg = seg_labels(buffer, info)?;
        let n = normals(
            output,
            w,
            h,
            info.width as usize,
            info.height as usize,
            seg.as_ref().map(|s| s.labels()),
        );
        NormalResult::new(info, seg.is_some(), n).attach(buffer)
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
