//! ByteTrack (Zhang et al., ECCV 2022), the association that DeepStream's and DL Streamer's
//! trackers also build on: every track's box is predicted by a Kalman filter; high-score
//! detections are matched first (to tracked and lost tracks), then low-score detections to the
//! tracks still unmatched (boxes an occlusion made uncertain keep their id instead of being
//! dropped), then new tracks start from unmatched high-score detections. Matching is the optimal
//! assignment on IoU (Kuhn–Munkres, from the `pathfinding` crate).
use pathfinding::prelude::{Matrix, kuhn_munkres_min};

use super::iou;
use super::kalman::BoxFilter;
use crate::detect::Detection;
use crate::geometry::BBox;

/// Thresholds, in the detector's score units (ByteTrack's defaults for scores in 0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    /// Detections scoring at least this are high-score (first association, may start tracks).
    pub high: f32,
    /// Detections scoring below this are ignored; between `low` and `high` they only keep
    /// existing tracks alive (second association).
    pub low: f32,
    /// A new track starts from an unmatched detection scoring at least this.
    pub new_track: f32,
    /// Least IoU for the first association (ByteTrack's `match_thresh` 0.8 = 1 − 0.2).
    pub first_iou: f32,
    /// Least IoU for the second (low-score) association.
    pub second_iou: f32,
    /// Least IoU for confirming a tentative track.
    pub tentative_iou: f32,
    /// Detection frames a lost track is kept (and can be found again with its id).
    pub max_age: u32,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            high: 0.5,
            low: 0.1,
            new_track: 0.6,
            first_iou: 0.2,
            second_iou: 0.5,
            tentative_iou: 0.3,
            max_age: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Seen once; confirmed when matched on the next detection frame, else dropped.
    Tentative,
    Tracked,
    /// Not matched lately; kept for `max_age` detection frames.
    Lost,
}

#[derive(Debug, Clone)]
struct Track {
    id: u32,
    filter: BoxFilter,
    state: State,
    score: f32,
    /// Detection frames since the last match.
    missed: u32,
    matched_now: bool,
}

/// A tracked person on a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedBox {
    /// Stable id (from 1).
    pub id: u32,
    /// The filter's box: the matched detection smoothed, or predicted on frames without one.
    pub bbox: BBox,
    /// Score of the detection it was last matched with.
    pub score: f32,
    /// Matched with a detection on this frame (else predicted).
    pub detected: bool,
}

/// The tracker's state across frames.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackerParams,
    tracks: Vec<Track>,
    next_id: u32,
    detection_frames: u64,
}

/// Optimal one-to-one matching of `rows` to `cols` on IoU; pairs below `min_iou` are not matched.
/// Returns (row, col) index pairs.
fn assign(rows: &[BBox], cols: &[BBox], min_iou: f32) -> Vec<(usize, usize)> {
    if rows.is_empty() || cols.is_empty() {
        return Vec::new();
    }
    // Cost 1 − IoU in millionths; pairs under the threshold cost more than any feasible one.
    let cost = |r: &BBox, c: &BBox| {
        let v = iou(r, c);
        if v >= min_iou {
            ((1.0 - v) * 1e6) as i64
        } else {
            10_000_000
        }
    };
    let transpose = rows.len() > cols.len();
    let (a, b) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let m = Matrix::from_fn(a.len(), b.len(), |(i, j)| cost(&a[i], &b[j]));
    let (_, picks) = kuhn_munkres_min(&m);
    picks
        .into_iter()
        .enumerate()
        .map(|(i, j)| if transpose { (j, i) } else { (i, j) })
        .filter(|&(r, c)| iou(&rows[r], &cols[c]) >= min_iou)
        .collect()
}

impl Tracker {
    pub fn new(params: TrackerParams) -> Self {
        Self {
            params,
            tracks: Vec::new(),
            next_id: 1,
            detection_frames: 0,
        }
    }

