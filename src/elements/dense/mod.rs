//! What the dense-head elements (`sapiensseg`, `sapiensdepth`, `sapiensnormal`) share: the whole
//! frame stretched to the model input (SAPIENS.md 3.1, no letterbox), computed once per buffer
//! and reused by the next dense head through [`InputTensor`] metadata, one ORT run per frame, and
//! the element definition itself ([`dense_element!`]). What differs per head is a [`DenseKind`].
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{Config, Head, Weights};
use crate::elements::inference::{LoadedModel, frame};
use crate::error::{Error, Result};
use crate::meta::dense::{DenseInfo, SegResult};
use crate::meta::tensor::InputTensor;
use crate::pipelining::Stages;
use crate::preprocess::{Normalization, Sampling, sample_normalize};
use crate::runtime::BatchSlice;
use crate::runtime::contract::{self, Contract};
use crate::runtime::shared::Runner;

/// A dense head: how one frame's output becomes its result.
pub trait DenseHead: Send + Sync + 'static {
    /// The config head it runs (a config for another head is refused).
    const HEAD: Head;
    /// The custom meta its result is attached as.
    const META: &'static str;
    /// Turns one item's output (`c` planes of `w`×`h`, as [`Config::output_item`]) into the
    /// frame-size result on `buffer`.
    fn attach(
        &self,
        output: &[f32],
        c: usize,
        w: usize,
        h: usize,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()>;
}

/// Runs `f` on the frame-size seg class map (the foreground mask) that `buffer` carries, if
/// any; returns `f`'s result and whether a mask was there.
pub fn masked_by_seg<R>(
    buffer: &gst::BufferRef,
    info: DenseInfo,
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> Result<(R, bool)> {
    let seg = SegResult::from_buffer(buffer)?
        .filter(|s| (s.info.width, s.info.height) == (info.width, info.height));
    Ok((f(seg.as_ref().map(|s| s.labels())), seg.is_some()))
}

/// One dense element's specifics: metadata, extra properties, and its head from a config.
pub trait DenseKind: Default + Send + Sync + 'static {
    type Head: DenseHead;
    const FACTORY: &'static str;
    const LONG_NAME: &'static str;
    const DESCRIPTION: &'static str;
    fn extra_properties() -> Vec<glib::ParamSpec> {
        Vec::new()
    }
    /// Sets an extra property; `false` when `name` is not one.
    fn set_extra(&self, _name: &str, _value: &glib::Value) -> bool {
        false
    }
    fn get_extra(&self, _name: &str) -> Option<glib::Value> {
        None
    }
    fn head(&self, config: &Config) -> Result<Self::Head>;
}

/// The three stages of a dense head.
pub struct DenseStages<H: DenseHead> {
    head: H,
    runner: Runner,
    contract: Contract,
    norm: Normalization,
    /// One item's output shape `[c, h, w]`.
    out_item: [usize; 3],
    untrained: bool,
    tensors: Arc<TensorCounters>,
    share: bool,
}

/// Frames whose input tensor a dense element computed, and frames where it reused the one an
/// earlier dense head left on the buffer (properties `tensors-computed`, `tensors-reused`).
#[derive(Debug)]
pub struct TensorCounters {
    pub computed: AtomicU64,
    pub reused: AtomicU64,
    /// Property `share-input`: reuse a matching tensor from upstream and leave ours for
    /// downstream (default true; false is for measuring what sharing saves).
    pub share: std::sync::atomic::AtomicBool,
}

