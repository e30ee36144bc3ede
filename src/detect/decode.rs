//! A detector model's outputs → person boxes: the output layout recognized from the model's
//! output shapes, person scores thresholded, class-agnostic NMS, and boxes mapped from model-input
//! pixels back to frame pixels (through the inverse of the letterbox or stretch).
use crate::error::{Error, Result};
use crate::geometry::{Affine, BBox};
use crate::runtime::TensorInfo;
use crate::track::iou;

use super::Detection;

/// How a detector's outputs are laid out (the exports this reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputLayout {
    /// YOLOv8 / YOLO11 (ultralytics): one output `(N, 4 + C, A)`: per anchor cx, cy, w, h (input
    /// px) then C class scores.
    YoloV8 { output: String, classes: usize },
    /// YOLOX / YOLOv5: one output `(N, A, 5 + C)`: cx, cy, w, h, objectness, C class scores
    /// (score = objectness × class score; boxes decoded, as `--decode_in_inference` exports).
    YoloX { output: String, classes: usize },
    /// mmdeploy (RTMDet, the official Sapiens detector's export): `dets (N, K, 5)` x1, y1, x2,
    /// y2, score and `labels (N, K)`.
    Mmdeploy { dets: String, labels: String },
}

impl OutputLayout {
    /// Recognizes the layout from the model's outputs; an error names their shapes.
    pub fn recognize(outputs: &[TensorInfo]) -> Result<Self> {
        let fixed = |t: &TensorInfo, i: usize| t.shape.get(i).copied().filter(|d| *d > 0);
        let unknown = || {
            let shapes: Vec<String> = outputs.iter().map(|t| t.to_string()).collect();
            Error::Invalid(format!(
                "detector outputs {} match no layout this reads: YOLOv8/YOLO11 (N, 4+C, A), \
                 YOLOX/YOLOv5 (N, A, 5+C), or mmdeploy dets (N, K, 5) + labels (N, K)",
                shapes.join(", ")
            ))
        };
        match outputs {
            [a, b] => {
                let (dets, labels) = if a.shape.len() == 3 { (a, b) } else { (b, a) };
                if dets.shape.len() == 3 && fixed(dets, 2) == Some(5) && labels.shape.len() == 2 {
                    return Ok(OutputLayout::Mmdeploy {
                        dets: dets.name.clone(),
                        labels: labels.name.clone(),
                    });
                }
                Err(unknown())
            }
            [o] if o.shape.len() == 3 => match (fixed(o, 1), fixed(o, 2)) {
                (Some(rows), Some(anchors)) if rows < anchors && rows > 4 => {
                    Ok(OutputLayout::YoloV8 {
                        output: o.name.clone(),
                        classes: rows as usize - 4,
                    })
                }
                (Some(anchors), Some(cols)) if cols < anchors && cols > 5 => {
                    Ok(OutputLayout::YoloX {
                        output: o.name.clone(),
                        classes: cols as usize - 5,
                    })
                }
                _ => Err(unknown()),
            },
            _ => Err(unknown()),
        }
    }

    /// The output names to fetch, in the order [`OutputLayout::decode`] takes them.
    pub fn outputs(&self) -> Vec<&str> {
        match self {
            OutputLayout::YoloV8 { output, .. } | OutputLayout::YoloX { output, .. } => {
                vec![output]
            }
            OutputLayout::Mmdeploy { dets, labels } => vec![dets, labels],
        }
    }

