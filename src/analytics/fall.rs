//! Falls and lying from 2-D pose, per tracked person.
//!
//! The rule (all lengths relative to the person's standing height `H`: their box height while
//! last upright, so it follows distance to the camera):
//! - **upright**: torso (hip midpoint → shoulder midpoint) within `upright_angle` of vertical
//!   and the hips at least 0.35·H above the feet;
//! - **lying**: hips low, the hips less than `low_hips`·H above the feet (the ankles' mean, else
//!   the box bottom), and either the torso at least `lying_angle` from vertical or the box under
//!   `short_box`·H tall (a fall towards the camera foreshortens the torso but flattens the box);
//!   held for `min_lying` s (hysteresis: lying ends after `min_lying` s not lying);
//! - **fall**: a lying onset less than `window` s after the person was last upright, with the
//!   hips `min_drop`·H lower than then when lying is confirmed. Lying down slowly (or lying from the first frame) gives
//!   `lying` without `fall`.
//!
//! Sitting keeps the torso upright and the box tall; bending keeps the hips high above the feet:
//! neither is lying. With a pointmap on the frame (Sapiens2 `sapienspointmap` upstream), the
//! person's up direction and floor come from their last upright frame in 3-D; the torso angle is
//! then measured in 3-D (a fall towards the camera tilts it there while the picture shows it
//! upright), and a lying person's hips are measured above that floor: under [`FLOOR_M`] on the
//! floor, else on something raised (a bed, a sofa). Limits: a person seen only from the waist up
//! has no feet (the box bottom stands in, and no 3-D); without a pointmap, lying on the floor and
//! on a bed look alike (a fall onto a bed is a fall either way).
use crate::heads::pose::Keypoint;

/// Parameters of the rule (`[fall]` in the analytics file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FallParams {
    /// Torso angle from vertical that still counts as upright, degrees.
    pub upright_angle: f32,
    /// Torso angle from vertical from which a person with low hips lies, degrees.
    pub lying_angle: f32,
    /// Hips less than this × H above the feet are low.
    pub low_hips: f32,
    /// A box under this × H tall is flattened.
    pub short_box: f32,
    /// How long lying must hold before it counts (and not-lying before it ends), s.
    pub min_lying: f64,
    /// Longest time from upright to lying for a fall, s.
    pub window: f64,
    /// Least drop of the hips (× H) from upright to lying for a fall.
    pub min_drop: f32,
}

impl Default for FallParams {
    fn default() -> Self {
        Self {
            upright_angle: 30.0,
            lying_angle: 60.0,
            low_hips: 0.25,
            short_box: 0.5,
            min_lying: 1.0,
            window: 1.5,
            min_drop: 0.3,
        }
    }
}

/// Hips at least this × H above the feet, with an upright torso, is standing.
const UPRIGHT_HIPS: f32 = 0.35;

/// Channel indices of the keypoints the rule reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyIdx {
    pub shoulders: [usize; 2],
    pub hips: [usize; 2],
    pub ankles: [usize; 2],
}

/// Metric 3-D points of the body (camera coordinates of a pointmap, m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Body3d {
    pub shoulders: [f32; 3],
    pub hips: [f32; 3],
    pub feet: [f32; 3],
}

/// A frame's metric 3-D point at frame pixel (x, y), where known (a pointmap).
pub type Points<'a> = &'a dyn Fn(f32, f32) -> Option<[f32; 3]>;

/// Where one person's body is on one frame (frame px).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Body {
    /// Torso angle from vertical, degrees (0 upright, 90 horizontal).
    pub torso_angle: f32,
    /// Hip midpoint y.
    pub hip_y: f32,
    /// Feet y: the ankles' mean, else the box bottom.
    pub feet_y: f32,
    /// Box height.
    pub box_h: f32,
    /// The same in 3-D when the frame has a pointmap (and the ankles are seen).
    pub metric: Option<Body3d>,
}

