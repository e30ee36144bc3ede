//! One frame's results as a JSON object (schema `sapiens-stream/frame`, [`SCHEMA_VERSION`]),
//! built from the metas on the buffer. Coordinates are frame pixels of that buffer; times are
//! seconds of stream time.
use serde::Serialize;

use crate::analytics::AnalyticsResult;
use crate::error::Result;
use crate::meta::dense::{DepthResult, NormalResult, PointmapResult, SegResult};
use crate::meta::pose::PoseResult;

/// Bumped whenever a field changes meaning or disappears (new optional fields keep it).
pub const SCHEMA_VERSION: u32 = 1;
/// The `schema` field of every record.
pub const SCHEMA: &str = "sapiens-stream/frame";

/// One frame.
#[derive(Debug, Serialize)]
pub struct FrameRecord {
    pub schema: &'static str,
    pub version: u32,
    /// Frames seen by the writer before this one (0-based).
    pub frame: u64,
    /// Presentation time, s (stream time; absent when the buffer has none).
    pub pts_s: Option<f64>,
    pub width: u32,
    pub height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pose: Option<PoseRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seg: Option<SegRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<DepthRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normal: Option<NormalRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointmap: Option<PointmapRecord>,
    /// `SapiensAnalyticsMeta` (`sapiensanalytics`): zones, lines, persons' stays, events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analytics: Option<AnalyticsResult>,
}

/// `SapiensPoseMeta`: every person of the frame.
#[derive(Debug, Serialize)]
pub struct PoseRecord {
    pub keypoint_set: &'static str,
    /// The model's weights are generated: the keypoints are noise.
    pub untrained: bool,
    /// Copied from an earlier frame, not inferred on this one.
    pub carried: bool,
    pub persons: Vec<PersonRecord>,
}

#[derive(Debug, Serialize)]
pub struct PersonRecord {
    /// x1, y1, x2, y2, frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Track id (`sapienstrack`), absent (null) without a tracker.
    pub id: Option<u32>,
    /// In the keypoint set's channel order.
    pub keypoints: Vec<KeypointRecord>,
}

#[derive(Debug, Serialize)]
pub struct KeypointRecord {
    pub name: &'static str,
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// `SapiensSegMeta`: pixels of each class present (class map resolution).
#[derive(Debug, Serialize)]
pub struct SegRecord {
    pub untrained: bool,
    pub carried: bool,
    /// Class map size (the frame's, or the model's in `model` mode).
    pub map_width: u32,
    pub map_height: u32,
    /// Classes with at least one pixel, by class id.
    pub classes: Vec<ClassPixels>,
}

#[derive(Debug, Serialize)]
pub struct ClassPixels {
    pub id: u8,
    pub name: &'static str,
    pub pixels: u64,
}

/// `SapiensDepthMeta`: the depth range over the foreground (model units).
#[derive(Debug, Serialize)]
pub struct DepthRecord {
    pub untrained: bool,
    pub carried: bool,
    /// Depth masked by an upstream seg foreground.
    pub masked: bool,
    /// Nearest and farthest foreground depth; null when there is no foreground.
    pub foreground: Option<Range>,
}

#[derive(Debug, Serialize)]
pub struct Range {
    pub min: f32,
    pub max: f32,
}

/// `SapiensNormalMeta`: present on the frame (the normals themselves stay in the meta).
#[derive(Debug, Serialize)]
pub struct NormalRecord {
    pub untrained: bool,
    pub carried: bool,
    pub masked: bool,
}

/// `SapiensPointmapMeta`: the camera the model implies and the foreground's depth range (the
/// points themselves stay in the meta, or go to PLY files).
#[derive(Debug, Serialize)]
pub struct PointmapRecord {
    pub untrained: bool,
    pub carried: bool,
    pub masked: bool,
    /// The model's scale (metric = pointmap / scale).
    pub scale: f32,
    /// Implied horizontal focal length, frame px.
    pub focal_px: f64,
    /// Foreground Z, 1st to 99th percentile (model units, metres by the official reading);
    /// null when there is no foreground.
    pub z: Option<Range>,
}

/// The record of `buffer` (frame `frame` of a `width`×`height` stream).
pub fn record(buffer: &gst::BufferRef, frame: u64, width: u32, height: u32) -> Result<FrameRecord> {
    Ok(FrameRecord {
        schema: SCHEMA,
        version: SCHEMA_VERSION,
        frame,
        pts_s: buffer.pts().map(|t| t.nseconds() as f64 / 1e9),
        width,
        height,
        pose: PoseResult::from_buffer(buffer)?.map(pose),
        seg: SegResult::from_buffer(buffer)?.map(|s| seg(&s)),
        depth: DepthResult::from_buffer(buffer)?.map(|d| DepthRecord {
            untrained: d.info.untrained,
            carried: d.info.carried,
            masked: d.masked,
            foreground: d.range.map(|(min, max)| Range { min, max }),
        }),
        normal: NormalResult::from_buffer(buffer)?.map(|n| NormalRecord {
            untrained: n.info.untrained,
            carried: n.info.carried,
            masked: n.masked,
        }),
        pointmap: PointmapResult::from_buffer(buffer)?.map(|p| PointmapRecord {
            untrained: p.info.untrained,
            carried: p.info.carried,
            masked: p.masked,
            scale: p.scale,
            focal_px: p.focal_px,
            z: p.z_range.map(|(min, max)| Range { min, max }),
        }),
        analytics: crate::meta::analytics::from_buffer(buffer)?,
    })
}

fn pose(p: PoseResult) -> PoseRecord {
    let set = p.keypoint_set.set();
    PoseRecord {
        keypoint_set: p.keypoint_set.as_str(),
        untrained: p.untrained,
        carried: p.carried,
        persons: p
            .persons
            .into_iter()
            .map(|person| PersonRecord {
                bbox: [
                    person.bbox.x1,
                    person.bbox.y1,
                    person.bbox.x2,
                    person.bbox.y2,
                ],
                id: person.id,
                keypoints: person
                    .keypoints
                    .iter()
                    .zip(&set.keypoints)
                    .map(|(k, def)| KeypointRecord {
                        name: def.name.as_str(),
                        x: k.x,
                        y: k.y,
                        score: k.score,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn seg(s: &SegResult) -> SegRecord {
    let mut counts = [0u64; 256];
    for &l in s.labels() {
        counts[l as usize] += 1;
    }
    let classes = s.classes.classes();
    SegRecord {
        untrained: s.info.untrained,
        carried: s.info.carried,
        map_width: s.info.width,
        map_height: s.info.height,
        classes: counts
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(id, &pixels)| ClassPixels {
                id: id as u8,
                name: classes.get(id).map_or("unknown", |c| c.name.as_str()),
                pixels,
            })
            .collect(),
    }
}
