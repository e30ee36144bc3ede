//! The recording branch of `sapiens run`: encoder, muxer and file sink, written so that a run
//! killed outright (`kill -9`, a power cut) still leaves a playable file.
//!
//! Two ways, one per kind of input:
//! - live inputs (cameras: no end known) write fragmented MP4, a fragment every `--fragment` s;
//! - inputs of known length (files) write an ordinary MP4 whose index (moov) lives in space
//!   reserved at the start of the file and is rewritten there every `--fragment` s (`qtmux`'s
//!   robust muxing): the finished file is a plain MP4 every player reads whole, and a killed run
//!   leaves the index of its last update.
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// How a recording survives its process being killed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Safety {
    /// One index written at the end (`--fragment 0`): a killed run leaves no playable MP4.
    AtEnd,
    /// Fragmented MP4, a fragment every `ms` of stream time.
    Fragments { ms: u32 },
    /// The index rewritten into space reserved for `max` of video every `period`, reserving
    /// `bytes_per_s` of index per second of video.
    ReservedIndex {
        period: Duration,
        max: Duration,
        bytes_per_s: u32,
    },
}

/// Index bytes one frame takes at most (sample size, composition offset, chunk offset, sync
/// sample entries: about 20), with room to spare.
const INDEX_BYTES_PER_FRAME: f64 = 32.0;
/// `qtmux`'s own default and its upper bound for `reserved-bytes-per-sec`.
const MIN_BYTES_PER_S: u32 = 550;
const MAX_BYTES_PER_S: u32 = 10_000;
/// Frame rate assumed for a variable-rate input (its caps say 0/1).
const VARIABLE_RATE_FPS: f64 = 60.0;

/// The way to record an input (`live`: a camera; `probed`: what [`super::input::probe`] knows
/// of a file) with `--fragment` = `fragment_s` and `--max-frames` = `max_frames`. An input of
/// unknown length is recorded as fragments.
pub fn plan(
    live: bool,
    probed: Option<&super::input::Probed>,
    fragment_s: f64,
    max_frames: Option<u64>,
) -> Safety {
    if fragment_s <= 0.0 {
        return Safety::AtEnd;
    }
    let ms = (fragment_s * 1000.0).round() as u32;
    match probed {
        Some(p) if !live => reserved(p.length, p.fps, max_frames, fragment_s),
        _ => Safety::Fragments { ms },
    }
}

/// The reserved index for a video of `length` at `fps` (0: variable rate), cut at `max_frames`:
/// 10 % and 30 s more than the video lasts, as stream times and frame counts can disagree.
fn reserved(length: Duration, fps: f64, max_frames: Option<u64>, period_s: f64) -> Safety {
    let rate = if fps > 0.0 { fps } else { VARIABLE_RATE_FPS };
    let mut secs = length.as_secs_f64();
    if let Some(n) = max_frames {
        secs = secs.min(n as f64 / rate);
    }
    let bytes_per_s = (rate * INDEX_BYTES_PER_FRAME).ceil() as u32;
    Safety::ReservedIndex {
        period: Duration::from_secs_f64(period_s),
        max: Duration::from_secs_f64(secs * 1.1 + 30.0),
        bytes_per_s: bytes_per_s.clamp(MIN_BYTES_PER_S, MAX_BYTES_PER_S),
    }
}

/// The encoder, muxer and file sink writing `out` (`.mp4`/`.mov` or `.mkv`), the encoder named
/// `encoder`.
/// Frames go to the encoder as 4:2:0: from RGB it would pick High 4:4:4, which browsers,
/// phones and most hardware decoders do not play.
pub const PLAYABLE: &str = "video/x-raw,format=I420";

/// Key frames at least this often (frames) when clips are cut from the encoded video, so that
/// a clip's pre-roll need not reach far back.
const CLIP_KEY_INT: u32 = 30;

/// The encoder and `clips` (a `sapiensclips` element) when there is no recording.
pub fn clips_only(clips: &str) -> String {
    format!(
        "videoconvert ! {PLAYABLE} ! x264enc name=encoder speed-preset=veryfast key-int-max={CLIP_KEY_INT} ! h264parse ! {clips}"
    )
}