    /// Person candidates (input px) of one image from its outputs (one item each, as
    /// [`OutputLayout::outputs`]), scoring at least `threshold` for class `person`.
    pub fn decode(&self, outs: &[&[f32]], person: usize, threshold: f32) -> Result<Vec<Detection>> {
        let bad = |what: &str| Error::Inference(format!("detector output: {what}"));
        let from_center = |cx: f32, cy: f32, w: f32, h: f32| BBox {
            x1: cx - w / 2.0,
            y1: cy - h / 2.0,
            x2: cx + w / 2.0,
            y2: cy + h / 2.0,
        };
        let mut found = Vec::new();
        match self {
            OutputLayout::YoloV8 { classes, .. } => {
                let o = outs.first().ok_or_else(|| bad("missing"))?;
                if person >= *classes || o.len() % (4 + classes) != 0 {
                    return Err(bad("person class or size does not fit (4+C, A)"));
                }
                let a = o.len() / (4 + classes);
                let row = |r: usize| &o[r * a..(r + 1) * a];
                let (cx, cy, w, h, s) = (row(0), row(1), row(2), row(3), row(4 + person));
                for i in (0..a).filter(|&i| s[i] >= threshold) {
                    found.push(Detection {
                        bbox: from_center(cx[i], cy[i], w[i], h[i]),
                        score: s[i],
                    });
                }
            }
            OutputLayout::YoloX { classes, .. } => {
                let o = outs.first().ok_or_else(|| bad("missing"))?;
                if person >= *classes || o.len() % (5 + classes) != 0 {
                    return Err(bad("person class or size does not fit (A, 5+C)"));
                }
                for r in o.chunks_exact(5 + classes) {
                    let score = r[4] * r[5 + person];
                    if score >= threshold {
                        found.push(Detection {
                            bbox: from_center(r[0], r[1], r[2], r[3]),
                            score,
                        });
                    }
                }
            }
            OutputLayout::Mmdeploy { .. } => {
                let (dets, labels) = match outs {
                    [d, l] => (d, l),
                    _ => return Err(bad("dets and labels missing")),
                };
                if dets.len() != labels.len() * 5 {
                    return Err(bad("dets (K, 5) and labels (K) disagree"));
                }
                for (d, l) in dets.chunks_exact(5).zip(labels.iter()) {
                    if *l as usize == person && *l >= 0.0 && d[4] >= threshold {
                        found.push(Detection {
                            bbox: BBox {
                                x1: d[0],
                                y1: d[1],
                                x2: d[2],
                                y2: d[3],
                            },
                            score: d[4],
                        });
                    }
                }
            }
        }
        Ok(found)
    }
}

/// Greedy non-maximum suppression: best first, a box overlapping a kept one by more than `iou_max`
/// is dropped; at most `max` kept.
pub fn nms(mut found: Vec<Detection>, iou_max: f32, max: usize) -> Vec<Detection> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in found {
        if kept.len() == max {
            break;
        }
        if kept.iter().all(|k| iou(&k.bbox, &d.bbox) <= iou_max) {
            kept.push(d);
        }
    }
    kept
}

/// `d` mapped from model-input px back to frame px by `to_input`'s inverse, clamped to the frame.
pub fn to_frame(d: Detection, to_input: &Affine, (width, height): (u32, u32)) -> Detection {
    let inv = to_input.inverse();
    // Box corners are pixel edges: input edge u sits at pixel-centre coordinate u - 0.5.
    let corner = |x: f32, y: f32| {
        let (fx, fy) = inv.apply(x as f64 - 0.5, y as f64 - 0.5);
        ((fx + 0.5) as f32, (fy + 0.5) as f32)
    };
    let (x1, y1) = corner(d.bbox.x1, d.bbox.y1);
    let (x2, y2) = corner(d.bbox.x2, d.bbox.y2);
    let (w, h) = (width as f32, height as f32);
    Detection {
        bbox: BBox {
            x1: x1.clamp(0.0, w),
            y1: y1.clamp(0.0, h),
            x2: x2.clamp(0.0, w),
            y2: y2.clamp(0.0, h),
        },
        score: d.score,
    }
}

