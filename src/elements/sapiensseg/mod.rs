//! `sapiensseg` (`GstSapiensSeg`, a `GstSapiensDense`): body-part segmentation of the whole frame
//! (v1's 28 Goliath classes or Sapiens2's 29, as the config's `[seg] classes` says), attached as
//! `SapiensSegMeta` (a frame-size class map; class 0 is background, the foreground mask later
//! heads use).
mod imp;

use gst::glib;

use crate::config::{Config, SegMode};
use crate::elements::dense::{DenseHead, DenseOutput};
use crate::error::Result;
use crate::heads::seg;
use crate::labels::SegClassSetId;
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

/// The seg head: logits → frame-size class map, in `mode`.
pub struct SegHead {
    mode: SegMode,
    classes: SegClassSetId,
}

impl DenseHead for SegHead {
    const HEAD: crate::config::Head = crate::config::Head::Seg;
    const META: &'static str = crate::meta::dense::SEG_META;
    fn attach(
        &self,
        output: DenseOutput<'_>,
        _: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()> {
        let (w, h) = (info.width as usize, info.height as usize);
        let labels = if self.classes.is_probability() {
            // One foreground probability p: the logits (0.5, p) have the person as argmax
            // where p > 0.5, in either mode (a 0/1 label map from a graph gives the same).
            let p = output.planes;
            let two: Vec<f32> = std::iter::repeat_n(0.5, p.data.len())
                .chain(p.data.iter().copied())
                .collect();
            let planes = crate::heads::Planes {
                data: &two,
                c: 2,
                h: p.h,
                w: p.w,
            };
            seg::labels(planes, w, h, self.mode)
        } else if output.planes.c == 1 && self.classes.count() > 1 {
            // Labels computed in the model's graph: the same as `fast` from logits.
            seg::labels_from_map(output.planes, w, h)?
        } else {
            seg::labels(output.planes, w, h, self.mode)
        };
        SegResult::new(info, self.mode, self.classes, labels).attach(buffer)
    }

    fn accepts_form(
        &self,
        form: usize,
        loaded: &crate::elements::inference::LoadedModel,
    ) -> Result<()> {
        match (form, self.mode) {
            (0, _) | (1, SegMode::Fast) => Ok(()),
            _ => Err(crate::error::Error::Config {
                path: loaded.config.source.clone(),
                msg: format!(
                    "mode=exact takes the argmax of the upsampled logits, but {} gives class labels (argmax in its graph): use mode=fast (the same labels as from its logits), or a model with logits",
                    loaded.session.path().display()
                ),
            }),
        }
    }
}

impl SegHead {
    /// The head with the mode the `mode` property value selects for `config`.
    pub fn new(mode: ModeProperty, config: &Config) -> Self {
        Self {
            mode: mode.resolve(config),
            classes: config.seg().map(|s| s.classes).unwrap_or_default(),
        }
    }
}

impl ModeProperty {
    /// The mode this property value selects for `config`.
    fn resolve(self, config: &Config) -> SegMode {
        match self {
            ModeProperty::Config => config.seg().map(|s| s.mode).unwrap_or_default(),
            ModeProperty::Exact => SegMode::Exact,
            ModeProperty::Fast => SegMode::Fast,
        }
    }
}

glib::wrapper! {
    pub struct SapiensSeg(ObjectSubclass<imp::SapiensSeg>)
        @extends crate::elements::dense::SapiensDense, crate::elements::inference::SapiensInference,
        gst::Element, gst::Object;
}
