//! The rules applied frame after frame to tracked persons: zone membership with hysteresis,
//! line crossings, dwell, occupancy, and the events they give.
use std::collections::HashMap;

use super::fall::{BodyIdx, Change, FLOOR_M, FallState, Points, body};
use super::result::{
    AnalyticsResult, Event, EventKind, LineStatus, PersonStatus, Stay, ZoneStatus,
};
use super::rules::{Anchor, Rules};
use super::shapes::{Pt, segments_intersect};
use crate::error::{Error, Result};
use crate::geometry::BBox;
use crate::heads::pose::Keypoint;
use crate::labels::KeypointSetId;

/// One person of a frame as the analytics see it.
#[derive(Debug, Clone, Copy)]
pub struct PersonIn<'a> {
    /// Track id (`sapienstrack`); untracked persons count in occupancy only.
    pub id: Option<u32>,
    /// Frame pixels.
    pub bbox: BBox,
    /// In the order of the frame's keypoint set (absent without a pose result).
    pub keypoints: Option<&'a [Keypoint]>,
}

/// One frame: its time and persons.
#[derive(Clone)]
pub struct FrameIn<'a> {
    /// Presentation time, ns.
    pub pts_ns: u64,
    /// The keypoint set of `keypoints` (needed by keypoint anchors).
    pub keypoint_set: Option<KeypointSetId>,
    pub persons: Vec<PersonIn<'a>>,
    /// Metric 3-D points of the frame (a pointmap), for the fall rule.
    pub points: Option<Points<'a>>,
}

/// Which point of the person a rule tested, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anchored {
    at: Pt,
    /// `keypoints`, `box-bottom` or `box-center`.
    how: &'static str,
}

/// An anchor with its keypoint names resolved to channel indices.
#[derive(Debug, Clone)]
enum AnchorIdx {
    BoxBottom,
    BoxCenter,
    Keypoints(Vec<usize>),
}

