//! Event clips: which encoded frames go into which clip. A ring keeps the last `pre` seconds of
//! frames back to a key frame, so a clip always starts decodable; an event starts a clip there
//! and keeps it open until `post` seconds after the last event (later events extend it).
//! Generic over the frame type; times are ns of stream time.
use std::collections::VecDeque;

/// Most frames the ring holds whatever the times say (a stream without key frames).
const RING_LIMIT: usize = 100_000;

/// What to do with frames.
#[derive(Debug, PartialEq)]
pub enum Action<T> {
    /// Open a clip with these frames (the first a key frame).
    Start(Vec<T>),
    /// Append a frame to the open clip.
    Write(T),
    /// Finish the open clip.
    Close,
}

/// One frame in the ring.
#[derive(Debug)]
struct Frame<T> {
    pts: u64,
    key: bool,
    item: T,
}

/// The clip planner's state.
#[derive(Debug)]
pub struct Planner<T> {
    pre_ns: u64,
    post_ns: u64,
    ring: VecDeque<Frame<T>>,
    /// While a clip is open: its end (ns).
    open_until: Option<u64>,
    /// An event came when no key frame was there to start from: start at the next one, ending
    /// then.
    pending_until: Option<u64>,
}

impl<T: Clone> Planner<T> {
    /// Clips from `pre_ns` before an event to `post_ns` after the last.
    pub fn new(pre_ns: u64, post_ns: u64) -> Self {
        Self {
            pre_ns,
            post_ns,
            ring: VecDeque::new(),
            open_until: None,
            pending_until: None,
        }
    }

    /// Whether a clip is open.
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// Takes the next frame (`key`: decodable on its own) and whether it carries an event;
    /// what to do, in order.
    pub fn push(&mut self, pts: u64, key: bool, item: T, event: bool) -> Vec<Action<T>> {
        let mut actions = Vec::new();
        if let Some(end) = self.open_until {
            if event {
                self.open_until = Some(end.max(pts + self.post_ns));
            } else if pts > end {
                actions.push(Action::Close);
                self.open_until = None;
            }
        }
        self.ring.push_back(Frame {
            pts,
            key,
            item: item.clone(),
        });
        self.trim();
        if self.open_until.is_some() {
            actions.push(Action::Write(item));
            return actions;
        }
        let wanted_until = if event {
            Some(pts + self.post_ns)
        } else {
            self.pending_until.filter(|&end| pts <= end)
        };
        let Some(end) = wanted_until else {
            self.pending_until = None;
            return actions;
        };
        // Start at the last key frame at or before pts − pre (else the earliest key frame held).
        let from = pts.saturating_sub(self.pre_ns);
        let keys = || self.ring.iter().enumerate().filter(|(_, f)| f.key);
        let start = keys()
            .filter(|(_, f)| f.pts <= from)
            .last()
            .or_else(|| keys().next())
            .map(|(i, _)| i);
        match start {
            Some(i) => {
                actions.push(Action::Start(
                    self.ring.iter().skip(i).map(|f| f.item.clone()).collect(),
                ));
                self.open_until = Some(end);
                self.pending_until = None;
            }
            None => self.pending_until = Some(end.max(self.pending_until.unwrap_or(0))),
        }
        actions
    }

    /// Drops frames older than the key frame at or before (newest − pre).
    fn trim(&mut self) {
        let newest = self.ring.back().map_or(0, |f| f.pts);
        let from = newest.saturating_sub(self.pre_ns);
        if let Some(k) = self
            .ring
            .iter()
            .enumerate()
            .filter(|(_, f)| f.key && f.pts <= from)
            .map(|(i, _)| i)
            .last()
        {
            self.ring.drain(..k);
        }
        while self.ring.len() > RING_LIMIT {
            self.ring.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Frames every 100 ms, a key frame every 10 (1 s); events at the frame indices `events`;
    /// the clips as frame-index lists.
    fn clips(n: u64, events: &[u64], pre_ms: u64, post_ms: u64) -> Vec<Vec<u64>> {
        let mut p = Planner::new(pre_ms * MS, post_ms * MS);
        let mut out: Vec<Vec<u64>> = Vec::new();
        let mut open = false;
        for i in 0..n {
            for a in p.push(i * 100 * MS, i % 10 == 0, i, events.contains(&i)) {
                match a {
                    Action::Start(v) => {
                        assert!(!open);
                        assert_eq!(v[0] % 10, 0, "a clip starts on a key frame");
                        out.push(v);
                        open = true;
                    }
                    Action::Write(i) => out.last_mut().unwrap().push(i),
                    Action::Close => open = false,
                }
            }
        }
        out
    }

    #[test]
    fn a_clip_runs_from_the_key_frame_before_pre_to_post_after_the_last_event() {
        // Event at frame 35 (3.5 s), pre 2 s → from 1.5 s: key frame 10 (1.0 s); post 2 s → to
        // frame 55 (5.5 s) inclusive.
        let c = clips(100, &[35], 2000, 2000);
        assert_eq!(c, vec![(10..=55).collect::<Vec<_>>()]);
        // A second event inside the clip extends it to 2 s after it: frame 50 → 70.
        let c = clips(100, &[35, 50], 2000, 2000);
        assert_eq!(c, vec![(10..=70).collect::<Vec<_>>()]);
        // One just after the clip closed starts a clip of its own, from the key frame at or
        // before 6.0 − 2 s (frame 40): the two overlap, each whole.
        let c = clips(100, &[35, 60], 2000, 2000);
        assert_eq!(c, vec![(10..=55).collect::<Vec<_>>(), (40..=80).collect()]);
        // Events apart give two clips; the second's pre-roll goes back to its own key frame
        // (event 90 → from 7.0 s: key frame 70).
        let c = clips(120, &[35, 90], 2000, 1000);
        assert_eq!(c, vec![(10..=45).collect::<Vec<_>>(), (70..=100).collect()]);
        // An event in the first frames: the pre-roll is what there is.
        let c = clips(30, &[2], 5000, 500);
        assert_eq!(c, vec![(0..=7).collect::<Vec<_>>()]);
    }

    #[test]
    fn without_a_key_frame_held_the_clip_starts_at_the_next() {
        // Key frames only at 0 and 50: the ring keeps from key frame 0 while 0 is the last one
        // before newest − pre, so an event at 45 with pre 1 s starts at 0.
        let mut p = Planner::new(1000 * MS, 500 * MS);
        let mut started = Vec::new();
        for i in 0..80u64 {
            for a in p.push(i * 100 * MS, i == 50 || i == 0, i, i == 45) {
                if let Action::Start(v) = a {
                    started.push(v[0]);
                }
            }
        }
        assert_eq!(started, vec![0]);
        // A stream that starts without a key frame: the event waits for one.
        let mut p = Planner::new(1000 * MS, 2000 * MS);
        let mut first = None;
        for i in 0..40u64 {
            for a in p.push(i * 100 * MS, i == 12, i, i == 5) {
                if let Action::Start(v) = a {
                    first = Some(v[0]);
                }
            }
        }
        assert_eq!(first, Some(12));
    }
}
