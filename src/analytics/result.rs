//! What the analytics say about one frame: the state of every rule and the events it gave.
//! Frame pixels, seconds of stream time. The JSON records carry it as it serializes here.
use serde::Serialize;

use super::shapes::Pt;

/// Kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A tracked person crossed a line (`direction` in or out).
    LineCrossed,
    /// A tracked person's anchor came inside a zone.
    ZoneEntered,
    /// A tracked person's anchor went `margin` px outside a zone, or the track was lost
    /// (`reason` = `lost`); `dwell_s` is the stay.
    ZoneLeft,
    /// A tracked person stayed in a zone for its `dwell` time (once per stay).
    DwellExceeded,
    /// A zone's occupancy reached its `crowded` count (once until it drops below again).
    Crowded,
    /// A tracked person fell: lying soon after being upright, hips dropped (`drop`).
    Fall,
    /// A tracked person lies without having fallen (lay down, or lying when first seen).
    Lying,
}

impl EventKind {
    pub const ALL: [Self; 7] = [
        Self::LineCrossed,
        Self::ZoneEntered,
        Self::ZoneLeft,
        Self::DwellExceeded,
        Self::Crowded,
        Self::Fall,
        Self::Lying,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LineCrossed => "line_crossed",
            Self::ZoneEntered => "zone_entered",
            Self::ZoneLeft => "zone_left",
            Self::DwellExceeded => "dwell_exceeded",
            Self::Crowded => "crowded",
            Self::Fall => "fall",
            Self::Lying => "lying",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The zone or line.
    pub rule: String,
    /// Track id (absent for zone-wide events: `crowded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The frame's presentation time, s.
    pub pts_s: f64,
    /// What decided: `keypoints`, `box-bottom` or `box-center` (absent when no point did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// The anchor point, frame px.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Pt>,
    /// `in` or `out` (line_crossed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Time inside the zone, s (zone_left, dwell_exceeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dwell_s: Option<f64>,
    /// Persons inside (crowded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<u32>,
    /// `lost` when a zone_left comes from a track that disappeared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How far the hips dropped from upright to lying, in standing heights (fall, lying).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop: Option<f32>,
    /// With a pointmap: the hips above the floor the person stood on, m (fall, lying).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height_m: Option<f32>,
    /// With a pointmap: `floor` or `raised` (a bed, a sofa), from `height_m` (fall, lying).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surface: Option<String>,
}

/// A zone on this frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneStatus {
    pub name: String,
    /// Persons inside on this frame (tracked ones by their zone state, untracked by position).
    pub occupancy: u32,
    pub crowded: bool,
    /// Track ids inside, ascending.
    pub ids: Vec<u32>,
    /// The zone's outline, frame px (in the meta for drawing; not in the JSON records).
    #[serde(skip)]
    pub polygon: Vec<Pt>,
}

/// A line's totals since the start (or the last seek).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineStatus {
    pub name: String,
    #[serde(rename = "in")]
    pub count_in: u64,
    #[serde(rename = "out")]
    pub count_out: u64,
    /// Its two ends, frame px (in the meta for drawing; not in the JSON records).
    #[serde(skip)]
    pub points: [Pt; 2],
}

/// A tracked person's stay in one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stay {
    pub zone: String,
    /// Time inside so far, s.
    pub dwell_s: f64,
}

/// A tracked person on this frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonStatus {
    pub id: u32,
    /// x1, y1, x2, y2, frame px.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// The zones they are in.
    pub zones: Vec<Stay>,
    /// Lying (the `[fall]` rule; false without it).
    pub lying: bool,
}

/// One frame's analytics.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct AnalyticsResult {
    pub zones: Vec<ZoneStatus>,
    pub lines: Vec<LineStatus>,
    pub persons: Vec<PersonStatus>,
    pub events: Vec<Event>,
}
