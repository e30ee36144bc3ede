//! Batched runs: several frames' items in one model run, and each frame's share of the output
//! without copying ORT's buffers.
use std::sync::Arc;

use ort::value::DynValue;

use super::session::ModelSession;
use crate::error::{Error, Result};

/// One frame's share of a batched run: items `first..first + count` of `output`.
#[derive(Clone)]
pub struct BatchSlice {
    pub output: Arc<BatchOutput>,
    pub first: usize,
    pub count: usize,
}

impl BatchSlice {
    /// The frame's item `i` (`i < count`).
    pub fn item(&self, i: usize) -> Option<&[f32]> {
        (i < self.count)
            .then(|| self.output.item(self.first + i))
            .flatten()
    }

    pub fn item_shape(&self) -> &[usize] {
        self.output.item_shape()
    }

    /// Item `i`, checking the output's item shape is `expect`; errors name the output.
    pub fn checked_item(&self, i: usize, expect: &[usize]) -> Result<&[f32]> {
        let err = |msg: String| Error::Output {
            name: self.output.name.clone(),
            msg,
        };
        if self.item_shape() != expect {
            return Err(err(format!(
                "items of shape {:?}, expected {expect:?}",
                self.item_shape()
            )));
        }
        self.item(i)
            .ok_or_else(|| err(format!("no item {i} (this frame has {})", self.count)))
    }
}

/// One frame's outputs of a batched run: its slice of each output asked for, in that order.
pub type FrameOutputs = Vec<BatchSlice>;

impl ModelSession {
    /// Runs the items of several frames as one batch: `frames[k]` holds `counts[k]` items of
    /// `item_shape`, concatenated once (a single frame is not copied). Returns each frame's
    /// slices of `outputs`.
    pub fn run_frames(
        &self,
        input: &str,
        outputs: &[String],
        frames: &[&[f32]],
        counts: &[usize],
        item_shape: &[usize],
    ) -> Result<Vec<FrameOutputs>> {
        let total: usize = counts.iter().sum();
        let joined;
        let data: &[f32] = if frames.len() == 1 {
            frames[0]
        } else {
            joined = frames.concat();
            &joined
        };
        let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let outs: Vec<Arc<BatchOutput>> = self
            .run(input, &names, data, total, item_shape)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let mut first = 0;
        Ok(counts
            .iter()
            .map(|&count| {
                let mine = outs
                    .iter()
                    .map(|output| BatchSlice {
                        output: output.clone(),
                        first,
                        count,
                    })
                    .collect();
                first += count;
                mine
            })
            .collect())
    }
}

/// One run's share of an output: ORT's own value, or an inference server's answer.
enum Chunk {
    Ort(DynValue),
    Host(Vec<f32>),
}

impl Chunk {
    fn values(&self) -> Option<&[f32]> {
        match self {
            Chunk::Ort(v) => v.try_extract_tensor::<f32>().ok().map(|(_, d)| d),
            Chunk::Host(d) => Some(d),
        }
    }
}

/// One output of a batched run: per-item f32 slices, without copying ORT's buffers.
pub struct BatchOutput {
    name: String,
    chunks: Vec<(Chunk, usize)>,
    item_shape: Vec<usize>,
}

impl BatchOutput {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            chunks: Vec::new(),
            item_shape: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, value: DynValue, count: usize) -> Result<()> {
        let err = |msg: String| Error::Output {
            name: self.name.clone(),
            msg,
        };
        // Integer outputs (a detector's labels) are converted to float32 once; float32 ones
        // stay ORT's buffers.
        let value = if value.try_extract_tensor::<f32>().is_ok() {
            value
        } else {
            let converted = if let Ok((shape, v)) = value.try_extract_tensor::<i64>() {
                Some((
                    shape.to_vec(),
                    v.iter().map(|x| *x as f32).collect::<Vec<f32>>(),
                ))
            } else if let Ok((shape, v)) = value.try_extract_tensor::<i32>() {
                Some((shape.to_vec(), v.iter().map(|x| *x as f32).collect()))
            } else {
                None
            };
            let (shape, data) =
                converted.ok_or_else(|| err("not a float32, int64 or int32 tensor".into()))?;
            ort::value::Tensor::from_array((shape, data))?.into_dyn()
        };
        let (shape, _) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| err(format!("not a float32 tensor: {e}")))?;
        let shape: Vec<usize> = shape.iter().map(|d| (*d).max(0) as usize).collect();
        self.add(Chunk::Ort(value), &shape, count)
    }

    /// As [`Self::push`], for an output an inference server sent.
    pub(super) fn push_host(
        &mut self,
        tensor: super::triton::HostTensor,
        count: usize,
    ) -> Result<()> {
        self.add(Chunk::Host(tensor.data), &tensor.shape, count)
    }

    /// Adds a run's `count` items (of a `shape` whose first dimension is the run's batch).
    fn add(&mut self, chunk: Chunk, shape: &[usize], count: usize) -> Result<()> {
        let err = |msg: String| Error::Output {
            name: self.name.clone(),
            msg,
        };
        if shape.len() < 2 || shape[0] < count {
            return Err(err(format!("shape {shape:?} has no batch of {count}")));
        }
        let item = shape[1..].to_vec();
        if !self.item_shape.is_empty() && self.item_shape != item {
            return Err(err(format!(
                "item shape changed from {:?} to {item:?}",
                self.item_shape
            )));
        }
        self.item_shape = item;
        self.chunks.push((chunk, count));
        Ok(())
    }

    /// Shape of one item (without the batch dimension), e.g. `[K, 256, 192]`.
    pub fn item_shape(&self) -> &[usize] {
        &self.item_shape
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`'s values, row-major in `item_shape`.
    pub fn item(&self, mut i: usize) -> Option<&[f32]> {
        let len: usize = self.item_shape.iter().product();
        for (chunk, count) in &self.chunks {
            if i < *count {
                return chunk.values()?.get(i * len..(i + 1) * len);
            }
            i -= count;
        }
        None
    }
}
