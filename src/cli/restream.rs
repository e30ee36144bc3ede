//! `--rtsp-serve`: the annotated video re-streamed over RTSP (gst-rtsp-server) to any number of
//! clients at once. The run's pipeline encodes it once (H.264, low latency) into an appsink;
//! every sample is handed to the one shared media's appsrc, stamped with that media's own clock.
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_rtsp_server::prelude::*;

use crate::error::{Error, Result};

/// Where to serve: `ADDRESS:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTarget {
    pub address: String,
    pub port: u16,
    pub path: String,
}

impl std::str::FromStr for ServeTarget {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s}: expected ADDRESS:PORT/PATH (e.g. 127.0.0.1:8554/sapiens)");
        let (addr, path) = s.split_once('/').ok_or_else(bad)?;
        let (address, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if address.is_empty() || path.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Self {
            address: address.into(),
            port,
            path: format!("/{path}"),
        })
    }
}

impl ServeTarget {
    pub fn url(&self) -> String {
        format!("rtsp://{}:{}{}", self.address, self.port, self.path)
    }
}

/// The launch-line branch that encodes the annotated video for the server (after a `tee`).
pub const BRANCH: &str = "queue leaky=downstream max-size-buffers=4 ! videoconvert ! \
     x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 ! h264parse config-interval=-1 ! \
     appsink name=restream sync=false max-buffers=4 drop=true";

/// A running server; stops with the process.
pub struct Server {
    _thread: std::thread::JoinHandle<()>,
}

/// Serves the samples of `appsink` at `target`.
pub fn serve(target: &ServeTarget, appsink: gst_app::AppSink) -> Result<Server> {
    let sources: Arc<Mutex<Vec<gst_app::AppSrc>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = target.clone();
    let srcs = sources.clone();
    let thread = std::thread::Builder::new()
        .name("sapiens-rtsp-serve".into())
        .spawn(move || {
            let ctx = glib::MainContext::new();
            let Ok(_guard) = ctx.acquire() else {
                let _ = tx.send(Err("cannot own a main context".to_string()));
                return;
            };
            let server = gst_rtsp_server::RTSPServer::new();
            server.set_address(&t.address);
            server.set_service(&t.port.to_string());
            let factory = gst_rtsp_server::RTSPMediaFactory::new();
            factory.set_launch(
                "( appsrc name=src is-live=true format=time do-timestamp=true ! h264parse ! \
                 rtph264pay name=pay0 pt=96 config-interval=1 )",
            );
            factory.set_shared(true);
            factory.connect_media_configure(move |_, media| {
                let src = media
                    .element()
                    .downcast::<gst::Bin>()
                    .ok()
                    .and_then(|b| b.by_name("src"))
                    .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
                if let Some(src) = src {
                    let list = srcs.clone();
                    let weak = src.downgrade();
                    media.connect_unprepared(move |_| {
                        if let Some(s) = weak.upgrade() {
                            crate::elements::lock(&list).retain(|x| x != &s);
                        }
                    });
                    crate::elements::lock(&srcs).push(src);
                }
            });
            let Some(mounts) = server.mount_points() else {
                let _ = tx.send(Err("no mount points".to_string()));
                return;
            };
            mounts.add_factory(&t.path, factory);
            match server.attach(Some(&ctx)) {
                Ok(_id) => {
                    let _ = tx.send(Ok(()));
                    glib::MainLoop::new(Some(&ctx), false).run();
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .map_err(|e| Error::Invalid(format!("cannot start the RTSP server thread: {e}")))?;
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(Error::Invalid(format!(
                "--rtsp-serve {}: cannot serve there: {e}",
                target.url()
            )));
        }
        Err(_) => return Err(Error::Invalid("the RTSP server thread ended".into())),
    }
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let targets = crate::elements::lock(&sources).clone();
                if targets.is_empty() {
                    return Ok(gst::FlowSuccess::Ok);
                }
                let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps_owned()) else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                // The media stamps frames with its own clock (do-timestamp).
                let mut buffer = buffer.copy();
                {
                    let b = buffer.make_mut();
                    b.set_pts(gst::ClockTime::NONE);
                    b.set_dts(gst::ClockTime::NONE);
                }
                for src in targets {
                    if src.caps().as_ref() != Some(&caps) {
                        src.set_caps(Some(&caps));
                    }
                    let _ = src.push_buffer(buffer.clone());
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(Server { _thread: thread })
}
