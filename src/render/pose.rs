//! Skeletons as the official Sapiens demo draws them (SAPIENS.md 6.1 step 5): a keypoint is
//! drawn when `score >= threshold`, a link when both ends score `> threshold`; radius 6,
//! link thickness 3, the keypoint set's official colours. People under 240 px tall (a wide
//! camera view) get smaller marks in proportion, at least radius 2 and thickness 1, so the dots
//! do not hide the limbs.
use opencv::core::{Point, Rect};

use super::Canvas;
use crate::error::Result;
use crate::meta::pose::PoseResult;

/// Official demo keypoint radius, px.
pub const RADIUS: i32 = 6;
/// Official demo link thickness, px.
pub const THICKNESS: i32 = 3;
/// Box height (frame px) from which a person gets the official sizes.
const FULL_SIZE_HEIGHT: f32 = 240.0;

/// Keypoint radius and link thickness for a person box `height` px tall.
fn mark_sizes(height: f32) -> (i32, i32) {
    let f = (height / FULL_SIZE_HEIGHT).clamp(0.0, 1.0);
    let radius = (RADIUS as f32 * f).round().max(2.0) as i32;
    let thickness = (THICKNESS as f32 * f).round().max(1.0) as i32;
    (radius, thickness)
}

/// Box and label colour (RGB).
const BOX_RGB: [u8; 3] = [0, 255, 0];

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseStyle {
    pub boxes: bool,
    pub keypoints: bool,
    pub links: bool,
    pub labels: bool,
    /// Overrides the result's own threshold when set.
    pub threshold: Option<f32>,
}

impl Default for PoseStyle {
    fn default() -> Self {
        Self {
            boxes: true,
            keypoints: true,
            links: true,
            labels: false,
            threshold: None,
        }
    }
}

/// A bright colour (RGB) of its own for each track id: hues spaced by the golden angle.
pub fn id_color(id: u32) -> [u8; 3] {
    let h = (id as f32 * 137.508) % 360.0 / 60.0;
    let x = (1.0 - (h % 2.0 - 1.0).abs()) * 255.0;
    let (c, x) = (255.0f32, x);
    let [r, g, b] = match h as u32 {
        0 => [c, x, 0.0],
        1 => [x, c, 0.0],
        2 => [0.0, c, x],
        3 => [0.0, x, c],
        4 => [x, 0.0, c],
        _ => [c, 0.0, x],
    };
    [r as u8, g as u8, b as u8]
}

fn point(x: f32, y: f32) -> Point {
    Point::new(x.round() as i32, y.round() as i32)
}

/// Draws every person of `result`.
pub fn draw(canvas: &mut Canvas<'_>, result: &PoseResult, style: &PoseStyle) -> Result<()> {
    let set = result.keypoint_set.set();
    let thr = style.threshold.unwrap_or(result.score_threshold);
    for (i, person) in result.persons.iter().enumerate() {
        let b = &person.bbox;
        let color = person.id.map_or(BOX_RGB, id_color);
        if style.boxes {
            let r = Rect::new(
                b.x1.round() as i32,
                b.y1.round() as i32,
                (b.x2 - b.x1).round() as i32,
                (b.y2 - b.y1).round() as i32,
            );
            canvas.rect(r, color, 2)?;
            if let Some(id) = person.id {
                let at = Point::new(b.x1.round().max(0.0) as i32, (b.y1.round() as i32).max(14));
                canvas.label(at, &format!("#{id}"), 0.5, [0, 0, 0], color)?;
            }
        }
        let kps = &person.keypoints;
        let (radius, thickness) = mark_sizes(b.y2 - b.y1);
        if style.links {
            for link in &set.skeleton {
                let [a, z] = link.link;
                if let (Some(p), Some(q)) = (kps.get(a), kps.get(z))
                    && p.score > thr
                    && q.score > thr
                {
                    canvas.line(point(p.x, p.y), point(q.x, q.y), link.color_rgb, thickness)?;
                }
            }
        }
        if style.keypoints {
            for (k, kp) in kps.iter().enumerate() {
                if kp.score >= thr {
                    canvas.circle(point(kp.x, kp.y), radius, set.keypoints[k].color_rgb)?;
                }
            }
        }
        if style.labels {
            let shown = kps.iter().filter(|k| k.score >= thr).count();
            let text = format!("person {i}: {shown}/{} keypoints", kps.len());
            let y = (b.y1.round() as i32 - 24).max(0);
            canvas.label(
                Point::new(b.x1.round().max(0.0) as i32, y),
                &text,
                0.5,
                [0, 0, 0],
                BOX_RGB,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_people_get_smaller_marks_tall_ones_the_official_sizes() {
        assert_eq!(mark_sizes(480.0), (6, 3));
        assert_eq!(mark_sizes(240.0), (6, 3));
        assert_eq!(mark_sizes(120.0), (3, 2));
        assert_eq!(mark_sizes(40.0), (2, 1));
        assert_eq!(mark_sizes(0.0), (2, 1));
    }
}
