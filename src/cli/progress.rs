//! The progress bar of `sapiens run` on a file: frames done of the frames in the file (its
//! duration × frame rate), rate and ETA, on stderr when that is a terminal. Live inputs and
//! runs whose output goes to a file or pipe keep the plain live lines.
use std::io::IsTerminal;

use gst::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

/// Frames in a stream of `duration` at `fps` frames per second (nearest whole frame).
pub fn frames_in(duration: gst::ClockTime, fps: gst::Fraction) -> Option<u64> {
    if fps.numer() <= 0 || fps.denom() <= 0 {
        return None;
    }
    let frames = duration.nseconds() as f64 / 1e9 * fps.numer() as f64 / fps.denom() as f64;
    Some(frames.round() as u64)
}

/// A bar for a file run, or `None` where a plain log is better (not a terminal, a live input).
pub fn bar(live: bool) -> Option<ProgressBar> {
    if live || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} frames  {per_sec:.1}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    Some(bar)
}

/// Sets the bar's length once the pipeline knows the file's duration and frame rate (`entry`:
/// the first element after decoding); `limit`: `--max-frames`.
pub fn set_length(
    bar: &ProgressBar,
    pipeline: &gst::Pipeline,
    entry: &gst::Element,
    limit: Option<u64>,
) {
    if bar.length().is_some_and(|l| l > 0) {
        return;
    }
    let Some(duration) = pipeline.query_duration::<gst::ClockTime>() else {
        return;
    };
    let fps = entry
        .static_pad("sink")
        .and_then(|p| p.current_caps())
        .and_then(|c| c.structure(0)?.get::<gst::Fraction>("framerate").ok());
    if let Some(total) = fps.and_then(|f| frames_in(duration, f)) {
        bar.set_length(limit.map_or(total, |l| l.min(total)));
    }
}

#[cfg(test)]
mod tests {
    use super::frames_in;

    #[test]
    fn frames_from_duration_and_rate() {
        // vtest.avi: 79.5 s at 10 fps = 795 frames; 29.97 fps for 10 s = 300.
        let s = |x: f64| gst::ClockTime::from_nseconds((x * 1e9) as u64);
        assert_eq!(frames_in(s(79.5), gst::Fraction::new(10, 1)), Some(795));
        assert_eq!(
            frames_in(s(10.01), gst::Fraction::new(30000, 1001)),
            Some(300)
        );
        assert_eq!(frames_in(s(10.0), gst::Fraction::new(0, 1)), None);
    }
}
