//! `sapiensseg`: 28-class body-part segmentation of the whole frame, attached as
//! `SapiensSegMeta` (a frame-size class map; class 0 is background, the foreground mask later
//! heads use).
use std::sync::Mutex;

use glib::prelude::*;
use gst::prelude::*;

use crate::config::{Config, SegMode};
use crate::elements::dense::{DenseHead, DenseKind};
use crate::elements::inference::lock;
use crate::error::Result;
use crate::heads::seg;
use crate::meta::dense::{DenseInfo, SegResult};

/// `mode`: how logits become the frame-size class map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSapiensSegMode")]
pub enum ModeProperty {
    #[default]
    #[enum_value(
        name = "The config's [seg] mode (exact unless it says otherwise)",
        nick = "config"
    )]
    Config,
    #[enum_value(
        name = "Upsample logits bilinearly, then argmax (the official demo)",
        nick = "exact"
    )]
    Exact,
    #[enum_value(
        name = "Argmax at model resolution, then nearest upsample",
        nick = "fast"
    )]
    Fast,
}

#[derive(Default)]
pub struct SegKind {
    mode: Mutex<ModeProperty>,
}

pub struct SegHead {
    mode: SegMode,
}

impl DenseHead for SegHead {
    const HEAD: crate::config::Head = crate::config::Head::Seg;
    const META: &'static str = crate::meta::dense::SEG_META;
    fn attach(
        &self,
        output: &[f32],
        c: usize,
        w: usize,
        h: usize,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let labels = seg::labels(
            output,
            c,
            w,
            h,
            info.width as usize,
            info.height as usize,
            self.mode,
        );
        SegResult::new(info, self.mode, labels).attach(buffer)
    }
}

impl DenseKind for SegKind {
    type Head = SegHead;
    const FACTORY: &'static str = "sapiensseg";
    const LONG_NAME: &'static str = "Sapiens body-part segmentation";
    const DESCRIPTION: &'static str = "28-class Goliath body-part segmentation of the whole frame with Meta's Sapiens models on \
        ONNX Runtime; results as SapiensSegMeta (frame-size class map)";

    fn extra_properties() -> Vec<glib::ParamSpec> {
        vec![
            glib::ParamSpecEnum::builder::<ModeProperty>("mode")
                .nick("Upsampling mode")
                .blurb("exact: argmax of bilinearly upsampled logits (official); fast: argmax at model resolution, nearest upsample")
                .mutable_ready()
                .build(),
        ]
    }

    fn set_extra(&self, name: &str, value: &glib::Value) -> bool {
        name == "mode" && {
            *lock(&self.mode) = value.get().unwrap_or_default();
            true
        }
    }

    fn get_extra(&self, name: &str) -> Option<glib::Value> {
        (name == "mode").then(|| lock(&self.mode).to_value())
    }

    fn head(&self, config: &Config) -> Result<SegHead> {
        let mode = match *lock(&self.mode) {
            ModeProperty::Config => config.seg.as_ref().map(|s| s.mode).unwrap_or_default(),
            ModeProperty::Exact => SegMode::Exact,
            ModeProperty::Fast => SegMode::Fast,
        };
        Ok(SegHead { mode })
    }
}

crate::dense_element!(
    SapiensSeg,
    "GstSapiensSeg",
    crate::elements::sapiensseg::SegKind
);