/// The letterbox (`centered`: padding split on both sides, as ultralytics; else bottom/right, as
/// mmdet and YOLOX) or stretch map from a `w`×`h` frame to the `in_w`×`in_h` model input.
pub fn input_map(w: u32, h: u32, in_w: u32, in_h: u32, letterbox: bool, centered: bool) -> Affine {
    if !letterbox {
        return crate::geometry::stretch(w, h, in_w, in_h);
    }
    let s = (in_w as f64 / w as f64).min(in_h as f64 / h as f64);
    let (dx, dy) = if centered {
        (
            (in_w as f64 - w as f64 * s) / 2.0,
            (in_h as f64 - h as f64 * s) / 2.0,
        )
    } else {
        (0.0, 0.0)
    };
    // Pixel centres: frame x ↦ s (x + 0.5) − 0.5 + dx.
    Affine([[s, 0.0, 0.5 * s - 0.5 + dx], [0.0, s, 0.5 * s - 0.5 + dy]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, shape: &[i64]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            shape: shape.to_vec(),
            is_f32: true,
            dtype: Some(crate::runtime::triton::DataType::Fp32),
        }
    }

    #[test]
    fn layouts_are_recognized_from_output_shapes_or_named_in_the_error() {
        assert_eq!(
            OutputLayout::recognize(&[info("output0", &[1, 84, 8400])]).unwrap(),
            OutputLayout::YoloV8 {
                output: "output0".into(),
                classes: 80
            }
        );
        assert_eq!(
            OutputLayout::recognize(&[info("output", &[-1, 8400, 85])]).unwrap(),
            OutputLayout::YoloX {
                output: "output".into(),
                classes: 80
            }
        );
        assert_eq!(
            OutputLayout::recognize(&[info("labels", &[1, 100]), info("dets", &[1, 100, 5])])
                .unwrap(),
            OutputLayout::Mmdeploy {
                dets: "dets".into(),
                labels: "labels".into()
            }
        );
        let e = OutputLayout::recognize(&[info("heatmaps", &[1, 17, 256, 192])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("heatmaps") && e.contains("256") && e.contains("YOLOv8"),
            "{e}"
        );
    }

    #[test]
    fn each_layout_decodes_person_boxes_above_the_threshold() {
        // Two anchors: a person at (10,20)-(30,60) scoring 0.9, a non-person scoring 0.8.
        let v8: Vec<f32> = [
            [20.0, 40.0],
            [40.0, 10.0],
            [20.0, 10.0],
            [40.0, 10.0],
            [0.9, 0.1],
            [0.0, 0.8],
        ]
        .concat();
        let layout = OutputLayout::YoloV8 {
            output: "o".into(),
            classes: 2,
        };
        let got = layout.decode(&[&v8], 0, 0.3).unwrap();
        let want = Detection {
            bbox: BBox {
                x1: 10.0,
                y1: 20.0,
                x2: 30.0,
                y2: 60.0,
            },
            score: 0.9,
        };
        assert_eq!(got, vec![want]);
        let x: Vec<f32> = [
            [20.0, 40.0, 20.0, 40.0, 0.9, 1.0, 0.0],
            [40.0, 10.0, 10.0, 10.0, 0.8, 0.0, 1.0],
        ]
        .concat();
        let layout = OutputLayout::YoloX {
            output: "o".into(),
            classes: 2,
        };
        assert_eq!(layout.decode(&[&x], 0, 0.3).unwrap(), vec![want]);
        let dets = [10.0, 20.0, 30.0, 60.0, 0.9, 35.0, 5.0, 45.0, 15.0, 0.8];
        let layout = OutputLayout::Mmdeploy {
            dets: "d".into(),
            labels: "l".into(),
        };
        assert_eq!(
            layout.decode(&[&dets, &[0.0, 1.0]], 0, 0.3).unwrap(),
            vec![want]
        );
        assert!(
            layout
                .decode(&[&dets, &[0.0, 1.0]], 0, 0.95)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let d = |x: f32, s: f32| Detection {
            bbox: BBox {
                x1: x,
                y1: 0.0,
                x2: x + 10.0,
                y2: 20.0,
            },
            score: s,
        };
        let kept = nms(vec![d(0.0, 0.8), d(1.0, 0.9), d(50.0, 0.5)], 0.3, 10);
        assert_eq!(kept, vec![d(1.0, 0.9), d(50.0, 0.5)]);
        assert_eq!(
            nms(vec![d(0.0, 0.8), d(50.0, 0.5)], 0.3, 1),
            vec![d(0.0, 0.8)]
        );
    }

    #[test]
    fn letterboxed_boxes_map_back_to_the_frame() {
        // 1280×720 into 640×640: scale 0.5; centred: 140 px of padding above.
        for centered in [false, true] {
            let m = input_map(1280, 720, 640, 640, true, centered);
            let dy = if centered { 140.0 } else { 0.0 };
            let d = Detection {
                bbox: BBox {
                    x1: 50.0,
                    y1: 100.0 + dy,
                    x2: 150.0,
                    y2: 300.0 + dy,
                },
                score: 1.0,
            };
            let f = to_frame(d, &m, (1280, 720)).bbox;
            let want = [100.0, 200.0, 300.0, 600.0];
            let got = [f.x1, f.y1, f.x2, f.y2];
            assert!(
                got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-3),
                "{got:?}"
            );
        }
    }
}
