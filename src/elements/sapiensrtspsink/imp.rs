//! The `sapiensrtspsink` bin: `queue` (leaky) → `videoconvert` → I420 → `x264enc` → `h264parse` →
//! `appsink`, whose samples go to the appsrc of the server's shared media, stamped with the
//! media's own clock.
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_rtsp_server::prelude::*;

use crate::elements::lock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensrtspsink",
        gst::DebugColorFlags::empty(),
        Some("Sapiens RTSP server sink"),
    )
});

#[derive(Debug, Clone)]
struct Settings {
    address: String,
    port: u32,
    path: String,
    /// A file holding `user:password`; clients must give them (basic or digest).
    credentials_file: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            address: "127.0.0.1".into(),
            port: 8554,
            path: "/sapiens".into(),
            credentials_file: None,
        }
    }
}

/// The running server: its thread and the loop to quit.
struct Running {
    main_loop: glib::MainLoop,
    thread: std::thread::JoinHandle<()>,
}

pub struct SapiensRtspSink {
    settings: Mutex<Settings>,
    sink: gst_app::AppSink,
    /// The appsrc of each prepared media (one: the media is shared).
    sources: Arc<Mutex<Vec<gst_app::AppSrc>>>,
    running: Mutex<Option<Running>>,
}

fn make(factory: &str) -> gst::Element {
    crate::elements::make_element(factory, None)
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensRtspSink {
    const NAME: &'static str = "GstSapiensRtspSink";
    type Type = super::SapiensRtspSink;
    type ParentType = gst::Bin;

    fn with_class(_klass: &Self::Class) -> Self {
        let sink = gst_app::AppSink::builder()
            .sync(false)
            .max_buffers(4)
            .drop(true)
            .build();
        sink.set_async(false);
        Self {
            settings: Mutex::default(),
            sink,
            sources: Arc::default(),
            running: Mutex::new(None),
        }
    }
}

impl ObjectImpl for SapiensRtspSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("address")
                    .blurb("Address to serve on (0.0.0.0: every interface)")
                    .default_value(Some("127.0.0.1"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("port")
                    .blurb("RTSP port")
                    .minimum(1)
                    .maximum(65535)
                    .default_value(8554)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("path")
                    .blurb("Mount path: clients open rtsp://ADDRESS:PORT/PATH")
                    .default_value(Some("/sapiens"))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("credentials-file")
                    .blurb("File holding USER:PASSWORD (not readable by others): clients must authenticate (digest)")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "address" => s.address = crate::elements::string_or(value, "127.0.0.1"),
            "port" => s.port = value.get().expect("type checked upstream"),
            "path" => {
                let p = crate::elements::string_or(value, "/sapiens");
                s.path = if p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                };
            }
            "credentials-file" => {
                s.credentials_file = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|v| !v.is_empty())
                    .map(Into::into)
            }
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "address" => s.address.to_value(),
            "port" => s.port.to_value(),
            "path" => s.path.to_value(),
            "credentials-file" => s
                .credentials_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            other => unreachable!("no property {other}"),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let queue = make("queue");
        queue.set_property_from_str("leaky", "downstream");
        queue.set_property("max-size-buffers", 4u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", 0u64);
        let encoder = make("x264enc");
        encoder.set_property_from_str("tune", "zerolatency");
        encoder.set_property_from_str("speed-preset", "veryfast");
        encoder.set_property("key-int-max", 30u32);
        let parse = make("h264parse");
        parse.set_property("config-interval", -1i32);
        // 4:2:0, which every player decodes (from RGB, x264 would pick High 4:4:4).
        let format = make("capsfilter");
        format.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        );
        let chain = [
            queue.clone(),
            make("videoconvert"),
            format,
            encoder,
            parse,
            self.sink.clone().upcast(),
        ];
        obj.add_many(&chain).expect("fresh elements join the bin");
        gst::Element::link_many(&chain).expect("the encoding chain links");
        let ghost = gst::GhostPad::builder_from_template_with_target(
            &obj.pad_template("sink").expect("sink template"),
            &queue.static_pad("sink").expect("queue has sink"),
        )
        .expect("ghost pad on the queue")
        .build();
        obj.add_pad(&ghost).expect("one sink pad");
        let sources = self.sources.clone();
        self.sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    forward(&sample, &lock(&sources));
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
}

/// Hands one encoded frame to every client-facing appsrc; the media stamps it with its own
/// clock (`do-timestamp`), so the run's timeline and the server's never have to agree.
fn forward(sample: &gst::Sample, sources: &[gst_app::AppSrc]) {
    let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps_owned()) else {
        return;
    };
    if sources.is_empty() {
        return;
    }
    let mut buffer = buffer.copy();
    {
        let b = buffer.make_mut();
        b.set_pts(gst::ClockTime::NONE);
        b.set_dts(gst::ClockTime::NONE);
    }
    for src in sources {
        if src.caps().as_ref() != Some(&caps) {
            src.set_caps(Some(&caps));
        }
        let _ = src.push_buffer(buffer.clone());
    }
}