    /// A frame on which the detector ran: predicts, associates `detections`, starts, loses and
    /// drops tracks. Returns the tracked persons, in id order.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<TrackedBox> {
        let p = self.params;
        self.detection_frames += 1;
        for t in &mut self.tracks {
            t.filter.predict();
            t.matched_now = false;
        }
        let high: Vec<usize> = (0..detections.len())
            .filter(|&i| detections[i].score >= p.high)
            .collect();
        let low: Vec<usize> = (0..detections.len())
            .filter(|&i| (p.low..p.high).contains(&detections[i].score))
            .collect();
        let mut used = vec![false; detections.len()];
        // 1. High-score detections against tracked and lost tracks.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state != State::Tentative)
            .collect();
        self.associate(&pool, &high, detections, p.first_iou, &mut used);
        // 2. Low-score detections against tracked tracks still unmatched.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == State::Tracked && !self.tracks[i].matched_now)
            .collect();
        self.associate(&pool, &low, detections, p.second_iou, &mut used);
        // 3. Tentative tracks against the high-score detections left.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == State::Tentative)
            .collect();
        let left: Vec<usize> = high.iter().copied().filter(|&i| !used[i]).collect();
        self.associate(&pool, &left, detections, p.tentative_iou, &mut used);
        // Unmatched: tentative tracks go, tracked ones are lost, lost ones age out.
        for t in &mut self.tracks {
            if !t.matched_now {
                t.missed += 1;
                if t.state == State::Tracked {
                    t.state = State::Lost;
                }
            }
        }
        self.tracks
            .retain(|t| t.matched_now || (t.state == State::Lost && t.missed <= p.max_age));
        // 4. New tracks (confirmed at once on the very first detection frame, as ByteTrack).
        let first = self.detection_frames == 1;
        for &i in &high {
            if !used[i] && detections[i].score >= p.new_track {
                self.tracks.push(Track {
                    id: self.next_id,
                    filter: BoxFilter::new(&detections[i].bbox),
                    state: if first {
                        State::Tracked
                    } else {
                        State::Tentative
                    },
                    score: detections[i].score,
                    missed: 0,
                    matched_now: true,
                });
                self.next_id += 1;
            }
        }
        self.output()
    }

    /// A frame without detections (the detector skipped it): every box moves on by its
    /// velocity; nothing is matched, lost or dropped.
    pub fn predict(&mut self) -> Vec<TrackedBox> {
        for t in &mut self.tracks {
            t.filter.predict();
            t.matched_now = false;
        }
        self.output()
    }

    /// Matches `pool` tracks to the `candidates` detections not `used` yet; updates the matched.
    fn associate(
        &mut self,
        pool: &[usize],
        candidates: &[usize],
        detections: &[Detection],
        min_iou: f32,
        used: &mut [bool],
    ) {
        let candidates: Vec<usize> = candidates.iter().copied().filter(|&i| !used[i]).collect();
        let boxes: Vec<BBox> = pool.iter().map(|&t| self.tracks[t].filter.bbox()).collect();
        let dets: Vec<BBox> = candidates.iter().map(|&d| detections[d].bbox).collect();
        for (r, c) in assign(&boxes, &dets, min_iou) {
            let (t, d) = (&mut self.tracks[pool[r]], &detections[candidates[c]]);
            t.filter.update(&d.bbox);
            t.state = State::Tracked;
            t.score = d.score;
            t.missed = 0;
            t.matched_now = true;
            used[candidates[c]] = true;
        }
    }

    fn output(&self) -> Vec<TrackedBox> {
        let mut out: Vec<TrackedBox> = self
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked)
            .map(|t| TrackedBox {
                id: t.id,
                bbox: t.filter.bbox(),
                score: t.score,
                detected: t.matched_now,
            })
            .collect();
        out.sort_by_key(|t| t.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + 40.0,
                y2: y + 100.0,
            },
            score,
        }
    }

    /// The id of the track whose box is nearest to x (or None).
    fn id_near(out: &[TrackedBox], x: f32) -> Option<u32> {
        out.iter()
            .min_by(|a, b| (a.bbox.x1 - x).abs().total_cmp(&(b.bbox.x1 - x).abs()))
            .filter(|t| (t.bbox.x1 - x).abs() < 20.0)
            .map(|t| t.id)
    }

    #[test]
    fn two_people_crossing_keep_their_ids() {
        // A walks right, B walks left at another height band overlapping: they cross at t = 20.
        let mut tr = Tracker::new(TrackerParams::default());
        let (mut ida, mut idb) = (None, None);
        for t in 0..40 {
            let (xa, xb) = (10.0 + 6.0 * t as f32, 250.0 - 6.0 * t as f32);
            let out = tr.update(&[det(xa, 50.0, 0.9), det(xb, 60.0, 0.9)]);
            let (a, b) = (id_near(&out, xa), id_near(&out, xb));
            if (xa - xb).abs() > 45.0 {
                // Apart (not overlapping): both tracked, each with its own id, never switching.
                assert!(a.is_some() && b.is_some() && a != b, "t={t}: {out:?}");
                ida.get_or_insert(a);
                idb.get_or_insert(b);
                assert_eq!((a, b), (ida.unwrap(), idb.unwrap()), "t={t}: id switch");
            }
        }
    }

    #[test]
    fn an_id_survives_a_short_miss_and_a_new_person_gets_a_new_id() {
        let p = TrackerParams {
            max_age: 5,
            ..Default::default()
        };
        let mut tr = Tracker::new(p);
        let first = tr.update(&[det(100.0, 50.0, 0.9)]);
        assert_eq!(first.len(), 1);
        let id = first[0].id;
        for t in 1..4 {
            tr.update(&[det(100.0 + 3.0 * t as f32, 50.0, 0.9)]);
        }
        // Missed for 3 detection frames (< max_age): lost, not reported, but kept.
        for _ in 0..3 {
            assert!(tr.update(&[]).is_empty());
        }
        let back = tr.update(&[det(121.0, 50.0, 0.9)]);
        assert_eq!(
            back.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![id],
            "same id after the miss"
        );
        // A person appearing elsewhere: tentative for one frame, then a new id.
        tr.update(&[det(124.0, 50.0, 0.9), det(400.0, 80.0, 0.9)]);
        let out = tr.update(&[det(127.0, 50.0, 0.9), det(402.0, 80.0, 0.9)]);
        let ids: Vec<u32> = out.iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&id) && ids.iter().any(|&i| i != id), "{ids:?}");
        // Gone for longer than max_age: a return is a new person.
        for _ in 0..7 {
            tr.update(&[]);
        }
        let out = tr.update(&[det(130.0, 50.0, 0.9)]);
        assert!(out.is_empty(), "a new track is tentative first: {out:?}");
        let out = tr.update(&[det(130.0, 50.0, 0.9)]);
        assert!(out.len() == 1 && out[0].id != id, "{out:?}");
    }

    #[test]
    fn low_score_detections_keep_a_track_but_do_not_start_one() {
        let mut tr = Tracker::new(TrackerParams::default());
        let id = tr.update(&[det(100.0, 50.0, 0.9)])[0].id;
        // An occluded frame: the detector is unsure (0.3), the track keeps its id.
        let out = tr.update(&[det(103.0, 50.0, 0.3)]);
        assert_eq!(
            out.iter().map(|t| (t.id, t.detected)).collect::<Vec<_>>(),
            vec![(id, true)]
        );
        // A low-score detection alone never starts a track.
        let out = tr.update(&[det(103.0, 50.0, 0.9), det(500.0, 50.0, 0.3)]);
        assert_eq!(out.len(), 1);
        let out = tr.update(&[det(103.0, 50.0, 0.9), det(500.0, 50.0, 0.3)]);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn frames_without_detections_move_boxes_by_their_velocity() {
        let mut tr = Tracker::new(TrackerParams::default());
        for t in 0..20 {
            tr.update(&[det(10.0 * t as f32, 50.0, 0.9)]);
        }
        // Last seen at x = 190 moving 10 px/frame: two predicted frames later near 210.
        tr.predict();
        let out = tr.predict();
        assert_eq!(out.len(), 1);
        assert!(!out[0].detected);
        assert!((out[0].bbox.x1 - 210.0).abs() < 2.0, "{out:?}");
    }
}
