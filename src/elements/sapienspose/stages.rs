//! The pose head's three pipelined stages: person crops → heatmaps → keypoints in frame pixels.
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Head;
use crate::elements::inference::{LoadedModel, ModelIo};
use crate::elements::{frame, lock};
use crate::error::{Error, Result};
use crate::geometry::{BBox, Crop};
use crate::heads::pose::PoseDecoder;
use crate::labels::KeypointSetId;
use crate::meta::detect::Detections;
use crate::meta::pose::{PersonPose, PoseResult};
use crate::pipelining::Stages;
use crate::preprocess::{Sampling, sample_normalize};
use crate::runtime::BatchSlice;

/// The pose element's own property values, shared with its stages (`score_threshold` may
/// change while playing).
#[derive(Debug, Clone)]
pub struct PoseSettings {
    /// Region-of-interest type taken as a person box.
    pub roi_type: String,
    /// Drawing threshold written into the result; `None` = the config's.
    pub score_threshold: Option<f32>,
    /// At most this many persons a frame, the largest boxes (0 = no limit).
    pub max_persons: usize,
}

/// Default `max-persons`.
pub const DEFAULT_MAX_PERSONS: usize = 32;

impl Default for PoseSettings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            score_threshold: None,
            max_persons: DEFAULT_MAX_PERSONS,
        }
    }
}

/// What the pose stages count beside the executor (properties `boxes-skipped`,
/// `boxes-dropped`).
#[derive(Debug, Default)]
pub struct PoseCounters {
    /// Person boxes of zero size or outside the frame.
    pub skipped: AtomicU64,
    /// Person boxes beyond `max-persons` (the smallest of their frame).
    pub dropped: AtomicU64,
}

/// One person the model runs on: its box (frame px), crop, and track id when a tracker gave one.
#[derive(Debug, Clone, Copy)]
struct Person {
    bbox: BBox,
    crop: Crop,
    id: Option<u32>,
}

/// Top-down pose: every person box of a frame in one batch.
pub struct PoseStages {
    io: ModelIo,
    decoder: PoseDecoder,
    keypoint_set: KeypointSetId,
    box_padding: f32,
    config_threshold: f32,
    /// ROI type taken as a person box and `max-persons` (fixed while running).
    roi_type: String,
    max_persons: usize,
    settings: Arc<Mutex<PoseSettings>>,
    counters: Arc<PoseCounters>,
}

/// A frame's persons and the NCHW batch of their warped crops.
pub struct PosePre {
    persons: Vec<Person>,
    tensor: Vec<f32>,
}

/// Heatmaps of every person of a frame (`None` for a frame without persons).
pub struct PoseInferred {
    persons: Vec<Person>,
    heatmaps: Option<BatchSlice>,
}

impl PoseStages {
    /// Checks the model against the config (input `[b,3,H,W]`, output `[b,K,H/s,W/s]` with K the
    /// keypoint set's size) and prepares the decoder.
    pub fn new(
        loaded: &LoadedModel,
        settings: Arc<Mutex<PoseSettings>>,
        counters: Arc<PoseCounters>,
    ) -> Result<Self> {
        let pose = loaded.config.pose()?;
        let k = pose.keypoint_set.set().len();
        let io = ModelIo::new(loaded, Head::Pose).map_err(|e| match e {
            Error::ModelMismatch { model, config, msg } => Error::ModelMismatch {
                model,
                config,
                msg: format!(
                    "{msg} (keypoint set {} has {k} keypoints)",
                    pose.keypoint_set.as_str()
                ),
            },
            e => e,
        })?;
        let [_, hm_h, hm_w] = io.out_item;
        let (roi_type, max_persons) = {
            let s = lock(&settings);
            (s.roi_type.clone(), s.max_persons)
        };
        Ok(Self {
            decoder: PoseDecoder::new(k, hm_w, hm_h),
            io,
            keypoint_set: pose.keypoint_set,
            box_padding: pose.box_padding,
            config_threshold: pose.score_threshold,
            roi_type,
            max_persons,
            settings,
            counters,
        })
    }

