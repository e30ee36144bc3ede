//! The dense heads' stages: the whole frame stretched to the model input (SAPIENS.md 3.1) or
//! letterboxed (Sapiens2 normal and pointmap, SAPIENS2.md 4.3: the padding is cropped off the
//! output before the head sees it), computed once per buffer and reused by the next dense head
//! with the same contract through [`InputTensor`] metadata, one ORT run per batch of frames, and
//! the head's result attached at frame size. What differs per head is a [`DenseHead`].
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{DenseResize, Head};
use crate::elements::frame;
use crate::elements::inference::{LoadedModel, ModelIo};
use crate::error::Result;
use crate::geometry::Letterbox;
use crate::heads::Planes;
use crate::meta::dense::{DenseInfo, SegResult};
use crate::meta::tensor::InputTensor;
use crate::pipelining::Stages;
use crate::preprocess::{Sampling, sample_normalize};
use crate::runtime::FrameOutputs;

/// A dense head: how one frame's output becomes its result.
pub trait DenseHead: Send + Sync + 'static {
    /// The config head it runs (a config for another head is refused).
    const HEAD: Head;
    /// The custom meta its result is attached as.
    const META: &'static str;
    /// Turns one frame's output into the frame-size result on `buffer`; `mask`: the frame-size
    /// seg class map (0 = background) when the buffer carries one.
    fn attach(
        &self,
        output: DenseOutput<'_>,
        mask: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()>;
    /// Whether the head can work from the model's output form (`form` as in
    /// [`crate::elements::inference::ModelIo::form`]; only the model's own form, 0, by default).
    /// An error names why.
    fn accepts_form(&self, form: usize, _loaded: &LoadedModel) -> Result<()> {
        match form {
            0 => Ok(()),
            f => Err(crate::error::Error::Invalid(format!(
                "{}: no use for output form {f}",
                Self::HEAD.element()
            ))),
        }
    }
}

/// One frame's model output as a head reads it.
pub struct DenseOutput<'a> {
    /// The main output's planes covering the frame (a letterbox's padding cropped off).
    pub planes: Planes<'a>,
    /// One item of each extra output the config names (e.g. pointmap's scale), in order.
    pub extras: Vec<&'a [f32]>,
    /// Model input px per frame px, horizontally and vertically (the resize factors).
    pub input_per_frame_px: (f64, f64),
}

/// The three stages of a dense head.
pub struct DenseStages<H: DenseHead> {
    head: H,
    io: ModelIo,
    sharing: InputSharing,
    resize: DenseResize,
    /// Extra outputs' item shapes, config order.
    extra_items: Vec<Vec<usize>>,
}

/// Frames whose input tensor a dense element computed, and frames where it reused the one an
/// earlier dense head left on the buffer (properties `tensors-computed`, `tensors-reused`).
#[derive(Debug, Default)]
pub struct TensorCounters {
    pub computed: AtomicU64,
    pub reused: AtomicU64,
}

/// How a dense element treats the shared input tensor.
#[derive(Debug, Clone)]
pub struct InputSharing {
    /// Property `share-input`: reuse a matching tensor from upstream and leave ours for
    /// downstream (false is for measuring what sharing saves).
    pub share: bool,
    pub counters: Arc<TensorCounters>,
}

/// A frame's model input: computed here (and left on the buffer for the next head) or reused.
pub struct DensePre {
    tensor: InputTensor,
    fresh: bool,
}

pub struct DenseInferred {
    pre: DensePre,
    outputs: FrameOutputs,
}

