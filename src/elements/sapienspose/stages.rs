//! The pose head's three pipelined stages: person crops → heatmaps → keypoints in frame pixels.
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use crate::config::Head;
use crate::elements::inference::{LoadedModel, ModelIo};
use crate::elements::{frame, lock};
use crate::error::{Error, Result};
use crate::geometry::{BBox, Crop};
use crate::heads::pose::PoseDecoder;
use crate::labels::KeypointSetId;
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
}

impl Default for PoseSettings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            score_threshold: None,
        }
    }
}

/// Top-down pose: every person box of a frame in one batch.
pub struct PoseStages {
    io: ModelIo,
    decoder: PoseDecoder,
    keypoint_set: KeypointSetId,
    box_padding: f32,
    config_threshold: f32,
    /// ROI type taken as a person box (fixed while running).
    roi_type: String,
    settings: Arc<Mutex<PoseSettings>>,
}

/// A frame's person boxes, their crops, and the NCHW batch of warped crops.
pub struct PosePre {
    persons: Vec<(BBox, Crop)>,
    tensor: Vec<f32>,
}

/// Heatmaps of every person of a frame.
pub struct PoseInferred {
    persons: Vec<(BBox, Crop)>,
    heatmaps: BatchSlice,
}

impl PoseStages {
    /// Checks the model against the config (input `[b,3,H,W]`, output `[b,K,H/s,W/s]` with K the
    /// keypoint set's size) and prepares the decoder.
    pub fn new(loaded: &LoadedModel, settings: Arc<Mutex<PoseSettings>>) -> Result<Self> {
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
        let roi_type = lock(&settings).roi_type.clone();
        Ok(Self {
            decoder: PoseDecoder::new(k, hm_w, hm_h),
            io,
            keypoint_set: pose.keypoint_set,
            box_padding: pose.box_padding,
            config_threshold: pose.score_threshold,
            roi_type,
            settings,
        })
    }

    /// Person boxes: upstream ROI metas of the configured type, else the whole frame.
    fn boxes(&self, buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Vec<BBox> {
        let boxes: Vec<BBox> = buffer
            .iter_meta::<gst_video::VideoRegionOfInterestMeta>()
            .filter(|m| m.roi_type() == self.roi_type)
            .map(|m| {
                let (x, y, w, h) = m.rect();
                BBox {
                    x1: x as f32,
                    y1: y as f32,
                    x2: (x + w) as f32,
                    y2: (y + h) as f32,
                }
            })
            .filter(|b| b.x2 > b.x1 && b.y2 > b.y1)
            .collect();
        if boxes.is_empty() {
            vec![BBox::frame(info.width(), info.height())]
        } else {
            boxes
        }
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
        let persons: Vec<(BBox, Crop)> = self
            .boxes(buffer, info)
            .into_iter()
            .map(|b| (b, Crop::from_box(&b, self.box_padding, aspect)))
            .collect();
        let item = self.io.norm.item_len();
        let mut tensor = vec![0.0f32; item * persons.len()];
        frame::with_view(buffer, info, |view| {
            for ((_, crop), out) in persons.iter().zip(tensor.chunks_exact_mut(item)) {
                sample_normalize(
                    view,
                    &Sampling::Warp(crop.udp_warp(self.io.norm.width, self.io.norm.height)),
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
        let counts: Vec<usize> = batch.iter().map(|p| p.persons.len()).collect();
        let (tensors, persons): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|p| (Cow::Owned(p.tensor), p.persons))
            .unzip();
        let slices = self.io.run(tensors, &counts)?;
        Ok(persons
            .into_iter()
            .zip(slices)
            .map(|(persons, heatmaps)| PoseInferred { persons, heatmaps })
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
            .map(|(i, (bbox, crop))| {
                let hm = inferred.heatmaps.checked_item(i, &expect)?;
                Ok(PersonPose {
                    bbox: *bbox,
                    keypoints: self.decoder.decode(hm, crop),
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
