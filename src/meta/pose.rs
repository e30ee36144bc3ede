//! `SapiensPoseMeta`: one pose result per buffer.
//!
//! Structure `sapiens/pose`, coordinates in frame pixels of the buffer it is attached to:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `keypoint-set` | string | `goliath-308`, `coco-wholebody-133`, `coco-17` or `mpii-16` (channel order) |
//! | `num-persons` | uint | N |
//! | `num-keypoints` | uint | K |
//! | `score-threshold` | float | the config's drawing threshold |
//! | `untrained` | boolean | the model's weights are generated, its output is noise |
//! | `carried` | boolean | copied from an earlier frame (`interval`, `skip` policy) |
//! | `boxes` | GBytes | N×4 f32: x1, y1, x2, y2 of each person box |
//! | `ids` | GBytes | N i32: each person's track id (`sapienstrack`), −1 when untracked |
//! | `keypoints` | GBytes | N×K×3 f32: x, y, score |
use gst::meta::CustomMeta;

use super::{get_f32s, get_field, get_i32s, put_f32s, put_i32s};
use crate::error::{Error, Result};
use crate::geometry::BBox;
use crate::heads::pose::Keypoint;
use crate::labels::KeypointSetId;

/// Name of the custom meta.
pub const POSE_META: &str = "SapiensPoseMeta";
/// Name of its structure.
pub const POSE_STRUCTURE: &str = "sapiens/pose";

/// One person: the box the model saw (before padding), its track id, and its keypoints.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonPose {
    pub bbox: BBox,
    /// The tracker's id for this person (`None` without a tracker upstream).
    pub id: Option<u32>,
    pub keypoints: Vec<Keypoint>,
}

/// All persons of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseResult {
    pub keypoint_set: KeypointSetId,
    pub score_threshold: f32,
    pub untrained: bool,
    /// Copied from an earlier frame (`interval` or the `skip` policy), not inferred on this one.
    pub carried: bool,
    pub persons: Vec<PersonPose>,
}

impl PoseResult {
    /// Attaches (or replaces) the pose meta on `buffer`.
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<()> {
        let k = self.keypoint_set.set().len();
        let boxes: Vec<f32> = self
            .persons
            .iter()
            .flat_map(|p| [p.bbox.x1, p.bbox.y1, p.bbox.x2, p.bbox.y2])
            .collect();
        let kps: Vec<f32> = self
            .persons
            .iter()
            .flat_map(|p| p.keypoints.iter().flat_map(|q| [q.x, q.y, q.score]))
            .collect();
        let ids = self
            .persons
            .iter()
            .map(|p| p.id.map_or(-1, |id| id as i32))
            .collect();
        if kps.len() != self.persons.len() * k * 3 {
            return Err(Error::Meta {
                name: POSE_META.into(),
                msg: format!("a person has not {k} keypoints"),
            });
        }
        super::attach(buffer, POSE_META, POSE_STRUCTURE, |s| {
            s.set("keypoint-set", self.keypoint_set.as_str());
            s.set("num-persons", self.persons.len() as u32);
            s.set("num-keypoints", k as u32);
            s.set("score-threshold", self.score_threshold);
            s.set("untrained", self.untrained);
            super::set_carried(s, self.carried);
            put_f32s(s, "boxes", boxes);
            put_i32s(s, "ids", ids);
            put_f32s(s, "keypoints", kps);
        })
    }