/// The channel index of the keypoint `name` in `set`; the error names `rule`.
fn index_of(rule: &str, name: &str, set: KeypointSetId) -> Result<usize> {
    let kps = &set.set().keypoints;
    kps.iter().position(|k| k.name == name).ok_or_else(|| {
        Error::Invalid(format!(
            "{rule}: keypoint \"{name}\" is not in the pose model's keypoint set {} (it has e.g. {})",
            set.as_str(),
            kps.iter()
                .take(17)
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The body keypoints the fall rule reads, in `set`.
fn body_idx(set: KeypointSetId) -> Result<BodyIdx> {
    let pair = |side: &str| -> Result<[usize; 2]> {
        Ok([
            index_of("[fall]", &format!("left_{side}"), set)?,
            index_of("[fall]", &format!("right_{side}"), set)?,
        ])
    };
    Ok(BodyIdx {
        shoulders: pair("shoulder")?,
        hips: pair("hip")?,
        ankles: pair("ankle")?,
    })
}

/// A rule's anchor resolved against `set` (`None`: no pose result, keypoints unused).
fn resolve(rule: &str, anchor: &Anchor, set: Option<KeypointSetId>) -> Result<AnchorIdx> {
    Ok(match anchor {
        Anchor::BoxBottom => AnchorIdx::BoxBottom,
        Anchor::BoxCenter => AnchorIdx::BoxCenter,
        Anchor::Keypoints(names) => {
            let Some(set) = set else {
                return Ok(AnchorIdx::Keypoints(Vec::new()));
            };
            let idx = names
                .iter()
                .map(|n| index_of(&format!("{rule}: anchor"), n, set))
                .collect::<Result<_>>()?;
            AnchorIdx::Keypoints(idx)
        }
    })
}

fn anchor_point(p: &PersonIn<'_>, anchor: &AnchorIdx, min_score: f32) -> Anchored {
    let b = &p.bbox;
    let bottom = Anchored {
        at: Pt::new((b.x1 + b.x2) / 2.0, b.y2),
        how: "box-bottom",
    };
    match anchor {
        AnchorIdx::BoxBottom => bottom,
        AnchorIdx::BoxCenter => Anchored {
            at: Pt::new((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0),
            how: "box-center",
        },
        AnchorIdx::Keypoints(idx) => {
            let Some(kps) = p.keypoints else {
                return bottom;
            };
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
            for k in idx.iter().filter_map(|&i| kps.get(i)) {
                if k.score >= min_score {
                    (sx, sy, n) = (sx + k.x, sy + k.y, n + 1);
                }
            }
            if n == 0 {
                bottom
            } else {
                Anchored {
                    at: Pt::new(sx / n as f32, sy / n as f32),
                    how: "keypoints",
                }
            }
        }
    }
}

/// A track's state against one line.
#[derive(Debug, Clone, Copy, Default)]
struct LineSide {
    /// The side it was last seen beyond the margin on (`true` = in).
    inside: Option<bool>,
    /// Where it was last seen beyond the margin.
    last: Option<Pt>,
}

/// What is remembered of a track.
#[derive(Debug, Clone)]
struct Track {
    last_seen_ns: u64,
    /// Per zone: inside since (ns), and whether its dwell event fired this stay.
    zones: Vec<Option<(u64, bool)>>,
    lines: Vec<LineSide>,
    fall: FallState,
}

/// The rules' state over a stream.
pub struct Analytics {
    rules: Rules,
    tracks: HashMap<u32, Track>,
    line_counts: Vec<(u64, u64)>,
    crowded: Vec<bool>,
    /// Anchors (zones then lines) and the fall rule's keypoints for the last keypoint set.
    resolved: Option<(Option<KeypointSetId>, Vec<AnchorIdx>, Option<BodyIdx>)>,
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

impl Analytics {
    /// `rules` in frame pixels ([`Rules::in_pixels`]).
    pub fn new(rules: Rules) -> Self {
        Self {
            line_counts: vec![(0, 0); rules.lines.len()],
            crowded: vec![false; rules.zones.len()],
            tracks: HashMap::new(),
            resolved: None,
            rules,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Forgets every track and count (a seek).
    pub fn reset(&mut self) {
        *self = Self::new(self.rules.clone());
    }

    /// The anchors of zones then lines and the fall rule's keypoints, resolved for `set`
    /// (cached while the set stays).
    fn anchors(&mut self, set: Option<KeypointSetId>) -> Result<(Vec<AnchorIdx>, Option<BodyIdx>)> {
        if let Some((s, a, b)) = &self.resolved
            && *s == set
        {
            return Ok((a.clone(), *b));
        }
        let r = &self.rules;
        let zones = r
            .zones
            .iter()
            .map(|z| resolve(&format!("zone \"{}\"", z.name), &z.anchor, set));
        let lines = r
            .lines
            .iter()
            .map(|l| resolve(&format!("line \"{}\"", l.name), &l.anchor, set));
        let a: Vec<AnchorIdx> = zones.chain(lines).collect::<Result<_>>()?;
        let b = match (set, r.fall) {
            (Some(set), Some(_)) => Some(body_idx(set)?),
            _ => None,
        };
        self.resolved = Some((set, a.clone(), b));
        Ok((a, b))
    }

    /// Applies the rules to one frame; its status and the events it gave. Errors only when a
    /// keypoint anchor names a keypoint the frame's set lacks.
    pub fn update(&mut self, frame: &FrameIn<'_>) -> Result<AnalyticsResult> {
        let (anchors, body_keypoints) = self.anchors(frame.keypoint_set)?;
        let (nz, nl) = (self.rules.zones.len(), self.rules.lines.len());
        let (zone_anchors, line_anchors) = anchors.split_at(nz);
        let now = frame.pts_ns;
        let p = self.rules.params;
        let mut events = Vec::new();
        let mut occupancy = vec![0u32; nz];
        let mut ids_in: Vec<Vec<u32>> = vec![Vec::new(); nz];
        let mut persons = Vec::new();
        let event = |kind, rule: &str, id, a: Option<Anchored>| Event {
            kind,
            rule: rule.to_string(),
            id,
            pts_s: secs(now),
            anchor: a.map(|a| a.how.to_string()),
            at: a.map(|a| a.at),
            direction: None,
            dwell_s: None,
            occupancy: None,
            reason: None,
            drop: None,
            height_m: None,
            surface: None,
        };
        for person in &frame.persons {
            let Some(id) = person.id else {
                // Untracked: occupancy from where it is now, no memory, no events.
                for (zi, z) in self.rules.zones.iter().enumerate() {
                    if z.polygon
                        .contains(anchor_point(person, &zone_anchors[zi], p.min_score).at)
                    {
                        occupancy[zi] += 1;
                    }
                }
                continue;
            };
            let track = self.tracks.entry(id).or_insert_with(|| Track {
                last_seen_ns: now,
                zones: vec![None; nz],
                lines: vec![LineSide::default(); nl],
                fall: FallState::default(),
            });
            track.last_seen_ns = now;
            let mut stays = Vec::new();
            for (zi, z) in self.rules.zones.iter().enumerate() {
                let a = anchor_point(person, &zone_anchors[zi], p.min_score);
                match track.zones[zi] {
                    None if z.polygon.contains(a.at) => {
                        track.zones[zi] = Some((now, false));
                        events.push(event(EventKind::ZoneEntered, &z.name, Some(id), Some(a)));
                    }
                    Some((since, _))
                        if !z.polygon.contains(a.at)
                            && z.polygon.edge_distance(a.at) >= p.margin =>
                    {
                        track.zones[zi] = None;
                        let mut e = event(EventKind::ZoneLeft, &z.name, Some(id), Some(a));
                        e.dwell_s = Some(secs(now - since));
                        events.push(e);
                    }
                    _ => {}
                }
                if let Some((since, fired)) = &mut track.zones[zi] {
                    occupancy[zi] += 1;
                    ids_in[zi].push(id);
                    let dwell = secs(now - *since);
                    stays.push(Stay {
                        zone: z.name.clone(),
                        dwell_s: dwell,
                    });
                    if let Some(limit) = z.dwell_s
                        && !*fired
                        && dwell >= limit - 1e-9
                    {
                        *fired = true;
                        let mut e = event(EventKind::DwellExceeded, &z.name, Some(id), Some(a));
                        e.dwell_s = Some(dwell);
                        events.push(e);
                    }
                }
            }
            for (li, l) in self.rules.lines.iter().enumerate() {
                let a = anchor_point(person, &line_anchors[li], p.min_score);
                let d = l.side_distance(a.at);
                let side = if d >= p.margin {
                    Some(true)
                } else if d <= -p.margin {
                    Some(false)
                } else {
                    None
                };
                let Some(inside) = side else { continue };
                let state = &mut track.lines[li];
                if let (Some(was), Some(from)) = (state.inside, state.last)
                    && was != inside
                    && segments_intersect(from, a.at, l.a, l.b)
                {
                    let c = &mut self.line_counts[li];
                    if inside {
                        c.0 += 1;
                    } else {
                        c.1 += 1;
                    }
                    let mut e = event(EventKind::LineCrossed, &l.name, Some(id), Some(a));
                    e.direction = Some(if inside { "in" } else { "out" }.into());
                    events.push(e);
                }
                *state = LineSide {
                    inside: Some(inside),
                    last: Some(a.at),
                };
            }
            if let (Some(fp), Some(idx), Some(kps)) =
                (self.rules.fall, &body_keypoints, person.keypoints)
            {
                let b = &person.bbox;
                let change = body(kps, idx, b.y2, b.y2 - b.y1, p.min_score, frame.points)
                    .and_then(|body| track.fall.update(now, &body, &fp));
                if let Some(Change::Lying {
                    fell,
                    drop,
                    height_m,
                }) = change
                {
                    let kind = if fell {
                        EventKind::Fall
                    } else {
                        EventKind::Lying
                    };
                    let mut e = event(kind, "fall", Some(id), None);
                    e.drop = Some(drop);
                    e.height_m = height_m;
                    e.surface =
                        height_m.map(|h| if h < FLOOR_M { "floor" } else { "raised" }.to_string());
                    events.push(e);
                }
            }
            let b = &person.bbox;
            persons.push(PersonStatus {
                id,
                bbox: [b.x1, b.y1, b.x2, b.y2],
                zones: stays,
                lying: track.fall.lying,
            });
        }
        // Tracks unseen for too long leave their zones.
        let forget_ns = (p.forget_after_s * 1e9) as u64;
        let mut lost: Vec<u32> = self
            .tracks
            .iter()
            .filter(|(_, t)| now.saturating_sub(t.last_seen_ns) > forget_ns)
            .map(|(&id, _)| id)
            .collect();
        lost.sort_unstable();
        for id in lost {
            let t = self.tracks.remove(&id).expect("listed above");
            for (zi, stay) in t.zones.iter().enumerate() {
                if let Some((since, _)) = stay {
                    let mut e = event(
                        EventKind::ZoneLeft,
                        &self.rules.zones[zi].name,
                        Some(id),
                        None,
                    );
                    e.dwell_s = Some(secs(t.last_seen_ns - since));
                    e.reason = Some("lost".into());
                    events.push(e);
                }
            }
        }
        let mut zones = Vec::with_capacity(nz);
        for (zi, z) in self.rules.zones.iter().enumerate() {
            let crowded = z.crowded.is_some_and(|n| occupancy[zi] >= n);
            if crowded && !self.crowded[zi] {
                let mut e = event(EventKind::Crowded, &z.name, None, None);
                e.occupancy = Some(occupancy[zi]);
                events.push(e);
            }
            self.crowded[zi] = crowded;
            ids_in[zi].sort_unstable();
            zones.push(ZoneStatus {
                name: z.name.clone(),
                occupancy: occupancy[zi],
                crowded,
                ids: std::mem::take(&mut ids_in[zi]),
                polygon: z.polygon.0.clone(),
            });
        }
        let lines = self
            .rules
            .lines
            .iter()
            .zip(&self.line_counts)
            .map(|(l, &(i, o))| LineStatus {
                name: l.name.clone(),
                count_in: i,
                count_out: o,
                points: [l.a, l.b],
            })
            .collect();
        Ok(AnalyticsResult {
            zones,
            lines,
            persons,
            events,
        })
    }
}
