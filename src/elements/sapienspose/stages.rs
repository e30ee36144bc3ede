//! The pose head's three pipelined stages: person crops → heatmaps → keypoints in frame pixels.
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Head;
use crate::elements::inference::{LoadedModel, ModelIo};
use crate::elements::{frame, lock};
use crate::error::{Error, Result};
use crate::geometry::{BBox, Crop};
use crate::heads::pose::{DECODED_LEN, PoseDecoder};
use crate::labels::KeypointSetId;
use crate::meta::detect::{Detections, person_rois};
use crate::meta::pose::{PersonPose, PoseResult};
use crate::pipelining::Stages;
use crate::preprocess::{Sampling, packed_pixels, sample_normalize};
use crate::runtime::{BatchOutput, BatchSlice, PixelBatch};
use crate::track::one_euro::{OneEuro, OneEuroParams};

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
    /// One-Euro smoothing of each tracked person's keypoints.
    pub smoothing: bool,
    pub one_euro: OneEuroParams,
}

/// Default `max-persons`.
pub const DEFAULT_MAX_PERSONS: usize = 32;

impl Default for PoseSettings {
    fn default() -> Self {
        Self {
            roi_type: "person".into(),
            score_threshold: None,
            max_persons: DEFAULT_MAX_PERSONS,
            smoothing: false,
            one_euro: OneEuroParams::default(),
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
pub struct Person {
    bbox: BBox,
    crop: Crop,
    id: Option<u32>,
}

/// Top-down pose: every person box of a frame in one batch.
pub struct PoseStages {
    io: ModelIo,
    decoder: PoseDecoder,
    /// The model decodes in its graph (output `[K, DECODED_LEN]` per person, not heatmaps).
    decoded: bool,
    keypoint_set: KeypointSetId,
    box_padding: f32,
    config_threshold: f32,
    /// ROI type taken as a person box and `max-persons` (fixed while running).
    roi_type: String,
    max_persons: usize,
    /// Most crops in one model run (`batch-size`): a frame with more persons runs in several.
    run_limit: usize,
    settings: Arc<Mutex<PoseSettings>>,
    counters: Arc<PoseCounters>,
    smoothing: Option<OneEuroParams>,
    smoothed: Mutex<HashMap<u32, Smoothed>>,
    /// Flip test: each person's mirrored crop follows its own in the batch; the flip partner of
    /// each keypoint (`None`: off).
    flip: Option<Vec<usize>>,
}

/// A track's smoothing state: a filter per keypoint coordinate (x, y), and when the track was
/// last seen (s).
type Smoothed = (Vec<[OneEuro; 2]>, f64);

/// Seconds after which an unseen track's smoothing state is forgotten.
const SMOOTHING_MEMORY_S: f64 = 5.0;

/// A frame's persons and the NCHW batch of the warped crops of the first `run_limit` of them;
/// for a crowd (more persons than that), the frame itself, to warp the rest run by run. For a
/// pixel-form model, the frame's packed pixels instead (the model cuts the crops).
pub struct PosePre {
    persons: Vec<Person>,
    tensor: Vec<f32>,
    crowd: Option<(gst::Buffer, gst_video::VideoInfo)>,
    pixels: Option<FramePixels>,
}

/// A frame's pixels as a pixel-form model reads them ([`crate::preprocess::packed_pixels`]).
pub struct FramePixels {
    bytes: Vec<u8>,
    /// Width and height (px).
    size: (usize, usize),
}

/// A frame's model output: heatmaps of its persons (`None` for a frame without persons), or,
/// for a crowd, the keypoints already decoded run by run (so heatmaps never pile up).
pub enum PoseInferred {
    Heatmaps {
        persons: Vec<Person>,
        heatmaps: Option<BatchSlice>,
    },
    Decoded(Vec<PersonPose>),
}

impl PoseStages {
    /// Checks the model against the config (input `[b,3,H,W]`, output `[b,K,H/s,W/s]` with K the
    /// keypoint set's size) and prepares the decoder.
    /// `run_limit`: the most person crops in one model run (the element's `batch-size`).
    pub fn new(
        loaded: &LoadedModel,
        settings: Arc<Mutex<PoseSettings>>,
        counters: Arc<PoseCounters>,
        run_limit: usize,
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
        let decoded = io.form == 1;
        if io.pixels.is_some() && pose.flip_test {
            return Err(Error::Config {
                path: loaded.config.source.clone(),
                msg: format!(
                    "[pose] flip_test runs each crop mirrored, but {} cuts the crops in its graph (pixel form): use the model without the pre-processing graph, or turn the flip test off",
                    loaded.session.path().display()
                ),
            });
        }
        if decoded && pose.flip_test {
            return Err(Error::Config {
                path: loaded.config.source.clone(),
                msg: format!(
                    "[pose] flip_test averages heatmaps, but {} decodes them in its graph (output [batch,{k},{DECODED_LEN}]): export it without the decoding, or turn the flip test off",
                    loaded.session.path().display()
                ),
            });
        }
        let [_, hm_h, hm_w] = io.out_item;
        let (roi_type, max_persons, smoothing) = {
            let s = lock(&settings);
            (
                s.roi_type.clone(),
                s.max_persons,
                s.smoothing.then_some(s.one_euro),
            )
        };
        Ok(Self {
            decoder: PoseDecoder::new(k, hm_w, hm_h),
            decoded,
            io,
            keypoint_set: pose.keypoint_set,
            box_padding: pose.box_padding,
            config_threshold: pose.score_threshold,
            roi_type,
            max_persons,
            run_limit: run_limit.max(1),
            settings,
            counters,
            smoothing,
            smoothed: Mutex::new(HashMap::new()),
            flip: pose.flip_test.then(|| {
                pose.keypoint_set
                    .set()
                    .keypoints
                    .iter()
                    .map(|k| k.flip)
                    .collect()
            }),
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
        let rois: Vec<(BBox, Option<u32>)> = person_rois(buffer, &self.roi_type)
            .into_iter()
            .map(|r| (r.bbox, r.id))
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

impl PoseStages {
    /// Model items per person: 2 with the flip test (the crop, then its mirror).
    fn items(&self) -> usize {
        if self.flip.is_some() { 2 } else { 1 }
    }

    /// The normalized NCHW crops of `persons` from the frame (each followed by its horizontal
    /// mirror with the flip test).
    fn warp(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        persons: &[Person],
    ) -> Result<Vec<f32>> {
        let norm = &self.io.norm;
        let item = norm.item_len();
        let n = self.items();
        let mut tensor = vec![0.0f32; item * n * persons.len()];
        frame::with_view(buffer, info, |view| {
            for (p, out) in persons.iter().zip(tensor.chunks_exact_mut(item * n)) {
                let warp = Sampling::Warp(p.crop.udp_warp(norm.width, norm.height));
                let (crop, mirror) = out.split_at_mut(item);
                sample_normalize(view, &warp, norm, crop)?;
                if n == 2 {
                    mirror.copy_from_slice(crop);
                    for row in mirror.chunks_exact_mut(norm.width as usize) {
                        row.reverse();
                    }
                }
            }
            Ok(())
        })?;
        Ok(tensor)
    }

    /// One-Euro smoothing of tracked persons' keypoints, in frame order, time from the PTS (s).
    fn smooth(&self, persons: &mut [PersonPose], t: f64, p: &OneEuroParams) {
        let mut state = lock(&self.smoothed);
        state.retain(|_, (_, seen)| t - *seen <= SMOOTHING_MEMORY_S && *seen <= t);
        for person in persons.iter_mut() {
            let Some(id) = person.id else { continue };
            let (filters, seen) = state.entry(id).or_insert_with(|| {
                let f = person
                    .keypoints
                    .iter()
                    .map(|k| [OneEuro::new(k.x as f64, t), OneEuro::new(k.y as f64, t)])
                    .collect();
                (f, t)
            });
            *seen = t;
            for (k, [fx, fy]) in person.keypoints.iter_mut().zip(filters.iter_mut()) {
                k.x = fx.filter(k.x as f64, t, p) as f32;
                k.y = fy.filter(k.y as f64, t, p) as f32;
            }
        }
    }

    /// Keypoints of `persons` from their heatmaps, decoded in parallel across cores.
    fn decode(&self, persons: &[Person], heatmaps: &BatchSlice) -> Result<Vec<PersonPose>> {
        use rayon::prelude::*;
        let d = &self.decoder;
        let expect = [d.num_keypoints, d.hm_h, d.hm_w];
        let n = self.items();
        if self.decoded {
            let expect = [d.num_keypoints, DECODED_LEN];
            return persons
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Ok(PersonPose {
                        bbox: p.bbox,
                        id: p.id,
                        keypoints: d.decode_compact(heatmaps.checked_item(i, &expect)?, &p.crop),
                    })
                })
                .collect();
        }
        persons
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let h = heatmaps.checked_item(n * i, &expect)?;
                let keypoints = match &self.flip {
                    Some(partner) => {
                        let mirrored = heatmaps.checked_item(n * i + 1, &expect)?;
                        d.decode(&d.flip_average(h, mirrored, partner), &p.crop)
                    }
                    None => d.decode(h, &p.crop),
                };
                Ok(PersonPose {
                    bbox: p.bbox,
                    id: p.id,
                    keypoints,
                })
            })
            .collect()
    }

    /// A crowd, `run_limit` persons a model run: the first run's crops were warped in
    /// pre-processing, the others are warped here.
    fn infer_crowd(
        &self,
        persons: Vec<Person>,
        first: Vec<f32>,
        (buffer, info): &(gst::Buffer, gst_video::VideoInfo),
    ) -> Result<PoseInferred> {
        let mut first = Some(first);
        self.decode_runs(&persons, |run| {
            let tensor = match first.take() {
                Some(t) => t,
                None => self.warp(buffer, info, run)?,
            };
            self.io
                .run(vec![Cow::Owned(tensor)], &[run.len() * self.items()])?
                .into_iter()
                .next()
                .ok_or_else(|| Error::Inference("no output for a run".into()))
        })
        .map(PoseInferred::Decoded)
    }

    /// A crowd's keypoints, `run_limit` persons a model run (`infer` runs the model on one run's
    /// persons); each run is decoded before the next, so memory holds one run's crops and
    /// heatmaps whatever the crowd's size.
    fn decode_runs(
        &self,
        persons: &[Person],
        mut infer: impl FnMut(&[Person]) -> Result<BatchSlice>,
    ) -> Result<Vec<PersonPose>> {
        let mut poses = Vec::with_capacity(persons.len());
        for run in persons.chunks(self.run_limit) {
            poses.extend(self.decode(run, &infer(run)?)?);
        }
        Ok(poses)
    }

    /// A pixel-form model's runs: frames with persons packed into runs of at most `run_limit`
    /// crops (frames of one size per run, a frame never split), each frame's crops cut in the
    /// graph; a crowd runs alone, run by run ([`Self::decode_runs`]).
    fn infer_pixels(&self, batch: Vec<PosePre>) -> Result<Vec<PoseInferred>> {
        let mut slices: Vec<Option<BatchSlice>> = vec![None; batch.len()];
        let mut crowds: Vec<Option<Vec<PersonPose>>> = vec![None; batch.len()];
        let mut group: Vec<usize> = Vec::new();
        let mut load = 0;
        let size = |i: usize| batch[i].pixels.as_ref().map(|p| p.size);
        for (i, pre) in batch.iter().enumerate() {
            let n = pre.persons.len();
            if n > self.run_limit {
                crowds[i] = Some(self.decode_runs(&pre.persons, |run| {
                    Ok(BatchSlice {
                        output: self.run_pixel_crops(&batch, &[(i, run)])?,
                        first: 0,
                        count: run.len(),
                    })
                })?);
                continue;
            }
            if n == 0 {
                continue;
            }
            if load + n > self.run_limit || group.first().is_some_and(|&g| size(g) != size(i)) {
                self.run_group(&batch, &group, &mut slices)?;
                group.clear();
                load = 0;
            }
            group.push(i);
            load += n;
        }
        self.run_group(&batch, &group, &mut slices)?;
        Ok(batch
            .into_iter()
            .zip(slices.into_iter().zip(crowds))
            .map(|(pre, (heatmaps, crowd))| match crowd {
                Some(poses) => PoseInferred::Decoded(poses),
                None => PoseInferred::Heatmaps {
                    persons: pre.persons,
                    heatmaps,
                },
            })
            .collect())
    }

    /// One run over the frames `group` (indices into `batch`): each gets its slice.
    fn run_group(
        &self,
        batch: &[PosePre],
        group: &[usize],
        slices: &mut [Option<BatchSlice>],
    ) -> Result<()> {
        if group.is_empty() {
            return Ok(());
        }
        let crops: Vec<(usize, &[Person])> =
            group.iter().map(|&i| (i, &batch[i].persons[..])).collect();
        let output = self.run_pixel_crops(batch, &crops)?;
        let mut first = 0;
        for &i in group {
            let count = batch[i].persons.len();
            slices[i] = Some(BatchSlice {
                output: output.clone(),
                first,
                count,
            });
            first += count;
        }
        Ok(())
    }

    /// Runs the model once on `crops` (frame index into `batch`, its persons), in that order.
    fn run_pixel_crops(
        &self,
        batch: &[PosePre],
        crops: &[(usize, &[Person])],
    ) -> Result<Arc<BatchOutput>> {
        let pixels = |i: usize| {
            batch[i].pixels.as_ref().ok_or_else(|| {
                Error::Inference("a frame without pixels for a pixel-form model".into())
            })
        };
        let first = pixels(crops[0].0)?;
        let (w, h) = first.size;
        let channels = first.bytes.len() / (w * h).max(1);
        let frames: Vec<&[u8]> = crops
            .iter()
            .map(|(i, _)| pixels(*i).map(|p| &p.bytes[..]))
            .collect::<Result<_>>()?;
        let joined;
        let bytes: &[u8] = if frames.len() == 1 {
            frames[0]
        } else {
            joined = frames.concat();
            &joined
        };
        let norm = &self.io.norm;
        let mut affine = Vec::new();
        let mut frame_index = Vec::new();
        for (k, (_, persons)) in crops.iter().enumerate() {
            for p in *persons {
                affine.extend(p.crop.udp_warp(norm.width, norm.height).0.iter().flatten());
                frame_index.push(k as i64);
            }
        }
        Ok(Arc::new(self.io.run_pixels(&PixelBatch {
            frames: bytes,
            shape: [frames.len(), h, w, channels],
            affine: &affine,
            frame_index: &frame_index,
        })?))
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
        if let Some(px) = self.io.pixels {
            // The model cuts the crops: only the frame's bytes are needed (none without persons).
            let pixels = if persons.is_empty() {
                None
            } else {
                Some(FramePixels {
                    bytes: frame::with_view(buffer, info, |v| packed_pixels(v, px.channels))?,
                    size: (info.width() as usize, info.height() as usize),
                })
            };
            return Ok(PosePre {
                persons,
                tensor: Vec::new(),
                crowd: None,
                pixels,
            });
        }
        let first = &persons[..persons.len().min(self.run_limit)];
        let tensor = self.warp(buffer, info, first)?;
        let crowd = (persons.len() > self.run_limit).then(|| (buffer.clone(), info.clone()));
        Ok(PosePre {
            persons,
            tensor,
            crowd,
            pixels: None,
        })
    }

    fn weight(&self, pre: &PosePre) -> usize {
        pre.persons.len()
    }

    fn infer(&self, mut batch: Vec<PosePre>) -> Result<Vec<PoseInferred>> {
        if self.io.pixels.is_some() {
            return self.infer_pixels(batch);
        }
        // Frames with persons that fit one run go into one model run together (their crops move
        // to a shared session's worker without a copy); a crowd runs on its own, run by run;
        // frames without persons (nobody detected) skip the model.
        let (counts, tensors): (Vec<usize>, Vec<_>) = batch
            .iter_mut()
            .filter(|p| !p.persons.is_empty() && p.crowd.is_none())
            .map(|p| {
                (
                    p.persons.len() * self.items(),
                    Cow::Owned(std::mem::take(&mut p.tensor)),
                )
            })
            .unzip();
        let mut slices = if counts.is_empty() {
            Vec::new()
        } else {
            self.io.run(tensors, &counts)?
        }
        .into_iter();
        batch
            .into_iter()
            .map(|p| match p.crowd {
                Some(frame) => self.infer_crowd(p.persons, p.tensor, &frame),
                None => Ok(PoseInferred::Heatmaps {
                    heatmaps: if p.persons.is_empty() {
                        None
                    } else {
                        slices.next()
                    },
                    persons: p.persons,
                }),
            })
            .collect()
    }

    fn postprocess(
        &self,
        inferred: PoseInferred,
        buffer: &mut gst::BufferRef,
        _: &gst_video::VideoInfo,
    ) -> Result<()> {
        let mut persons = match inferred {
            PoseInferred::Heatmaps {
                persons,
                heatmaps: Some(hm),
            } => self.decode(&persons, &hm)?,
            PoseInferred::Heatmaps { .. } => Vec::new(),
            PoseInferred::Decoded(persons) => persons,
        };
        if let (Some(p), Some(pts)) = (&self.smoothing, buffer.pts()) {
            self.smooth(&mut persons, pts.nseconds() as f64 / 1e9, p);
        }
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