impl Default for TensorCounters {
    fn default() -> Self {
        Self {
            computed: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            share: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

/// A frame's model input: computed here (and left on the buffer for the next head) or reused.
pub struct DensePre {
    tensor: InputTensor,
    fresh: bool,
}

pub struct DenseInferred {
    pre: DensePre,
    output: BatchSlice,
}

impl<H: DenseHead> DenseStages<H> {
    /// Checks the model (input `[b,3,H,W]`, output `[b,C,H/s,W/s]`) and builds the stages.
    pub fn new(loaded: &LoadedModel, head: H, tensors: Arc<TensorCounters>) -> Result<Self> {
        let cfg = &loaded.config;
        let (h, w) = (cfg.input.height, cfg.input.width);
        if cfg.head() != H::HEAD {
            return Err(Error::Config {
                path: cfg.source.clone(),
                msg: format!(
                    "this element is {}, but the config is for {}",
                    H::HEAD.element(),
                    cfg.element()
                ),
            });
        }
        let out_item = cfg.output_item()?;
        let contract = contract::check(
            &loaded.session,
            &cfg.source,
            cfg.model.input_name.as_deref(),
            cfg.model.output_name.as_deref(),
            [3, h as i64, w as i64],
            &out_item,
        )?;
        Ok(Self {
            head,
            runner: loaded.runner.clone(),
            contract,
            norm: Normalization {
                width: w,
                height: h,
                mean: cfg.input.mean,
                std: cfg.input.std,
            },
            out_item: out_item.map(|d| d as usize),
            untrained: cfg.model.weights == Weights::Untrained,
            share: tensors.share.load(Ordering::Relaxed),
            tensors,
        })
    }
}

impl<H: DenseHead> Stages for DenseStages<H> {
    type Pre = DensePre;
    type Inferred = DenseInferred;

    fn result_metas(&self) -> &'static [&'static str] {
        std::slice::from_ref(&H::META)
    }

    fn preprocess(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<DensePre> {
        let size = (info.width(), info.height());
        if let Some(tensor) = self
            .share
            .then(|| InputTensor::matching(buffer, &self.norm, size))
            .transpose()?
            .flatten()
        {
            self.tensors.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(DensePre {
                tensor,
                fresh: false,
            });
        }
        let mut data = vec![0.0f32; self.norm.item_len()];
        frame::with_view(buffer, info, |view| {
            sample_normalize(view, &Sampling::Stretch, &self.norm, &mut data)
        })?;
        self.tensors.computed.fetch_add(1, Ordering::Relaxed);
        Ok(DensePre {
            tensor: InputTensor::new(self.norm, size, data),
            fresh: true,
        })
    }

    fn infer(&self, batch: Vec<DensePre>) -> Result<Vec<DenseInferred>> {
        let counts = vec![1; batch.len()];
        let slices = {
            let tensors = batch.iter().map(|p| p.tensor.values()).collect();
            self.runner.run_frames(
                &self.contract.input,
                &self.contract.output,
                tensors,
                &counts,
                &self.norm.item_shape(),
            )?
        };
        Ok(batch
            .into_iter()
            .zip(slices)
            .map(|(pre, output)| DenseInferred { pre, output })
            .collect())
    }

    fn postprocess(
        &self,
        inferred: DenseInferred,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<()> {
        let [c, oh, ow] = self.out_item;
        let item = inferred.output.checked_item(0, &self.out_item)?;
        let dense = DenseInfo {
            width: info.width(),
            height: info.height(),
            untrained: self.untrained,
            carried: false,
        };
        self.head.attach(item, c, ow, oh, dense, buffer)?;
        if inferred.pre.fresh && self.share {
            inferred.pre.tensor.attach(buffer)?;
        }
        Ok(())
    }
}

/// Defines a dense-head element `$name` (GType `$gtype`) for the [`DenseKind`] `$kind`, in a
/// module `imp`, plus the wrapper type and `register`.
#[macro_export]
macro_rules! dense_element {
    ($name:ident, $gtype:literal, $kind:ty) => {
        mod imp {
            use std::sync::{Arc, LazyLock};

            use gst::glib;
            use gst::prelude::*;
            use gst::subclass::prelude::*;

            use $crate::elements::dense::{DenseKind, DenseStages, TensorCounters};
            use $crate::elements::inference::{self, InferenceCore, InferenceElement};

            static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
                gst::DebugCategory::new(<$kind>::FACTORY, gst::DebugColorFlags::empty(), Some(<$kind>::LONG_NAME))
            });

            pub struct $name {
                core: InferenceCore,
                kind: $kind,
                tensors: Arc<TensorCounters>,
            }

            impl InferenceElement for $name {
                fn core(&self) -> &InferenceCore {
                    &self.core
                }
            }

            #[glib::object_subclass]
            impl ObjectSubclass for $name {
                const NAME: &'static str = $gtype;
                type Type = super::$name;
                type ParentType = gst::Element;

                fn with_class(_klass: &Self::Class) -> Self {
                    let (sinkpad, srcpad) = inference::pads::<Self>();
                    Self { core: InferenceCore::new(*CAT, sinkpad, srcpad), kind: Default::default(), tensors: Default::default() }
                }
            }

            impl ObjectImpl for $name {
                fn properties() -> &'static [glib::ParamSpec] {
                    static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
                        let mut p = inference::specs();
                        p.extend(<$kind>::extra_properties());
                        for (name, blurb) in [
                            ("tensors-computed", "Frames whose model input this element computed"),
                            ("tensors-reused", "Frames whose model input an earlier dense head computed (shared pre-processing)"),
                        ] {
                            p.push(glib::ParamSpecUInt64::builder(name).blurb(blurb).read_only().build());
                        }
                        p.push(
                            glib::ParamSpecBoolean::builder("share-input")
                                .blurb("Reuse the model input an earlier dense head left on the buffer, and leave this one's for later heads")
                                .default_value(true)
                                .mutable_ready()
                                .build(),
                        );
                        p
                    });
                    PROPS.as_ref()
                }

                fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
                    if pspec.name() == "share-input" {
                        self.tensors.share.store(value.get().unwrap_or(true), std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    let handled = self.core.set_property(value, pspec) || self.kind.set_extra(pspec.name(), value);
                    assert!(handled, "unknown property {}", pspec.name());
                }

                fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
                    let counter = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed).to_value();
                    match pspec.name() {
                        "tensors-computed" => return counter(&self.tensors.computed),
                        "tensors-reused" => return counter(&self.tensors.reused),
                        "share-input" => return self.tensors.share.load(std::sync::atomic::Ordering::Relaxed).to_value(),
                        _ => {}
                    }
                    self.core
                        .property(pspec)
                        .or_else(|| self.kind.get_extra(pspec.name()))
                        .unwrap_or_else(|| panic!("unknown property {}", pspec.name()))
                }

                fn constructed(&self) {
                    self.parent_constructed();
                    self.core.add_pads(self.obj().upcast_ref());
                }
            }

            impl GstObjectImpl for $name {}

            impl ElementImpl for $name {
                fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
                    static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
                        gst::subclass::ElementMetadata::new(
                            <$kind>::LONG_NAME,
                            "Filter/Analyzer/Video",
                            <$kind>::DESCRIPTION,
                            "sapiens-stream developers",
                        )
                    });
                    Some(&*META)
                }

                fn pad_templates() -> &'static [gst::PadTemplate] {
                    static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(inference::pad_templates);
                    TEMPLATES.as_ref()
                }

                fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
                    let obj = self.obj();
                    let element: &gst::Element = obj.upcast_ref();
                    self.core.change_state(element, transition, |t| self.parent_change_state(t), |loaded| {
                        Ok(Arc::new(DenseStages::new(loaded, self.kind.head(&loaded.config)?, self.tensors.clone())?))
                    })
                }
            }
        }

        gst::glib::wrapper! {
            pub struct $name(ObjectSubclass<imp::$name>) @extends gst::Element, gst::Object;
        }

        pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), gst::glib::BoolError> {
            use gst::prelude::*;
            gst::Element::register(plugin, <$kind as $crate::elements::dense::DenseKind>::FACTORY, gst::Rank::NONE, $name::static_type())
        }
    };
}