impl<H: DenseHead> DenseStages<H> {
    /// Checks the config and model (input `[b,3,H,W]`, output `[b,C,H/s,W/s]`) and builds the
    /// stages.
    pub fn new(loaded: &LoadedModel, head: H, sharing: InputSharing) -> Result<Self> {
        let cfg = &loaded.config;
        let io = ModelIo::new(loaded, H::HEAD)?;
        head.accepts_form(io.form, loaded)?;
        Ok(Self {
            head,
            io,
            sharing,
            resize: cfg.input.resize,
            extra_items: cfg
                .extra_outputs()
                .iter()
                .map(|e| e.item.iter().map(|&d| d as usize).collect())
                .collect(),
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
            .sharing
            .share
            .then(|| InputTensor::matching(buffer, &self.io.norm, size, self.resize))
            .transpose()?
            .flatten()
        {
            self.sharing.counters.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(DensePre {
                tensor,
                fresh: false,
            });
        }
        let mut data = vec![0.0f32; self.io.norm.item_len()];
        let sampling = match self.resize {
            DenseResize::Stretch => Sampling::Stretch,
            DenseResize::Letterbox => Sampling::Letterbox(self.letterbox(size)),
        };
        frame::with_view(buffer, info, |view| {
            sample_normalize(view, &sampling, &self.io.norm, &mut data)
        })?;
        self.sharing
            .counters
            .computed
            .fetch_add(1, Ordering::Relaxed);
        Ok(DensePre {
            tensor: InputTensor::new(self.io.norm, size, self.resize, data),
            fresh: true,
        })
    }

    fn infer(&self, batch: Vec<DensePre>) -> Result<Vec<DenseInferred>> {
        let tensors = batch.iter().map(|p| p.tensor.values()).collect();
        let outputs = self.io.run_all(tensors, &vec![1; batch.len()])?;
        Ok(batch
            .into_iter()
            .zip(outputs)
            .map(|(pre, outputs)| DenseInferred { pre, outputs })
            .collect())
    }

    fn postprocess(
        &self,
        inferred: DenseInferred,
        buffer: &mut gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<()> {
        // The model's own form ([C, h, w]) or one computed in its graph (seg labels: [1, h, w]).
        let [c, h, w] = [0, 1, 2].map(|i| self.io.form_item[i]);
        let data = inferred.outputs[0].checked_item(0, &self.io.form_item)?;
        let extras = inferred.outputs[1..]
            .iter()
            .zip(&self.extra_items)
            .map(|(o, item)| o.checked_item(0, item))
            .collect::<Result<Vec<_>>>()?;
        let (fw, fh) = (info.width(), info.height());
        let (in_w, in_h) = (self.io.norm.width as f64, self.io.norm.height as f64);
        let cropped;
        let (planes, input_per_frame_px) = match self.resize {
            DenseResize::Stretch => (
                Planes { data, c, h, w },
                (in_w / fw as f64, in_h / fh as f64),
            ),
            DenseResize::Letterbox => {
                let lb = self.letterbox((fw, fh));
                let stride = self.io.norm.width as usize / w;
                let (x0, y0, cw, ch) = lb.output_region(stride as u32);
                let (cw, ch) = (cw.min(w - x0.min(w)), ch.min(h - y0.min(h)));
                cropped = crop_planes(Planes { data, c, h, w }, x0, y0, cw, ch);
                (
                    Planes {
                        data: &cropped,
                        c,
                        h: ch,
                        w: cw,
                    },
                    (lb.inner_w as f64 / fw as f64, lb.inner_h as f64 / fh as f64),
                )
            }
        };
        let output = DenseOutput {
            planes,
            extras,
            input_per_frame_px,
        };
        let dense = DenseInfo {
            width: info.width(),
            height: info.height(),
            untrained: self.io.untrained,
            carried: false,
        };
        // The seg result on this buffer, if any, at this frame's size: the foreground mask.
        let seg = SegResult::from_buffer(buffer)?
            .filter(|s| (s.info.width, s.info.height) == (dense.width, dense.height));
        let mask = seg.as_ref().map(|s| s.labels());
        self.head.attach(output, mask, dense, buffer)?;
        if inferred.pre.fresh && self.sharing.share {
            inferred.pre.tensor.attach(buffer)?;
        }
        Ok(())
    }
}

impl<H: DenseHead> DenseStages<H> {
    fn letterbox(&self, (w, h): (u32, u32)) -> Letterbox {
        Letterbox::new(w, h, self.io.norm.width, self.io.norm.height)
    }
}

/// The `cw`×`ch` window at (`x0`, `y0`) of each plane, as new planes (row-major, plane after
/// plane).
fn crop_planes(p: Planes<'_>, x0: usize, y0: usize, cw: usize, ch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(p.c * cw * ch);
    for plane in p.data.chunks_exact(p.w * p.h).take(p.c) {
        for row in plane.chunks_exact(p.w).skip(y0).take(ch) {
            out.extend_from_slice(&row[x0..x0 + cw]);
        }
    }
    out
}
