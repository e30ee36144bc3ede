//! Person boxes from a body-part segmentation: the connected components of its foreground
//! (every class but background), small ones left out, boxes that touch or overlap merged (a
//! person's parts split by a thin background gap stay one person).
use opencv::core::{CV_32S, Mat, MatTraitConst};
use opencv::imgproc;

use super::Detection;
use crate::cvmat::mat_over;
use crate::error::Result;
use crate::geometry::BBox;

/// Boxes (frame px) of the foreground of `labels` (`width`×`height` class indices, 0 =
/// background), each at least `min_area` foreground pixels; score 1.
pub fn person_boxes(
    labels: &[u8],
    width: u32,
    height: u32,
    min_area: u32,
) -> Result<Vec<Detection>> {
    let mut mask: Vec<u8> = labels.iter().map(|&l| u8::from(l != 0)).collect();
    // SAFETY: the Mat lives only in this call, over `mask`, which nothing else touches.
    let m = unsafe {
        mat_over(
            mask.as_mut_ptr(),
            mask.len(),
            width as usize,
            width,
            height,
            1,
        )?
    };
    let (mut lab, mut stats, mut centroids) = (Mat::default(), Mat::default(), Mat::default());
    let n = imgproc::connected_components_with_stats(
        &m,
        &mut lab,
        &mut stats,
        &mut centroids,
        8,
        CV_32S,
    )?;
    // Component 0 is the background.
    let mut parts: Vec<(BBox, u32)> = (1..n)
        .map(|i| -> Result<(BBox, u32)> {
            let at = |c: i32| stats.at_2d::<i32>(i, c).copied();
            let (x, y, w, h, area) = (
                at(imgproc::CC_STAT_LEFT)?,
                at(imgproc::CC_STAT_TOP)?,
                at(imgproc::CC_STAT_WIDTH)?,
                at(imgproc::CC_STAT_HEIGHT)?,
                at(imgproc::CC_STAT_AREA)?,
            );
            let b = BBox {
                x1: x as f32,
                y1: y as f32,
                x2: (x + w) as f32,
                y2: (y + h) as f32,
            };
            Ok((b, area as u32))
        })
        .collect::<Result<_>>()?;
    // Merge boxes that touch or overlap until none do.
    let touch = |a: &BBox, b: &BBox| a.x1 <= b.x2 && b.x1 <= a.x2 && a.y1 <= b.y2 && b.y1 <= a.y2;
    let mut merged = true;
    while merged {
        merged = false;
        'outer: for i in 0..parts.len() {
            for j in i + 1..parts.len() {
                if touch(&parts[i].0, &parts[j].0) {
                    let (b, area) = parts.swap_remove(j);
                    let a = &mut parts[i];
                    a.0 = BBox {
                        x1: a.0.x1.min(b.x1),
                        y1: a.0.y1.min(b.y1),
                        x2: a.0.x2.max(b.x2),
                        y2: a.0.y2.max(b.y2),
                    };
                    a.1 += area;
                    merged = true;
                    break 'outer;
                }
            }
        }
    }
    parts.sort_by(|a, b| {
        (a.0.x1, a.0.y1)
            .partial_cmp(&(b.0.x1, b.0.y1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(parts
        .into_iter()
        .filter(|(_, area)| *area >= min_area)
        .map(|(bbox, _)| Detection { bbox, score: 1.0 })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_become_boxes_touching_parts_merge_small_ones_go() {
        let (w, h) = (40u32, 30u32);
        let mut labels = vec![0u8; (w * h) as usize];
        let mut paint = |x0: u32, y0: u32, x1: u32, y1: u32, class: u8| {
            for y in y0..y1 {
                for x in x0..x1 {
                    labels[(y * w + x) as usize] = class;
                }
            }
        };
        paint(2, 2, 10, 20, 21); // a torso
        paint(3, 20, 9, 28, 5); // legs touching it (another class, same person)
        paint(12, 1, 14, 3, 2); // its box overlaps nothing: 4 px, too small
        paint(25, 5, 35, 25, 21); // a second person
        paint(20, 6, 24, 10, 3); // a separate part whose box... does not touch: its own, 16 px
        let found = person_boxes(&labels, w, h, 10).unwrap();
        let boxes: Vec<(f32, f32, f32, f32)> = found
            .iter()
            .map(|d| (d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2))
            .collect();
        assert_eq!(
            boxes,
            vec![
                (2.0, 2.0, 10.0, 28.0),
                (20.0, 6.0, 24.0, 10.0),
                (25.0, 5.0, 35.0, 25.0)
            ]
        );
    }
}