    /// Reads the pose meta of `buffer`; `Ok(None)` when there is none.
    pub fn from_buffer(buffer: &gst::BufferRef) -> Result<Option<Self>> {
        let Ok(meta) = CustomMeta::from_buffer(buffer, POSE_META) else {
            return Ok(None);
        };
        let s = meta.structure();
        let set: String = get_field(s, POSE_META, "keypoint-set")?;
        let keypoint_set: KeypointSetId = set.parse().map_err(|msg| Error::Meta {
            name: POSE_META.into(),
            msg,
        })?;
        let n = get_field::<u32>(s, POSE_META, "num-persons")? as usize;
        let k = get_field::<u32>(s, POSE_META, "num-keypoints")? as usize;
        let set_len = keypoint_set.set().len();
        if k != set_len {
            return Err(Error::Meta {
                name: POSE_META.into(),
                msg: format!(
                    "num-keypoints = {k}, but keypoint-set {} has {set_len}",
                    keypoint_set.as_str()
                ),
            });
        }
        let boxes = get_f32s(s, POSE_META, "boxes", n * 4)?;
        // Absent in results written before tracking existed: no ids.
        let ids = if s.has_field("ids") {
            get_i32s(s, POSE_META, "ids", n)?
        } else {
            vec![-1; n]
        };
        let kps = get_f32s(s, POSE_META, "keypoints", n * k * 3)?;
        let persons = (0..n)
            .map(|i| PersonPose {
                bbox: BBox {
                    x1: boxes[4 * i],
                    y1: boxes[4 * i + 1],
                    x2: boxes[4 * i + 2],
                    y2: boxes[4 * i + 3],
                },
                id: u32::try_from(ids[i]).ok(),
                keypoints: kps[i * k * 3..(i + 1) * k * 3]
                    .chunks_exact(3)
                    .map(|c| Keypoint {
                        x: c[0],
                        y: c[1],
                        score: c[2],
                    })
                    .collect(),
            })
            .collect();
        Ok(Some(Self {
            keypoint_set,
            score_threshold: get_field(s, POSE_META, "score-threshold")?,
            untrained: get_field(s, POSE_META, "untrained")?,
            carried: super::is_carried(s),
            persons,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_buffer() {
        gst::init().unwrap();
        let kps = |o: f32| {
            (0..17)
                .map(|i| Keypoint {
                    x: o + i as f32,
                    y: 2.0 * i as f32,
                    score: 0.05 * i as f32,
                })
                .collect()
        };
        let r = PoseResult {
            keypoint_set: KeypointSetId::Coco17,
            score_threshold: 0.3,
            untrained: true,
            carried: false,
            persons: vec![
                PersonPose {
                    id: Some(7),
                    bbox: BBox {
                        x1: 1.0,
                        y1: 2.0,
                        x2: 30.0,
                        y2: 40.0,
                    },
                    keypoints: kps(0.5),
                },
                PersonPose {
                    id: None,
                    bbox: BBox {
                        x1: 5.0,
                        y1: 6.0,
                        x2: 70.0,
                        y2: 80.0,
                    },
                    keypoints: kps(100.0),
                },
            ],
        };
        let mut buf = gst::Buffer::with_size(16).unwrap();
        assert_eq!(PoseResult::from_buffer(&buf).unwrap(), None);
        r.attach(buf.get_mut().unwrap()).unwrap();
        // Attaching again replaces, never duplicates.
        r.attach(buf.get_mut().unwrap()).unwrap();
        assert_eq!(PoseResult::from_buffer(&buf).unwrap(), Some(r.clone()));
        // Metadata survives a buffer copy (what `make_mut` does downstream).
        let copy = buf.copy();
        assert_eq!(PoseResult::from_buffer(&copy).unwrap(), Some(r.clone()));
        // A meta from another producer whose keypoint count is not its set's is refused when
        // read (drawing indexes the set's colours by keypoint).
        let mut other = gst::Buffer::with_size(16).unwrap();
        r.attach(other.get_mut().unwrap()).unwrap();
        {
            let mut m = CustomMeta::from_mut_buffer(other.get_mut().unwrap(), POSE_META).unwrap();
            let s = m.mut_structure();
            s.set("num-persons", 1u32);
            s.set("num-keypoints", 20u32);
            put_f32s(s, "boxes", vec![0.0; 4]);
            put_f32s(s, "keypoints", vec![0.0; 20 * 3]);
        }
        let e = PoseResult::from_buffer(&other).unwrap_err().to_string();
        assert!(
            e.contains("20") && e.contains("coco-17") && e.contains("17"),
            "{e}"
        );
        // A person with the wrong keypoint count is refused.
        let bad = PoseResult {
            keypoint_set: KeypointSetId::Goliath308,
            score_threshold: 0.3,
            untrained: false,
            carried: false,
            persons: vec![PersonPose {
                id: None,
                bbox: BBox::frame(4, 4),
                keypoints: kps(0.0),
            }],
        };
        assert!(
            bad.attach(buf.get_mut().unwrap())
                .unwrap_err()
                .to_string()
                .contains("308")
        );
    }
}
