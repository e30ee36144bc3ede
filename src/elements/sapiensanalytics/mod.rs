//! `sapiensanalytics`: zones and counting lines tested on each tracked person's body (a keypoint
//! anchor such as the ankles, else the box bottom), with dwell, occupancy and events (see
//! [`crate::analytics`]). Goes after `sapienspose` (persons, keypoints and track ids from its
//! meta) or right after `sapienstrack` (boxes only). Attaches `SapiensAnalyticsMeta` to every
//! frame and posts each event as an element message `sapiens-analytics-event`.
//!
//! ```text
//! gst-launch-1.0 filesrc location=vtest.avi ! decodebin ! videoconvert ! \
//!   sapiensdetect backend=onnx config=configs/detector-nanodet.toml ! sapienstrack ! \
//!   sapienspose config=configs/pose-efficientpose-mpii16.toml ! \
//!   sapiensanalytics config=configs/analytics/vtest.toml ! sapiensoverlay ! videoconvert ! autovideosink
//! ```
mod imp;

use gst::glib;

glib::wrapper! {
    pub struct SapiensAnalytics(ObjectSubclass<imp::SapiensAnalytics>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Name of the element message carrying one event (its structure: [`crate::meta::analytics::event_structure`]).
pub const EVENT_MESSAGE: &str = "sapiens-analytics-event";
