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
    /// NanoDet's GFL head (RangiLyu/nanodet, as its TF.js/ONNX export gives it): per stride, class
    /// scores `(N, A, C)` (already sigmoid) and box distributions `(N, A, 4·B)`; see [`Gfl`].
    Gfl(Gfl),
}

/// The GFL layout: one level per stride, anchors row-major on that stride's grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gfl {
    /// Finest stride first.
    pub levels: Vec<GflLevel>,
    pub classes: usize,
    /// Bins per box side (`reg_max + 1`: 11 for NanoDet, 8 for NanoDet-Plus).
    pub bins: usize,
}

/// One stride of a GFL head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GflLevel {
    pub scores: String,
    pub boxes: String,
    /// Input px per grid cell.
    pub stride: u32,
    /// Grid columns: `⌈input width / stride⌉`.
    pub columns: usize,
}

impl Gfl {
    /// The level pairs of `outputs` when every output is `(1|N, A, D)` and they pair up by `A`
    /// into a `classes`-wide score tensor and a `4·B` box tensor whose `A` is the grid of a
    /// power-of-two stride of the `input` (height, width); `None` when they do not.
    fn recognize(outputs: &[TensorInfo], classes: usize, (h, w): (u32, u32)) -> Option<Self> {
        if outputs.len() < 2 || !outputs.len().is_multiple_of(2) {
            return None;
        }
        let dims = |t: &TensorInfo| match t.shape[..] {
            [_, a, d] if a > 0 && d > 0 => Some((a as usize, d as usize)),
            _ => None,
        };
        let mut levels = Vec::new();
        let mut bins = None;
        for s in outputs {
            let (a, d) = dims(s)?;
            if d != classes {
                continue;
            }
            let boxes = outputs.iter().find(|b| {
                b.name != s.name
                    && dims(b)
                        .is_some_and(|(ba, bd)| ba == a && bd.is_multiple_of(4) && bd != classes)
            })?;
            let b = dims(boxes)?.1 / 4;
            if *bins.get_or_insert(b) != b {
                return None;
            }
            let stride = (2..=7)
                .map(|k| 1u32 << k)
                .find(|st| (h.div_ceil(*st) * w.div_ceil(*st)) as usize == a)?;
            levels.push(GflLevel {
                scores: s.name.clone(),
                boxes: boxes.name.clone(),
                stride,
                columns: w.div_ceil(stride) as usize,
            });
        }
        if levels.len() * 2 != outputs.len() {
            return None;
        }
        levels.sort_by_key(|l| l.stride);
        Some(Gfl {
            levels,
            classes,
            bins: bins?,
        })
    }

    /// Person candidates of one level as the upstream demo decodes them (`demo_mnn`'s
    /// `decode_infer`/`disPred2Bbox`): a cell counts for its best class only; its centre is
    /// `((col + 0.5)·s, (row + 0.5)·s)`; each side's distance is the expectation of the softmax
    /// over its bins, times the stride (left, top, right, bottom). Input px.
    fn decode_level(
        &self,
        level: &GflLevel,
        scores: &[f32],
        boxes: &[f32],
        person: usize,
        threshold: f32,
        found: &mut Vec<Detection>,
    ) -> Result<()> {
        let (c, b) = (self.classes, self.bins);
        if !scores.len().is_multiple_of(c) || boxes.len() != scores.len() / c * 4 * b {
            return Err(Error::Inference(format!(
                "detector output {}: {} scores and {} box values do not fit (A, {c}) and (A, {})",
                level.scores,
                scores.len(),
                boxes.len(),
                4 * b
            )));
        }
        let stride = level.stride as f32;
        for (i, cell) in scores.chunks_exact(c).enumerate() {
            let (best, score) =
                cell.iter().enumerate().fold(
                    (0, f32::MIN),
                    |m, (k, v)| if *v > m.1 { (k, *v) } else { m },
                );
            if best != person || score < threshold {
                continue;
            }
            let (row, col) = (i / level.columns, i % level.columns);
            let (cx, cy) = ((col as f32 + 0.5) * stride, (row as f32 + 0.5) * stride);
            let side =
                |k: usize| expected_bin(&boxes[(i * 4 + k) * b..(i * 4 + k + 1) * b]) * stride;
            found.push(Detection {
                bbox: BBox {
                    x1: cx - side(0),
                    y1: cy - side(1),
                    x2: cx + side(2),
                    y2: cy + side(3),
                },
                score,
            });
        }
        Ok(())
    }
}

/// `Σ j·softmax(logits)_j`: the expected bin of a distribution given as logits.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for (j, l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        num += j as f32 * e;
        den += e;
    }
    num / den
}

