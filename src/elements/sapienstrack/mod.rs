//! `sapienstrack`: stable person ids across frames (ByteTrack with a Kalman filter per box, see
//! [`crate::track`]). Reads the person ROI metas of each frame as detections (score = their
//! `detection` param's `confidence`, else 1), and writes them back as the tracked persons: ROI
//! metas with the track id in their `id` field and a `tracking` param (`id`, `detected`,
//! `score`). On frames the detector skipped (a carried `SapiensDetectionsMeta`, e.g.
//! `sapiensdetect interval=N`), boxes are predicted from each track's velocity.
mod imp;

use gst::glib;

glib::wrapper! {
    pub struct SapiensTrack(ObjectSubclass<imp::SapiensTrack>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}