/// The body of a person from keypoints scoring at least `min_score` (`None` without both
/// shoulders' or both hips' midpoints: one of each side is enough); in 3-D too where `points`
/// knows the shoulders', hips' and ankles' midpoints.
pub fn body(
    kps: &[Keypoint],
    idx: &BodyIdx,
    box_bottom: f32,
    box_h: f32,
    min_score: f32,
    points: Option<Points<'_>>,
) -> Option<Body> {
    let mid = |pair: [usize; 2]| -> Option<(f32, f32)> {
        let pts: Vec<&Keypoint> = pair
            .iter()
            .filter_map(|&i| kps.get(i))
            .filter(|k| k.score >= min_score)
            .collect();
        (!pts.is_empty()).then(|| {
            let n = pts.len() as f32;
            (
                pts.iter().map(|k| k.x).sum::<f32>() / n,
                pts.iter().map(|k| k.y).sum::<f32>() / n,
            )
        })
    };
    let (sx, sy) = mid(idx.shoulders)?;
    let (hx, hy) = mid(idx.hips)?;
    let (dx, dy) = (sx - hx, hy - sy);
    let ankles = mid(idx.ankles);
    let metric = points.and_then(|at| {
        let (fx, fy) = ankles?;
        Some(Body3d {
            shoulders: at(sx, sy)?,
            hips: at(hx, hy)?,
            feet: at(fx, fy)?,
        })
    });
    Some(Body {
        torso_angle: dx.abs().atan2(dy).to_degrees(),
        hip_y: hy,
        feet_y: ankles.map_or(box_bottom, |(_, y)| y),
        box_h,
        metric,
    })
}

