//! `sapiensclips`: event clips with pre-roll from encoded video. It sits after the H.264
//! encoder (the analytics metas travel with the encoded frames), keeps the last `pre-roll`
//! seconds back to a key frame, and on an analytics event writes `clip-NNNN.mp4` from there to
//! `post-roll` seconds after the last event (later events extend it), without re-encoding.
//! Beside each clip, `clip-NNNN.jsonl` holds every frame's results (one JSON record per frame,
//! with `clip_pts_s`, its time in the clip) and `clips.jsonl` gets one line per finished clip.
//! Clips are fragmented MP4 written straight to disk: a killed process leaves every clip
//! playable to its last whole second. The oldest clips go when `max-clips` or `max-bytes` is
//! passed.
//!
//! ```text
//! gst-launch-1.0 -e filesrc location=vtest.avi ! decodebin ! videoconvert ! \
//!   sapiensdetect backend=hog ! sapienstrack ! sapiensanalytics config=configs/analytics/vtest.toml ! \
//!   sapiensoverlay ! videoconvert ! x264enc key-int-max=30 ! h264parse ! sapiensclips location=out/clips
//! ```
mod imp;
mod writer;

use gst::glib;

glib::wrapper! {
    pub struct SapiensClips(ObjectSubclass<imp::SapiensClips>)
        @extends gst_base::BaseSink, gst::Element, gst::Object;
}

/// Name of the element message posted for each finished clip.
pub const CLIP_MESSAGE: &str = "sapiens-clip";
