//! The dense heads' stages: the whole frame stretched to the model input (SAPIENS.md 3.1, no
//! letterbox), computed once per buffer and reused by the next dense head through
//! [`InputTensor`] metadata, one ORT run per batch of frames, and the head's result attached at
//! frame size. What differs per head is a [`DenseHead`].
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Head;
use crate::elements::frame;
use crate::elements::inference::{LoadedModel, ModelIo};
use crate::error::Result;
use crate::heads::Planes;
use crate::meta::dense::{DenseInfo, SegResult};
use crate::meta::tensor::InputTensor;
use crate::pipelining::Stages;
use crate::preprocess::{Sampling, sample_normalize};
use crate::runtime::BatchSlice;

/// A dense head: how one frame's output becomes its result.
pub trait DenseHead: Send + Sync + 'static {
    /// The config head it runs (a config for another head is refused).
    const HEAD: Head;
    /// The custom meta its result is attached as.
    const META: &'static str;
    /// Turns one item's output (as [`crate::config::Config::output_item`]) into the frame-size
    /// result on `buffer`; `mask`: the frame-size seg class map (0 = background) when the
    /// buffer carries one.
    fn attach(
        &self,
        output: Planes<'_>,
        mask: Option<&[u8]>,
        info: DenseInfo,
        buffer: &mut gst::BufferRef,
    ) -> Result<()>;
}

/// The three stages of a dense head.
pub struct DenseStages<H: DenseHead> {
    head: H,
    io: ModelIo,
    sharing: InputSharing,
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
    output: BatchSlice,
}

impl<H: DenseHead> DenseStages<H> {
    /// Checks the config and model (input `[b,3,H,W]`, output `[b,C,H/s,W/s]`) and builds the
    /// stages.
    pub fn new(loaded: &LoadedModel, head: H, sharing: InputSharing) -> Result<Self> {
        Ok(Self {
            head,
            io: ModelIo::new(loaded, H::HEAD)?,
            sharing,
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
            .then(|| InputTensor::matching(buffer, &self.io.norm, size))
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
        frame::with_view(buffer, info, |view| {
            sample_normalize(view, &Sampling::Stretch, &self.io.norm, &mut data)
        })?;
        self.sharing
            .counters
            .computed
            .fetch_add(1, Ordering::Relaxed);
        Ok(DensePre {
            tensor: InputTensor::new(self.io.norm, size, data),
            fresh: true,
        })
    }

    fn infer(&self, batch: Vec<DensePre>) -> Result<Vec<DenseInferred>> {
        let tensors = batch.iter().map(|p| p.tensor.values()).collect();
        let slices = self.io.run(tensors, &vec![1; batch.len()])?;
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
        let [c, h, w] = self.io.out_item;
        let data = inferred.output.checked_item(0, &self.io.out_item)?;
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
        self.head
            .attach(Planes { data, c, h, w }, mask, dense, buffer)?;
        if inferred.pre.fresh && self.sharing.share {
            inferred.pre.tensor.attach(buffer)?;
        }
        Ok(())
    }
}