impl OutputLayout {
    /// Recognizes the layout from the model's outputs (a GFL head's strides from the `input`
    /// (height, width) and its `classes`); an error names their shapes.
    pub fn recognize(outputs: &[TensorInfo], input: (u32, u32), classes: usize) -> Result<Self> {
        let fixed = |t: &TensorInfo, i: usize| t.shape.get(i).copied().filter(|d| *d > 0);
        let unknown = || {
            let shapes: Vec<String> = outputs.iter().map(|t| t.to_string()).collect();
            Error::Invalid(format!(
                "detector outputs {} match no layout this reads: YOLOv8/YOLO11 (N, 4+C, A), \
                 YOLOX/YOLOv5 (N, A, 5+C), mmdeploy dets (N, K, 5) + labels (N, K), or NanoDet GFL \
                 pairs per stride (N, A, {classes}) + (N, A, 4·bins)",
                shapes.join(", ")
            ))
        };
        if let Some(gfl) = Gfl::recognize(outputs, classes, input) {
            return Ok(OutputLayout::Gfl(gfl));
        }
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
            OutputLayout::Gfl(g) => g
                .levels
                .iter()
                .flat_map(|l| [l.scores.as_str(), l.boxes.as_str()])
                .collect(),
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
            OutputLayout::Gfl(g) => {
                if outs.len() != 2 * g.levels.len() {
                    return Err(bad("a score and a box tensor for each stride"));
                }
                for (level, pair) in g.levels.iter().zip(outs.chunks_exact(2)) {
                    g.decode_level(level, pair[0], pair[1], person, threshold, &mut found)?;
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
            OutputLayout::recognize(&[info("output0", &[1, 84, 8400])], (640, 640), 80).unwrap(),
            OutputLayout::YoloV8 {
                output: "output0".into(),
                classes: 80
            }
        );
        assert_eq!(
            OutputLayout::recognize(&[info("output", &[-1, 8400, 85])], (640, 640), 80).unwrap(),
            OutputLayout::YoloX {
                output: "output".into(),
                classes: 80
            }
        );
        assert_eq!(
            OutputLayout::recognize(
                &[info("labels", &[1, 100]), info("dets", &[1, 100, 5])],
                (640, 640),
                80
            )
            .unwrap(),
            OutputLayout::Mmdeploy {
                dets: "dets".into(),
                labels: "labels".into()
            }
        );
        let e = OutputLayout::recognize(&[info("heatmaps", &[1, 17, 256, 192])], (640, 640), 80)
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

    /// A GFL head on a 64×32 input (width × height), strides 8 (8×4 grid) and 16 (4×2), 3
    /// classes, 4 bins a side, its outputs given out of order.
    fn gfl() -> OutputLayout {
        let outputs = [
            info("box16", &[1, 8, 16]),
            info("cls8", &[1, 32, 3]),
            info("cls16", &[1, 8, 3]),
            info("box8", &[1, 32, 16]),
        ];
        OutputLayout::recognize(&outputs, (32, 64), 3).unwrap()
    }

    #[test]
    fn gfl_outputs_pair_up_by_stride() {
        let level = |scores: &str, boxes: &str, stride, columns| GflLevel {
            scores: scores.into(),
            boxes: boxes.into(),
            stride,
            columns,
        };
        assert_eq!(
            gfl(),
            OutputLayout::Gfl(Gfl {
                levels: vec![level("cls8", "box8", 8, 8), level("cls16", "box16", 16, 4)],
                classes: 3,
                bins: 4,
            })
        );
        assert_eq!(gfl().outputs(), ["cls8", "box8", "cls16", "box16"]);
        // A grid no stride of the input gives, or a class count that matches no tensor.
        let odd = [info("c", &[1, 30, 3]), info("b", &[1, 30, 16])];
        assert!(OutputLayout::recognize(&odd, (32, 64), 3).is_err());
        let e = OutputLayout::recognize(&odd[..], (32, 64), 80)
            .unwrap_err()
            .to_string();
        assert!(e.contains("(N, A, 80)") && e.contains("[1,30,16]"), "{e}");
    }

    #[test]
    fn gfl_boxes_are_the_expected_bin_distances_from_the_cell_centre() {
        let (c, b) = (3, 4);
        let mut cls8 = vec![0.0f32; 32 * c];
        let mut box8 = vec![-30.0f32; 32 * 4 * b];
        let mut cls16 = vec![0.0f32; 8 * c];
        let box16 = vec![0.0f32; 8 * 4 * b];
        // Stride 8, row 2, col 5 (centre 44, 20): person 0.9. Sides: uniform bins (mean 1.5:
        // 12 px), one-hot bin 2 (16 px), bins 0 and 3 at 1/3 and 2/3 (mean 2: 16 px), one-hot
        // bin 3 (24 px).
        let i = 2 * 8 + 5;
        cls8[i * c] = 0.9;
        let side = |k: usize| (i * 4 + k) * b;
        box8[side(0)..side(0) + b].fill(0.0);
        box8[side(1) + 2] = 30.0;
        box8[side(2)] = 0.0;
        box8[side(2) + 3] = 2f32.ln();
        box8[side(3) + 3] = 30.0;
        // Stride 8, cell 0: another class beats person (0.95 vs 0.5): not a person.
        cls8[0] = 0.5;
        cls8[1] = 0.95;
        // Stride 16, row 1, col 3 (centre 56, 24), uniform bins (24 px a side): person 0.8;
        // cell 0: person 0.4, under the threshold.
        cls16[(4 + 3) * c] = 0.8;
        cls16[0] = 0.4;
        let found = gfl()
            .decode(&[&cls8, &box8, &cls16, &box16], 0, 0.5)
            .unwrap();
        let want = [
            ([32.0, 4.0, 60.0, 44.0], 0.9),
            ([32.0, 0.0, 80.0, 48.0], 0.8),
        ];
        assert_eq!(found.len(), want.len(), "{found:?}");
        for (d, (bbox, score)) in found.iter().zip(want) {
            let got = [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
            assert!(
                got.iter().zip(bbox).all(|(g, w)| (g - w).abs() < 1e-3) && d.score == score,
                "{got:?} {} vs {bbox:?} {score}",
                d.score
            );
        }
        assert!(
            gfl()
                .decode(&[&cls8, &box8[1..], &cls16, &box16], 0, 0.5)
                .is_err()
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
