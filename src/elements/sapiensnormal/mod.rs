//! `sapiensnormal` (`GstSapiensNormal`, a `GstSapiensDense`): unit surface normals of the whole frame, attached as `SapiensNormalMeta` at
//! frame size; background masked (NaN) with the seg result on the same buffer when one is there.
mod imp;

use crate::elements::dense::{DenseHead, masked_by_seg};
use gst::glib;

use crate::error::Result;
use crate::heads::Planes;
use crate::heads::normal::normals;
use crate::meta::dense::{DenseInfo, NormalResult};

/// The sapiensnormal head: model output → frame-size result.
pub struct NormalHead;

impl DenseHead for NormalHead {
    const HEAD: crate::config::Head = crate::config::Head::Normal;
    const META: &'static str = crate::meta::dense::NORMAL_META;
    fn attach(
        &self,
        output: Planes<'_>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let (fw, fh) = (info.width as usize, info.height as usize);
        let (n, masked) = masked_by_seg(buffer, info, |labels| normals(output, fw, fh, labels))?;
        NormalResult::new(info, masked, n).attach(buffer)
    }
}

glib::wrapper! {
    pub struct SapiensNormal(ObjectSubclass<imp::SapiensNormal>)
        @extends crate::elements::dense::SapiensDense, crate::elements::inference::SapiensInference,
        gst::Element, gst::Object;
}
