//! The analytics file (TOML, `schema_version = 1`): zones and lines, and the anchor each tests.
//!
//! ```toml
//! schema_version = 1
//! units = "pixels"               # or "normalized": x, y in 0..1 of the frame's width, height
//! [defaults]
//! anchor = ["left_ankle", "right_ankle"]  # keypoint names of the pose model's set, or
//!                                         # "box-bottom" / "box-center"
//! min_score = 0.3                # a keypoint counts when its score is at least this
//! margin = 10.0                  # hysteresis, frame px
//! forget_after = 2.0             # s unseen before a track leaves its zones
//! [[zone]]
//! name = "counter"
//! polygon = [[100, 300], [400, 300], [400, 500], [100, 500]]
//! dwell = 5.0                    # s: dwell_exceeded after this long inside (optional)
//! crowded = 3                    # persons: crowded when at least this many are inside (optional)
//! [[line]]
//! name = "door"
//! points = [[300, 100], [300, 500]]
//! in = [400, 300]                # a point on the side a person is on after crossing in
//! [fall]                         # falls and lying from the pose (see `fall`); every key optional
//! min_lying = 1.0                # s lying must hold
//! window = 1.5                   # s from upright to lying for a fall
//! ```
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::fall::FallParams;
use super::shapes::{Polygon, Pt, cross};
use crate::error::{Error, Result};

/// The file layout version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The point of a person a rule tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Anchor {
    /// The box's bottom centre (what box-based analytics test: feet when they are visible).
    BoxBottom,
    /// The box's centre.
    BoxCenter,
    /// The mean of these keypoints (names of the pose model's keypoint set) whose score passes
    /// `min_score`; the box bottom centre when none does (or there is no pose result).
    Keypoints(Vec<String>),
}

impl Anchor {
    fn parse(spec: AnchorSpec) -> std::result::Result<Self, String> {
        let names = match spec {
            AnchorSpec::One(s) if s == "box-bottom" => return Ok(Self::BoxBottom),
            AnchorSpec::One(s) if s == "box-center" => return Ok(Self::BoxCenter),
            AnchorSpec::One(s) => vec![s],
            AnchorSpec::Many(v) => v,
        };
        if names.is_empty() {
            return Err("an empty keypoint list; name keypoints, or \"box-bottom\"".into());
        }
        if let Some(b) = names.iter().find(|n| n.starts_with("box-")) {
            return Err(format!(
                "\"{b}\" in a keypoint list; box anchors stand alone (\"box-bottom\", \"box-center\")"
            ));
        }
        Ok(Self::Keypoints(names))
    }
}

/// A polygon zone, in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    pub polygon: Polygon,
    pub anchor: Anchor,
    /// `dwell_exceeded` once per stay after this long inside, s.
    pub dwell_s: Option<f64>,
    /// `crowded` when the occupancy reaches this.
    pub crowded: Option<u32>,
}

/// A counting line a–b, in frame pixels; crossing towards `inside`'s side counts `in`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub a: Pt,
    pub b: Pt,
    /// A point on the `in` side.
    pub inside: Pt,
    pub anchor: Anchor,
}

impl Line {
    /// Signed distance of `p` from the line, px: positive on the `in` side.
    pub fn side_distance(&self, p: Pt) -> f32 {
        let len = ((self.b.x - self.a.x).powi(2) + (self.b.y - self.a.y).powi(2)).sqrt();
        let d = cross(self.a, self.b, p) / len;
        if cross(self.a, self.b, self.inside) > 0.0 {
            d
        } else {
            -d
        }
    }
}

/// Rule-wide parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// A keypoint takes part in an anchor when its score is at least this.
    pub min_score: f32,
    /// Hysteresis, px: a person leaves a zone once this far outside it, and a line crossing
    /// counts once they are this far past the line.
    pub margin: f32,
    /// A track not seen for this long (s) leaves its zones (`zone_left`, reason `lost`).
    pub forget_after_s: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            min_score: 0.3,
            margin: 10.0,
            forget_after_s: 2.0,
        }
    }
}

/// Coordinates of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    #[default]
    Pixels,
    /// 0..1 of the frame's width and height.
    Normalized,
}

