//! What `sapiens run` knows of a file input before it plays it: its length and frame rate (to
//! size the recording's index) and whether it ended early (a truncated or damaged file).
use std::path::Path;
use std::time::Duration;

/// A file input as probed.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// The length its container declares (the longest of what GStreamer's demuxer reports and,
    /// for AVI, what the main header says: the demuxer of a cut AVI reports what is left).
    pub length: Duration,
    /// Frames per second of its first video stream; 0 when variable.
    pub fps: f64,
}

/// Probes `input` (a path or a URI) with GStreamer's discoverer; `None` when the length is not
/// known (a stream, or a file the discoverer cannot read: the run then says why).
pub fn probe(input: &str) -> Option<Probed> {
    let path = (!input.contains("://")).then(|| Path::new(input));
    let uri = match path {
        Some(p) => gst::glib::filename_to_uri(std::path::absolute(p).ok()?, None)
            .ok()?
            .to_string(),
        None => input.to_string(),
    };
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(10)).ok()?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| tracing::debug!("probing {uri}: {e}"))
        .ok()?;
    let video = info.video_streams().into_iter().next()?;
    let rate = video.framerate();
    let fps = if rate.denom() > 0 && rate.numer() > 0 {
        rate.numer() as f64 / rate.denom() as f64
    } else {
        0.0
    };
    let reported = info
        .duration()
        .map_or(Duration::ZERO, |d| Duration::from_nanos(d.nseconds()));
    let header = path
        .and_then(|p| std::fs::File::open(p).ok())
        .and_then(|mut f| {
            let mut head = [0u8; 56];
            std::io::Read::read_exact(&mut f, &mut head).ok()?;
            avi_header_length(&head)
        })
        .unwrap_or(Duration::ZERO);
    let length = reported.max(header);
    (!length.is_zero()).then_some(Probed { length, fps })
}

/// The length an AVI file's main header (`avih`) declares: total frames × µs per frame; `None`
/// for anything else. `head` is the file's first 56 bytes.
pub fn avi_header_length(head: &[u8]) -> Option<Duration> {
    let word = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("4 bytes"));
    if head.len() < 52
        || &head[0..4] != b"RIFF"
        || &head[8..12] != b"AVI "
        || &head[12..16] != b"LIST"
        || &head[20..24] != b"hdrl"
        || &head[24..28] != b"avih"
    {
        return None;
    }
    let (us_per_frame, frames) = (word(32), word(48));
    (us_per_frame > 0 && frames > 0)
        .then(|| Duration::from_micros(us_per_frame as u64 * frames as u64))
}

/// Where a file input that reached its end stopped short of its declared length: `Some(message)`
/// when the last frame read (starting at `last_pts`, lasting `frame`) ends more than a second
/// and 2 % before `declared`.
pub fn ended_early(declared: Duration, last_pts: Duration, frame: Duration) -> Option<String> {
    let read = last_pts + frame;
    let slack = Duration::from_secs(1).max(declared / 50);
    (read + slack < declared).then(|| {
        format!(
            "the input ended after {:.1} s of the {:.1} s its container declares: the file is \
             truncated or damaged (the recording holds what was read)",
            read.as_secs_f64(),
            declared.as_secs_f64()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 56 bytes of an AVI with `frames` frames of `us` µs.
    fn avi(us: u32, frames: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&1000u32.to_le_bytes());
        h.extend_from_slice(b"AVI LIST");
        h.extend_from_slice(&200u32.to_le_bytes());
        h.extend_from_slice(b"hdrlavih");
        h.extend_from_slice(&56u32.to_le_bytes());
        h.extend_from_slice(&us.to_le_bytes());
        h.extend_from_slice(&[0; 12]);
        h.extend_from_slice(&frames.to_le_bytes());
        h.resize(56, 0);
        h
    }

    #[test]
    fn the_avi_main_header_gives_frames_times_frame_time() {
        // vtest.avi: 795 frames of 100 ms.
        assert_eq!(
            avi_header_length(&avi(100_000, 795)),
            Some(Duration::from_millis(79_500))
        );
        assert_eq!(avi_header_length(&avi(0, 795)), None);
        let mut mkv = avi(100_000, 795);
        mkv[0..4].copy_from_slice(&[0x1a, 0x45, 0xdf, 0xa3]);
        assert_eq!(avi_header_length(&mkv), None);
    }

    #[test]
    fn an_input_ends_early_only_past_a_second_and_two_percent() {
        let s = Duration::from_secs_f64;
        // vtest.avi cut after 15 frames: 1.5 s of 79.5 s.
        let m = ended_early(s(79.5), s(1.4), s(0.1)).expect("truncated");
        assert!(m.contains("after 1.5 s of the 79.5 s"), "{m}");
        // Whole: the last frame ends at the declared length.
        assert_eq!(ended_early(s(79.5), s(79.4), s(0.1)), None);
        // Within 2 % of an hour (72 s): a container's rounding, not a cut.
        assert_eq!(ended_early(s(3600.0), s(3560.0), s(0.04)), None);
        assert!(ended_early(s(3600.0), s(3500.0), s(0.04)).is_some());
    }
}
