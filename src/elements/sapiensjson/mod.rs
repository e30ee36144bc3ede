//! `sapiensjson`: every frame's results as one JSON object (schema in [`crate::export::record`])
//! to a JSON-lines file, stdout, and/or an MQTT broker — the counterpart of DL Streamer's
//! `gvametaconvert` + `gvametapublish`. Buffers pass through untouched.
mod imp;

use gst::glib;

glib::wrapper! {
    pub struct SapiensJson(ObjectSubclass<imp::SapiensJson>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}