/// Every rule of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub source: PathBuf,
    pub units: Units,
    pub params: Params,
    pub zones: Vec<Zone>,
    pub lines: Vec<Line>,
    /// Fall and lying detection (`[fall]`), off without it.
    pub fall: Option<FallParams>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnchorSpec {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DefaultsSpec {
    anchor: Option<AnchorSpec>,
    min_score: Option<f32>,
    margin: Option<f32>,
    forget_after: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSpec {
    name: String,
    polygon: Vec<[f32; 2]>,
    anchor: Option<AnchorSpec>,
    dwell: Option<f64>,
    crowded: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpec {
    name: String,
    points: [[f32; 2]; 2],
    #[serde(rename = "in")]
    inside: [f32; 2],
    anchor: Option<AnchorSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    schema_version: u32,
    #[serde(default)]
    units: Units,
    #[serde(default)]
    defaults: DefaultsSpec,
    #[serde(default, rename = "zone")]
    zones: Vec<ZoneSpec>,
    #[serde(default, rename = "line")]
    lines: Vec<LineSpec>,
    fall: Option<FallSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FallSpec {
    upright_angle: Option<f32>,
    lying_angle: Option<f32>,
    low_hips: Option<f32>,
    short_box: Option<f32>,
    min_lying: Option<f64>,
    window: Option<f64>,
    min_drop: Option<f32>,
}

impl FallSpec {
    /// The parameters, defaults filled in, checked.
    fn params(self) -> std::result::Result<FallParams, String> {
        let d = FallParams::default();
        let p = FallParams {
            upright_angle: self.upright_angle.unwrap_or(d.upright_angle),
            lying_angle: self.lying_angle.unwrap_or(d.lying_angle),
            low_hips: self.low_hips.unwrap_or(d.low_hips),
            short_box: self.short_box.unwrap_or(d.short_box),
            min_lying: self.min_lying.unwrap_or(d.min_lying),
            window: self.window.unwrap_or(d.window),
            min_drop: self.min_drop.unwrap_or(d.min_drop),
        };
        let range = |key: &str, v: f64, lo: f64, hi: f64, unit: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("fall.{key} = {v}: {unit} in {lo}..{hi}"))
            }
        };
        range(
            "upright_angle",
            p.upright_angle as f64,
            0.0,
            90.0,
            "degrees",
        )?;
        range("lying_angle", p.lying_angle as f64, 0.0, 90.0, "degrees")?;
        range("low_hips", p.low_hips as f64, 0.0, 1.0, "standing heights")?;
        range(
            "short_box",
            p.short_box as f64,
            0.0,
            1.0,
            "standing heights",
        )?;
        range("min_lying", p.min_lying, 0.0, 600.0, "seconds")?;
        range("window", p.window, 0.0, 60.0, "seconds")?;
        range("min_drop", p.min_drop as f64, 0.0, 1.0, "standing heights")?;
        if p.upright_angle >= p.lying_angle {
            return Err(format!(
                "fall.upright_angle = {} is not below fall.lying_angle = {}",
                p.upright_angle, p.lying_angle
            ));
        }
        Ok(p)
    }
}

impl Rules {
    /// Reads and checks an analytics file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.into(),
            msg: format!("cannot read the analytics file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of an analytics file (`source` names it in errors).
    pub fn parse(text: &str, source: &Path) -> Result<Self> {
        let err = |msg: String| Error::Config {
            path: source.into(),
            msg,
        };
        let spec: FileSpec = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if spec.schema_version != SCHEMA_VERSION {
            return Err(err(format!(
                "schema_version = {}, this build reads {SCHEMA_VERSION}",
                spec.schema_version
            )));
        }
        let d = Params::default();
        let params = Params {
            min_score: spec.defaults.min_score.unwrap_or(d.min_score),
            margin: spec.defaults.margin.unwrap_or(d.margin),
            forget_after_s: spec.defaults.forget_after.unwrap_or(d.forget_after_s),
        };
        if !(0.0..=1.0).contains(&params.min_score) {
            return Err(err(format!(
                "defaults.min_score = {}: a score threshold is in 0..1",
                params.min_score
            )));
        }
        if !(0.0..=1000.0).contains(&params.margin) {
            return Err(err(format!(
                "defaults.margin = {}: frame pixels in 0..1000",
                params.margin
            )));
        }
        if !(0.0..=3600.0).contains(&params.forget_after_s) {
            return Err(err(format!(
                "defaults.forget_after = {}: seconds in 0..3600",
                params.forget_after_s
            )));
        }
        let default_anchor = match spec.defaults.anchor {
            Some(a) => Anchor::parse(a).map_err(|m| err(format!("defaults.anchor: {m}")))?,
            None => Anchor::Keypoints(vec!["left_ankle".into(), "right_ankle".into()]),
        };
        let mut names: Vec<String> = Vec::new();
        let mut check_name = |kind: &str, name: &str| {
            if name.is_empty() {
                return Err(err(format!("a {kind} has an empty name")));
            }
            if names.iter().any(|n| n == name) {
                return Err(err(format!(
                    "the name \"{name}\" is used twice (zones and lines need names of their own)"
                )));
            }
            names.push(name.into());
            Ok(())
        };
        let in_range = |rule: &str, key: &str, p: [f32; 2]| {
            let ok = p.iter().all(|v| v.is_finite())
                && match spec.units {
                    Units::Pixels => p.iter().all(|&v| (-100_000.0..=100_000.0).contains(&v)),
                    Units::Normalized => p.iter().all(|&v| (0.0..=1.0).contains(&v)),
                };
            if ok {
                Ok(Pt::new(p[0], p[1]))
            } else {
                Err(err(format!(
                    "{rule}: {key} has the point {p:?}, outside {}",
                    match spec.units {
                        Units::Pixels => "the range of frame pixels",
                        Units::Normalized => "0..1 (units = \"normalized\")",
                    }
                )))
            }
        };
        let anchor_of = |rule: &str, a: Option<AnchorSpec>| match a {
            Some(a) => Anchor::parse(a).map_err(|m| err(format!("{rule}: anchor: {m}"))),
            None => Ok(default_anchor.clone()),
        };
        let mut zones = Vec::new();
        for z in spec.zones {
            let rule = format!("zone \"{}\"", z.name);
            check_name("zone", &z.name)?;
            if z.polygon.len() < 3 {
                return Err(err(format!(
                    "{rule}: polygon has {} points, a zone needs at least 3",
                    z.polygon.len()
                )));
            }
            let polygon = Polygon(
                z.polygon
                    .iter()
                    .map(|&p| in_range(&rule, "polygon", p))
                    .collect::<Result<_>>()?,
            );
            if polygon.area() <= 0.0 {
                return Err(err(format!(
                    "{rule}: polygon has no area (points on one line)"
                )));
            }
            if let Some(t) = z.dwell.filter(|t| !(t.is_finite() && *t > 0.0)) {
                return Err(err(format!("{rule}: dwell = {t}: seconds above 0")));
            }
            if z.crowded == Some(0) {
                return Err(err(format!(
                    "{rule}: crowded = 0: a person count of at least 1"
                )));
            }
            zones.push(Zone {
                anchor: anchor_of(&rule, z.anchor)?,
                name: z.name,
                polygon,
                dwell_s: z.dwell,
                crowded: z.crowded,
            });
        }
        let mut lines = Vec::new();
        for l in spec.lines {
            let rule = format!("line \"{}\"", l.name);
            check_name("line", &l.name)?;
            let a = in_range(&rule, "points", l.points[0])?;
            let b = in_range(&rule, "points", l.points[1])?;
            let inside = in_range(&rule, "in", l.inside)?;
            if a == b {
                return Err(err(format!("{rule}: its two points are the same")));
            }
            if cross(a, b, inside) == 0.0 {
                return Err(err(format!(
                    "{rule}: in = {:?} lies on the line; give a point on the side that counts in",
                    l.inside
                )));
            }
            lines.push(Line {
                anchor: anchor_of(&rule, l.anchor)?,
                name: l.name,
                a,
                b,
                inside,
            });
        }
        let fall = spec.fall.map(FallSpec::params).transpose().map_err(err)?;
        if zones.is_empty() && lines.is_empty() && fall.is_none() {
            return Err(err(
                "no [[zone]], no [[line]] and no [fall]: nothing to analyse".into(),
            ));
        }
        Ok(Self {
            source: source.into(),
            units: spec.units,
            params,
            zones,
            lines,
            fall,
        })
    }

    /// The rules in frame pixels of a `width`×`height` frame (normalized files are scaled).
    pub fn in_pixels(&self, width: u32, height: u32) -> Self {
        let mut out = self.clone();
        if self.units == Units::Normalized {
            let s = |p: Pt| Pt::new(p.x * width as f32, p.y * height as f32);
            for z in &mut out.zones {
                z.polygon.0.iter_mut().for_each(|p| *p = s(*p));
            }
            for l in &mut out.lines {
                (l.a, l.b, l.inside) = (s(l.a), s(l.b), s(l.inside));
            }
            out.units = Units::Pixels;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Rules> {
        Rules::parse(text, Path::new("a.toml"))
    }

    const GOOD: &str = r#"
        schema_version = 1
        units = "normalized"
        [defaults]
        margin = 4
        [[zone]]
        name = "counter"
        polygon = [[0.1, 0.5], [0.5, 0.5], [0.5, 1.0]]
        dwell = 3
        crowded = 2
        anchor = "box-center"
        [[line]]
        name = "door"
        points = [[0.5, 0.0], [0.5, 1.0]]
        in = [0.0, 0.5]
    "#;

    #[test]
    fn a_file_reads_with_defaults_and_scales_to_pixels() {
        let r = parse(GOOD).unwrap().in_pixels(200, 100);
        assert_eq!(r.params.margin, 4.0);
        assert_eq!(r.params.min_score, 0.3);
        assert_eq!(r.zones[0].anchor, Anchor::BoxCenter);
        assert_eq!(r.zones[0].polygon.0[2], Pt::new(100.0, 100.0));
        assert_eq!(
            (r.zones[0].dwell_s, r.zones[0].crowded),
            (Some(3.0), Some(2))
        );
        let door = &r.lines[0];
        assert_eq!(
            door.anchor,
            Anchor::Keypoints(vec!["left_ankle".into(), "right_ankle".into()])
        );
        // in = the left half: 30 px left of the line (x = 100) is +30.
        assert_eq!(door.side_distance(Pt::new(70.0, 20.0)), 30.0);
        assert_eq!(door.side_distance(Pt::new(110.0, 20.0)), -10.0);
    }

    #[test]
    fn bad_files_name_the_rule_and_key() {
        let cases = [
            (
                GOOD.replace("schema_version = 1", "schema_version = 2"),
                "schema_version = 2",
            ),
            (
                GOOD.replace("dwell = 3", "dwel = 3"),
                "unknown field `dwel`",
            ),
            (
                GOOD.replace(
                    "[0.5, 1.0]]\n        dwell",
                    "[0.5, 1.0], [2.0, 0.0]]\n        dwell",
                ),
                "zone \"counter\": polygon has the point [2.0, 0.0], outside 0..1",
            ),
            (
                GOOD.replace(
                    "[[0.1, 0.5], [0.5, 0.5], [0.5, 1.0]]",
                    "[[0.1, 0.5], [0.5, 0.5]]",
                ),
                "polygon has 2 points",
            ),
            (
                GOOD.replace(
                    "[[0.1, 0.5], [0.5, 0.5], [0.5, 1.0]]",
                    "[[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]]",
                ),
                "no area",
            ),
            (GOOD.replace("dwell = 3", "dwell = -1"), "dwell = -1"),
            (GOOD.replace("crowded = 2", "crowded = 0"), "crowded = 0"),
            (
                GOOD.replace("in = [0.0, 0.5]", "in = [0.5, 0.5]"),
                "line \"door\": in = [0.5, 0.5] lies on the line",
            ),
            (
                GOOD.replace("name = \"door\"", "name = \"counter\""),
                "\"counter\" is used twice",
            ),
            (
                GOOD.replace("anchor = \"box-center\"", "anchor = []"),
                "zone \"counter\": anchor: an empty keypoint list",
            ),
            (
                GOOD.replace(
                    "anchor = \"box-center\"",
                    "anchor = [\"nose\", \"box-bottom\"]",
                ),
                "box anchors stand alone",
            ),
            (
                GOOD.replace("margin = 4", "margin = -4"),
                "defaults.margin = -4",
            ),
            (
                GOOD.replace("margin = 4", "min_score = 2"),
                "defaults.min_score = 2",
            ),
            ("schema_version = 1".to_string(), "nothing to analyse"),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("a.toml"), "{want}: {e}");
        }
    }
}