/// The recording branch to `out`; with `clips` (a `sapiensclips` element), the encoded video
/// also goes there.
pub fn branch(out: &Path, safety: Safety, clips: Option<&str>) -> Result<String> {
    let mp4 = match out.extension().and_then(|e| e.to_str()) {
        Some("mp4") | Some("mov") => true,
        Some("mkv") => false,
        _ => {
            return Err(Error::Invalid(format!(
                "output {}: use a .mp4 or .mkv file name",
                out.display()
            )));
        }
    };
    let ns = |d: Duration| d.as_nanos() as u64;
    let (mux, encoder, sink) = match safety {
        _ if !mp4 => ("matroskamux".to_string(), "", ""),
        Safety::AtEnd => ("mp4mux".into(), "", ""),
        // A key frame at least every 30 frames so that each fragment can close on time, and
        // every write straight to the file (nothing waits in a user-space buffer when killed).
        Safety::Fragments { ms } => (
            format!("mp4mux fragment-duration={ms}"),
            " key-int-max=30",
            " buffer-mode=unbuffered",
        ),
        // Each index update seeks, which flushes the file sink's buffer first.
        Safety::ReservedIndex {
            period,
            max,
            bytes_per_s,
        } => (
            format!(
                "mp4mux reserved-max-duration={} reserved-moov-update-period={} reserved-bytes-per-sec={bytes_per_s}",
                ns(max),
                ns(period)
            ),
            "",
            "",
        ),
    };
    let encoder = match clips {
        Some(_) if encoder.is_empty() => format!(" key-int-max={CLIP_KEY_INT}"),
        _ => encoder.to_string(),
    };
    let file = format!(
        "{mux} ! filesink{sink} location={}",
        super::run::quote(&out.to_string_lossy())
    );
    Ok(match clips {
        None => format!(
            "videoconvert ! {PLAYABLE} ! x264enc name=encoder speed-preset=veryfast{encoder} ! h264parse ! {file}"
        ),
        Some(c) => format!(
            "videoconvert ! {PLAYABLE} ! x264enc name=encoder speed-preset=veryfast{encoder} ! h264parse ! tee name=encoded ! queue ! {file} encoded. ! queue ! {c}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_index_outlasts_the_video_and_fits_its_frame_rate() {
        // 79.5 s at 10 fps (vtest.avi): 79.5 × 1.1 + 30 = 117.45 s; 10 × 32 = 320 → the 550 floor.
        let Safety::ReservedIndex {
            max, bytes_per_s, ..
        } = reserved(Duration::from_millis(79_500), 10.0, None, 1.0)
        else {
            panic!("a file of known length gets a reserved index");
        };
        assert!((max.as_secs_f64() - 117.45).abs() < 1e-6, "{max:?}");
        assert_eq!(bytes_per_s, 550);
        // 60 fps, cut at 600 frames (10 s): 10 × 1.1 + 30 = 41 s, 60 × 32 = 1920 bytes a second.
        let Safety::ReservedIndex {
            max, bytes_per_s, ..
        } = reserved(Duration::from_secs(3600), 60.0, Some(600), 1.0)
        else {
            panic!()
        };
        assert!((max.as_secs_f64() - 41.0).abs() < 1e-6, "{max:?}");
        assert_eq!(bytes_per_s, 1920);
        // Variable rate: sized for 60 fps.
        let Safety::ReservedIndex { bytes_per_s, .. } =
            reserved(Duration::from_secs(5), 0.0, None, 1.0)
        else {
            panic!()
        };
        assert_eq!(bytes_per_s, 1920);
    }

    #[test]
    fn live_inputs_fragment_and_zero_writes_the_index_at_the_end() {
        assert_eq!(plan(true, None, 1.5, None), Safety::Fragments { ms: 1500 });
        assert_eq!(plan(false, None, 1.5, None), Safety::Fragments { ms: 1500 });
        assert_eq!(plan(false, None, 0.0, None), Safety::AtEnd);
        let line = branch(Path::new("o.mp4"), Safety::Fragments { ms: 1000 }, None).unwrap();
        assert!(line.contains("mp4mux fragment-duration=1000") && line.contains("unbuffered"));
        let e = branch(Path::new("o.avi"), Safety::AtEnd, None).unwrap_err();
        assert!(e.to_string().contains("o.avi: use a .mp4 or .mkv"), "{e}");
    }
}