    /// The persons of a frame: upstream ROI metas of the configured type (with their tracking
    /// id), in their order. Boxes of zero size or outside the frame are skipped and counted;
    /// beyond `max-persons` the smallest boxes are dropped and counted. Without any ROI meta and
    /// without a detector's meta (no detector upstream), the whole frame is one person; a
    /// detector that found nobody gives no persons.
    fn persons(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Vec<(BBox, Option<u32>)> {
        let (fw, fh) = (info.width() as f32, info.height() as f32);
        let rois: Vec<(BBox, Option<u32>)> = buffer
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .filter(|m| m.roi_type() == self.roi_type)
            .map(|m| {
                let (x, y, w, h) = m.rect();
                let id = m.param("tracking").and_then(|p| p.get::<u32>("id").ok());
                let b = BBox {
                    x1: x as f32,
                    y1: y as f32,
                    x2: (x + w) as f32,
                    y2: (y + h) as f32,
                };
                (b, id)
            })
            .collect();
        if rois.is_empty() {
            let detector_ran = matches!(Detections::from_buffer(buffer), Ok(Some(_)));
            return if detector_ran {
                Vec::new()
            } else {
                vec![(BBox::frame(info.width(), info.height()), None)]
            };
        }
        let n = rois.len();
        let mut valid: Vec<(BBox, Option<u32>)> = rois
            .into_iter()
            .filter(|(b, _)| {
                b.x2 > b.x1 && b.y2 > b.y1 && b.x1 < fw && b.y1 < fh && b.x2 > 0.0 && b.y2 > 0.0
            })
            .collect();
        let skipped = n - valid.len();
        if skipped > 0 {
            self.counters
                .skipped
                .fetch_add(skipped as u64, Ordering::Relaxed);
        }
        if self.max_persons > 0 && valid.len() > self.max_persons {
            let area = |b: &BBox| (b.x2 - b.x1) * (b.y2 - b.y1);
            let mut order: Vec<usize> = (0..valid.len()).collect();
            order.sort_by(|&a, &b| area(&valid[b].0).total_cmp(&area(&valid[a].0)));
            let mut keep = vec![false; valid.len()];
            order
                .iter()
                .take(self.max_persons)
                .for_each(|&i| keep[i] = true);
            let dropped = valid.len() - self.max_persons;
            self.counters
                .dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
            let mut k = keep.into_iter();
            valid.retain(|_| k.next().unwrap_or(false));
        }
        valid
    }
}

impl Stages for PoseStages {
    type Pre = PosePre;
    type Inferred = PoseInferred;

    fn result_metas(&self) -> &'static [&'static str] {
        &[crate::meta::pose::POSE_META]
    }

    fn preprocess(&self, buffer: &gst::Buffer, info: &gst_video::VideoInfo) -> Result<PosePre> {
        let aspect = self.io.norm.width as f64 / self.io.norm.height as f64;
        let persons: Vec<Person> = self
            .persons(buffer, info)
            .into_iter()
            .map(|(bbox, id)| Person {
                bbox,
                crop: Crop::from_box(&bbox, self.box_padding, aspect),
                id,
            })
            .collect();
        let item = self.io.norm.item_len();
        let mut tensor = vec![0.0f32; item * persons.len()];
        frame::with_view(buffer, info, |view| {
            for (p, out) in persons.iter().zip(tensor.chunks_exact_mut(item)) {
                sample_normalize(
                    view,
                    &Sampling::Warp(p.crop.udp_warp(self.io.norm.width, self.io.norm.height)),
                    &self.io.norm,
                    out,
                )?;
            }
            Ok(())
        })?;
        Ok(PosePre { persons, tensor })
    }

    fn weight(&self, pre: &PosePre) -> usize {
        pre.persons.len()
    }

    fn infer(&self, batch: Vec<PosePre>) -> Result<Vec<PoseInferred>> {
        // Frames without persons (a detector found nobody) do not enter the model run.
        let (counts, tensors): (Vec<usize>, Vec<_>) = batch
            .iter()
            .filter(|p| !p.persons.is_empty())
            .map(|p| (p.persons.len(), Cow::Borrowed(&p.tensor[..])))
            .unzip();
        let mut slices = if counts.is_empty() {
            Vec::new()
        } else {
            self.io.run(tensors, &counts)?
        }
        .into_iter();
        Ok(batch
            .into_iter()
            .map(|p| PoseInferred {
                heatmaps: if p.persons.is_empty() {
                    None
                } else {
                    slices.next()
                },
                persons: p.persons,
            })
            .collect())
    }

    fn postprocess(
        &self,
        inferred: PoseInferred,
        buffer: &mut gst::BufferRef,
        _: &gst_video::VideoInfo,
    ) -> Result<()> {
        let d = &self.decoder;
        let expect = [d.num_keypoints, d.hm_h, d.hm_w];
        let persons = inferred
            .persons
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let hm = inferred
                    .heatmaps
                    .as_ref()
                    .ok_or_else(|| {
                        crate::error::Error::Inference("no heatmaps for a person".into())
                    })?
                    .checked_item(i, &expect)?;
                Ok(PersonPose {
                    bbox: p.bbox,
                    id: p.id,
                    keypoints: self.decoder.decode(hm, &p.crop),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let score_threshold = lock(&self.settings)
            .score_threshold
            .unwrap_or(self.config_threshold);
        PoseResult {
            keypoint_set: self.keypoint_set,
            score_threshold,
            untrained: self.io.untrained,
            carried: false,
            persons,
        }
        .attach(buffer)
    }
}
