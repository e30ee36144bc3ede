//! `sapiensnormal` (`GstSapiensNormal`, a `GstSapiensDense`): unit surface normals of the whole frame, attached as `SapiensNormalMeta` at
//! frame size; background masked (NaN) with the seg result on the same buffer when one is there.
mod imp;

use crate::elements::dense::{DenseHead, DenseOutput};
use gst::glib;

use crate::error::Result;
use crate::heads::normal::normals;
use crate::meta::dense::{DenseInfo, NormalResult};

/// The sapiensnormal head: model output → frame-size result.
pub struct NormalHead;

impl DenseHead for NormalHead {
    const HEAD: crate::config::Head = crate::config::Head::Normal;
    const META: &'static str = crate::meta::dense::NORMAL_META;
    fn attach(
        &self,
        output: DenseOutput<'_>,
        mask: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let n = normals(
            output.planes,
            info.width as usize,
            info.height as usize,
            mask,
        );
        NormalResult::new(info, mask.is_some(), n).attach(buffer)
    }
}

glib::wrapper! {
    pub struct SapiensNormal(ObjectSubclass<imp::SapiensNormal>)
        @extends crate::elements::dense::SapiensDense, crate::elements::inference::SapiensInference,
        gst::Element, gst::Object;
}
