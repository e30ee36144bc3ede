//! GStreamer plugin `sapiens` (`libgstsapiens.so`): registers the elements of `sapiens-stream`.
//! Everything lives in the library crate; this cdylib is only the loadable entry point.

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    sapiens_stream::elements::register(plugin)
}

gst::plugin_define!(
    sapiens,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "https://example.invalid/sapiens-stream",
    env!("BUILD_REL_DATE")
);
