//! `sapiensdepth` (`GstSapiensDepth`, a `GstSapiensDense`): relative depth of the whole frame, attached as `SapiensDepthMeta` at frame
//! size; background masked (NaN) with the seg result on the same buffer when one is there.
mod imp;

use crate::elements::dense::{DenseHead, DenseOutput};
use gst::glib;

use crate::error::Result;
use crate::heads::depth::depth;
use crate::meta::dense::{DenseInfo, DepthResult};

/// The sapiensdepth head: model output → frame-size result.
pub struct DepthHead;

impl DenseHead for DepthHead {
    const HEAD: crate::config::Head = crate::config::Head::Depth;
    const META: &'static str = crate::meta::dense::DEPTH_META;
    fn attach(
        &self,
        output: DenseOutput<'_>,
        mask: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let d = depth(
            output.planes,
            info.width as usize,
            info.height as usize,
            mask,
        );
        DepthResult::new(info, mask.is_some(), d.range, d.values).attach(buffer)
    }
}

glib::wrapper! {
    pub struct SapiensDepth(ObjectSubclass<imp::SapiensDepth>)
        @extends crate::elements::dense::SapiensDense, crate::elements::inference::SapiensInference,
        gst::Element, gst::Object;
}
