//! `sapiensrtspsink` (`GstSapiensRtspSink`, a `GstBin`): serves the video it receives over RTSP
//! (gst-rtsp-server) to any number of clients at once, for `gst-launch-1.0` users and the CLI's
//! `--rtsp-serve` alike. The video is encoded once (H.264, `tune=zerolatency`, a key frame every
//! 30 frames) and handed to one shared media; the branch is leaky (4 frames), so a slow network
//! never holds the pipeline back. The server binds when the element goes to READY (a port in
//! use is an error then) and closes at NULL.
mod imp;

use gst::glib;

glib::wrapper! {
    pub struct SapiensRtspSink(ObjectSubclass<imp::SapiensRtspSink>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::ChildProxy;
}
