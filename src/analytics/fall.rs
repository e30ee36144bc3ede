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
//! neither is lying. Limits: a person seen only from the waist up has no feet (the box bottom
//! stands in), and 2-D cannot tell lying on the floor from lying on a bed or sofa (both are
//! `lying`; a fall onto a bed is a fall).
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
}

/// The body of a person from keypoints scoring at least `min_score` (`None` without both
/// shoulders' or both hips' midpoints: one of each side is enough).
pub fn body(
    kps: &[Keypoint],
    idx: &BodyIdx,
    box_bottom: f32,
    box_h: f32,
    min_score: f32,
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
    Some(Body {
        torso_angle: dx.abs().atan2(dy).to_degrees(),
        hip_y: hy,
        feet_y: mid(idx.ankles).map_or(box_bottom, |(_, y)| y),
        box_h,
    })
}

/// What a frame changed for one person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Lying began (held `min_lying`); `fell` when it came from upright within the window.
    Lying { fell: bool, drop: f32 },
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
}

impl FallState {
    /// Takes one frame's body at `now` (ns); what it changed, if anything.
    pub fn update(&mut self, now: u64, b: &Body, p: &FallParams) -> Option<Change> {
        // Upright: torso near vertical and hips well above the feet (not sitting, not a
        // foreshortened fall towards the camera).
        let hips_above = b.feet_y - b.hip_y;
        let upright = b.torso_angle <= p.upright_angle
            && self.height.is_none_or(|h| hips_above >= UPRIGHT_HIPS * h);
        if upright {
            self.height = Some(b.box_h);
            self.last_upright = Some((now, b.hip_y));
        }
        let h = self.height.unwrap_or(b.box_h).max(1.0);
        let low = b.feet_y - b.hip_y < p.low_hips * h;
        let lying_now = low && (b.torso_angle >= p.lying_angle || b.box_h < p.short_box * h);
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
        Some(Change::Lying { fell, drop })
    }
}