/// Whether `address` only reaches this machine (127.0.0.0/8, ::1, `localhost`).
fn is_loopback(address: &str) -> bool {
    address == "localhost"
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `user:password` of a credentials file, which others may not read.
fn read_credentials(path: &std::path::Path) -> Result<(String, String), String> {
    use std::os::unix::fs::PermissionsExt;
    let at = |e: String| format!("credentials-file {}: {e}", path.display());
    let mode = std::fs::metadata(path)
        .map_err(|e| at(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(at(format!(
            "readable by others (mode {:o}): chmod 600 it",
            mode & 0o777
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let line = text.lines().next().unwrap_or("").trim();
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_string(), password.to_string()))
        }
        _ => Err(at("expected one line USER:PASSWORD".into())),
    }
}

/// Requires `user`/`password` of every client of `factory` on `server`, by digest
/// authentication (the password never crosses the network; rtspsrc, FFmpeg and VLC speak it).
fn require_credentials(
    server: &gst_rtsp_server::RTSPServer,
    factory: &gst_rtsp_server::RTSPMediaFactory,
    (user, password): &(String, String),
) {
    let auth = gst_rtsp_server::RTSPAuth::new();
    let token = gst_rtsp_server::RTSPToken::builder()
        .field(gst_rtsp_server::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        .build();
    auth.add_digest(user, password, &token);
    auth.set_supported_methods(gst_rtsp_server::gst_rtsp::RTSPAuthMethod::Digest);
    server.set_auth(Some(&auth));
    factory.add_role_from_structure(
        &gst::Structure::builder("viewer")
            .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
            .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
            .build(),
    );
}

/// Why the server could not listen, as the user reads it ("address in use" for a port taken).
fn bind_error(e: &glib::Error) -> String {
    if e.matches(gst_rtsp_server::gio::IOErrorEnum::AddressInUse) {
        format!("address in use (another server has this port): {e}")
    } else {
        e.to_string()
    }
}

impl SapiensRtspSink {
    /// Binds and serves from a thread with its own main loop.
    fn start_server(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let url = format!("rtsp://{}:{}{}", s.address, s.port, s.path);
        let local = is_loopback(&s.address);
        let credentials = match &s.credentials_file {
            Some(path) => Some(read_credentials(path).map_err(|e| {
                gst::error_msg!(gst::ResourceError::Settings, ("sapiensrtspsink: {e}"))
            })?),
            None => None,
        };
        let guarded = credentials.is_some();
        let ctx = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let (tx, rx) = std::sync::mpsc::channel();
        let sources = self.sources.clone();
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new()
            .name("sapiens-rtsp-serve".into())
            .spawn(move || {
                let Ok(_guard) = ctx.acquire() else {
                    let _ = tx.send(Err("cannot own a main context".to_string()));
                    return;
                };
                let server = gst_rtsp_server::RTSPServer::new();
                server.set_address(&s.address);
                server.set_service(&s.port.to_string());
                let factory = gst_rtsp_server::RTSPMediaFactory::new();
                factory.set_launch(
                    "( appsrc name=src is-live=true format=time do-timestamp=true ! h264parse ! \
                     rtph264pay name=pay0 pt=96 config-interval=1 )",
                );
                factory.set_shared(true);
                factory.connect_media_configure(move |_, media| {
                    let Some(src) = media
                        .element()
                        .downcast::<gst::Bin>()
                        .ok()
                        .and_then(|b| b.by_name("src"))
                        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
                    else {
                        return;
                    };
                    let list = sources.clone();
                    let weak = src.downgrade();
                    media.connect_unprepared(move |_| {
                        if let Some(s) = weak.upgrade() {
                            lock(&list).retain(|x| x != &s);
                        }
                    });
                    lock(&sources).push(src);
                });
                let Some(mounts) = server.mount_points() else {
                    let _ = tx.send(Err("no mount points".to_string()));
                    return;
                };
                if let Some(c) = &credentials {
                    require_credentials(&server, &factory, c);
                }
                mounts.add_factory(&s.path, factory);
                // The listening source, made here (not `attach`, whose error loses why the bind
                // failed) and destroyed on its own context: `SourceId::remove` looks the id up
                // in the default context and panicked at shutdown (issue 27).
                match server.create_source(None::<&gst_rtsp_server::gio::Cancellable>) {
                    Ok(source) => {
                        source.attach(Some(&ctx));
                        let _ = tx.send(Ok(()));
                        ml.run();
                        source.destroy();
                    }
                    Err(e) => {
                        let _ = tx.send(Err(bind_error(&e)));
                    }
                }
            })
            .map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::Failed,
                    ("sapiensrtspsink: cannot start the server thread: {e}")
                )
            })?;
        match rx.recv() {
            Ok(Ok(())) => {
                gst::info!(CAT, imp = self, "serving at {url}");
                if !local && !guarded {
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::Settings,
                        ("serving {url} on every interface without authentication: anyone who \
                          reaches this machine can watch (address=127.0.0.1 keeps it local)")
                    );
                }
                *lock(&self.running) = Some(Running { main_loop, thread });
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ("sapiensrtspsink: cannot serve {url}: {e}")
                ))
            }
            Err(_) => Err(gst::error_msg!(
                gst::ResourceError::Failed,
                ("sapiensrtspsink: the server thread ended")
            )),
        }
    }

    fn stop_server(&self) {
        if let Some(r) = lock(&self.running).take() {
            r.main_loop.quit();
            if r.thread.join().is_err() {
                // The panic hook of the application has already reported it.
                gst::error!(CAT, imp = self, "the server thread panicked");
            }
        }
        lock(&self.sources).clear();
    }
}

impl GstObjectImpl for SapiensRtspSink {}

impl ElementImpl for SapiensRtspSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        crate::elements::metadata!(
            "Sapiens RTSP server sink",
            "Sink/Video/Network",
            "Serves the video over RTSP (H.264, gst-rtsp-server) to any number of clients"
        )
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> =
            LazyLock::new(|| crate::elements::raw_video_templates(&[gst::PadDirection::Sink]));
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady
            && let Err(e) = self.start_server()
        {
            self.post_error_message(e);
            return Err(gst::StateChangeError);
        }
        let ret = self.parent_change_state(transition);
        if transition == gst::StateChange::ReadyToNull {
            self.stop_server();
        }
        ret
    }
}

impl BinImpl for SapiensRtspSink {}