/// The mean of the valid (not NaN) points of a `width`×`height`×3 pointmap in the 3×3 pixels
/// around (x, y); `None` when none is valid or (x, y) is outside.
pub fn sample_points(
    values: &[f32],
    width: usize,
    height: usize,
    x: f32,
    y: f32,
) -> Option<[f32; 3]> {
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    let (mut sum, mut n) = ([0.0f32; 3], 0);
    for py in cy - 1..=cy + 1 {
        for px in cx - 1..=cx + 1 {
            if px < 0 || py < 0 || px >= width as i64 || py >= height as i64 {
                continue;
            }
            let o = (py as usize * width + px as usize) * 3;
            let p = values.get(o..o + 3)?;
            if p.iter().all(|v| v.is_finite()) {
                for k in 0..3 {
                    sum[k] += p[k];
                }
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum.map(|v| v / n as f32))
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The person's floor and up direction, from their body while upright (3-D).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ground {
    /// Where the feet stood, m.
    feet: [f32; 3],
    /// Unit vector feet → shoulders while standing.
    up: [f32; 3],
    /// When it was last learnt, ns.
    at: u64,
}

/// The floor and up direction come from frames whose torso is this close to the up direction
/// known so far (to vertical in the picture for the first), degrees: a body already tipping
/// would tilt the floor.
const GROUND_ANGLE: f32 = 10.0;
/// Time constant of the up direction's update, s.
const GROUND_TAU_S: f32 = 2.0;

/// Lying with the hips less than this above the floor the person stood on is lying on the
/// floor; higher, on something raised (a bed, a sofa), m.
pub const FLOOR_M: f32 = 0.3;

/// What a frame changed for one person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Lying began (held `min_lying`); `fell` when it came from upright within the window;
    /// `height_m`: the hips above the floor the person last stood on (with a pointmap).
    Lying {
        fell: bool,
        drop: f32,
        height_m: Option<f32>,
    },
    /// Lying ended.
    Up,
}

/// One track's posture history.
#[derive(Debug, Clone, Default)]
pub struct FallState {
    /// Standing height H, px (the box height while last upright).
    height: Option<f32>,
    /// Last upright sample: time (ns) and hip y.
    last_upright: Option<(u64, f32)>,
    /// The current candidate state and since when (ns).
    pending: Option<(bool, u64)>,
    /// The confirmed state.
    pub lying: bool,
    /// The last upright sample before the current lying candidate began.
    onset_from: Option<(u64, f32)>,
    /// The floor and up direction (3-D), from the last upright frame with a pointmap.
    ground: Option<Ground>,
}

impl FallState {
    /// Updates the floor and up direction from an upright frame's 3-D body. The up direction
    /// moves slowly (time constant [`GROUND_TAU_S`]) and only towards bodies within
    /// [`GROUND_ANGLE`] of it (the first from one that upright in the picture), so a body tipping
    /// over does not drag it along.
    fn learn_ground(&mut self, now: u64, m: Body3d, angle_2d: f32) {
        let v = sub(m.shoulders, m.feet);
        let len = dot(v, v).sqrt();
        // A standing body is at least this tall from feet to shoulders.
        if len < 0.5 {
            return;
        }
        let v = [v[0] / len, v[1] / len, v[2] / len];
        match self.ground {
            None if angle_2d <= GROUND_ANGLE => {
                self.ground = Some(Ground {
                    feet: m.feet,
                    up: v,
                    at: now,
                })
            }
            None => {}
            Some(g) => {
                if dot(v, g.up).clamp(-1.0, 1.0).acos().to_degrees() > GROUND_ANGLE {
                    return;
                }
                let a = ((now.saturating_sub(g.at)) as f32 / 1e9 / GROUND_TAU_S).min(1.0);
                let u = [0, 1, 2].map(|k| g.up[k] + a * (v[k] - g.up[k]));
                let n = dot(u, u).sqrt().max(1e-6);
                self.ground = Some(Ground {
                    feet: m.feet,
                    up: u.map(|x| x / n),
                    at: now,
                });
            }
        }
    }

    /// Takes one frame's body at `now` (ns); what it changed, if anything.
    pub fn update(&mut self, now: u64, b: &Body, p: &FallParams) -> Option<Change> {
        // Upright: torso near vertical and hips well above the feet (not sitting, not a
        // foreshortened fall towards the camera).
        // With 3-D points and a known up direction, the torso's angle is measured in 3-D: a
        // fall towards the camera tilts it there while the picture shows it upright.
        let angle = match (b.metric, self.ground) {
            (Some(m), Some(g)) => {
                let t = sub(m.shoulders, m.hips);
                let len = dot(t, t).sqrt();
                if len > 0.05 {
                    (dot(t, g.up) / len).clamp(-1.0, 1.0).acos().to_degrees()
                } else {
                    b.torso_angle
                }
            }
            _ => b.torso_angle,
        };
        let hips_above = b.feet_y - b.hip_y;
        let upright =
            angle <= p.upright_angle && self.height.is_none_or(|h| hips_above >= UPRIGHT_HIPS * h);
        if upright {
            self.height = Some(b.box_h);
            self.last_upright = Some((now, b.hip_y));
            if let Some(m) = b.metric {
                self.learn_ground(now, m, b.torso_angle);
            }
        }
        let h = self.height.unwrap_or(b.box_h).max(1.0);
        let low = b.feet_y - b.hip_y < p.low_hips * h;
        let lying_now = low && (angle >= p.lying_angle || b.box_h < p.short_box * h);
        match self.pending {
            Some((state, _)) if state == lying_now => {}
            _ => {
                self.pending = Some((lying_now, now));
                if lying_now && !self.lying {
                    self.onset_from = self.last_upright;
                }
            }
        }
        let (state, since) = self.pending.expect("set above");
        let held = (now - since) as f64 / 1e9 >= p.min_lying - 1e-9;
        if state == self.lying || !held {
            return None;
        }
        self.lying = state;
        if !state {
            return Some(Change::Up);
        }
        // Lying began at `since`: a fall when upright came less than `window` before it and the
        // hips are now well below where they were then.
        let (fell, drop) = match self.onset_from {
            Some((t, hip)) => {
                let drop = (b.hip_y - hip) / h;
                (
                    (since - t) as f64 / 1e9 <= p.window && drop >= p.min_drop,
                    drop,
                )
            }
            None => (false, 0.0),
        };
        let height_m = match (b.metric, self.ground) {
            (Some(m), Some(g)) => Some(dot(sub(m.hips, g.feet), g.up)),
            _ => None,
        };
        Some(Change::Lying {
            fell,
            drop,
            height_m,
        })
    }
}
