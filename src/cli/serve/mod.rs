//! `sapiens serve`: many cameras in one process, from one cameras file, with a REST API,
//! Prometheus metrics and health checks on 127.0.0.1 (a token guards all but the health
//! checks). Each camera is the pipeline `sapiens run` would build for it, with its heads
//! sharing one session per model config across cameras (`model-instance`).
mod api;
mod camera;
mod fleet;
mod live;
mod metrics;
mod tls;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use camera::{Camera, StopReport};
use fleet::{FieldError, FleetFile};

use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The cameras file (see configs/cameras.toml): [defaults] and one [[camera]] per camera,
    /// each key a `sapiens run` flag without its dashes.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Address the API, the metrics and the health checks listen on. Anything but a loopback
    /// address is reachable from the network, guarded by the token (give --tls-cert and
    /// --tls-key so that it does not travel in clear).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The token file [default: the cameras file with the extension .token]; made (mode 0600)
    /// with a new token when missing.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Serve /metrics without the token (for a scraper that cannot send one).
    #[arg(long)]
    pub metrics_open: bool,
    /// Check the cameras file (every camera's keys, configs and input; recording folders are
    /// made) and exit, starting nothing.
    #[arg(long)]
    pub check: bool,
}

/// The cameras of the service, in the order they were added.
pub struct Fleet {
    cameras: Mutex<Vec<Arc<Camera>>>,
    file: Mutex<FleetFile>,
    started: Instant,
}

/// Why a camera's settings were not changed.
pub enum PatchError {
    NotFound,
    /// A setting is wrong (or the id was to change).
    Invalid(FieldError),
    /// These keys take a new pipeline: ask again with `restart`.
    NeedsRestart(Vec<String>),
}

/// Why a camera was not added.
pub enum AddError {
    /// Its id (or recording) is another camera's.
    Duplicate(FieldError),
    /// A setting is wrong.
    Invalid(FieldError),
    /// It could not start (a config, the input or the pipeline is wrong).
    Start(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fleet {
    /// The cameras now.
    pub fn cameras(&self) -> Vec<Arc<Camera>> {
        lock(&self.cameras).clone()
    }

    pub fn find(&self, id: &str) -> Option<Arc<Camera>> {
        lock(&self.cameras).iter().find(|c| c.id == id).cloned()
    }

    /// Adds and starts a camera from its keys (as in the file), the others untouched.
    pub fn add(&self, table: toml::Table) -> std::result::Result<Arc<Camera>, AddError> {
        let (defaults, base) = {
            let f = lock(&self.file);
            (f.defaults.clone(), f.base())
        };
        let spec = fleet::camera(table, &defaults, &base).map_err(AddError::Invalid)?;
        let mut cameras = lock(&self.cameras);
        let specs: Vec<_> = cameras.iter().map(|c| c.spec()).collect();
        fleet::check_unique(&specs, &spec).map_err(AddError::Duplicate)?;
        let cam = Camera::start(spec).map_err(AddError::Start)?;
        cameras.push(cam.clone());
        Ok(cam)
    }

    /// Changes camera `id`'s own keys by `changes` (a key set to `None` is removed, so the
    /// default applies): on the playing pipeline when only [`camera::LIVE_KEYS`] change, else
    /// (with `restart`) by draining it and building a new one.
    pub fn patch(
        &self,
        id: &str,
        changes: Vec<(String, Option<toml::Value>)>,
        restart: bool,
    ) -> std::result::Result<Arc<Camera>, PatchError> {
        let cam = self.find(id).ok_or(PatchError::NotFound)?;
        let old = cam.spec();
        let mut table = old.table.clone();
        let mut changed = Vec::new();
        for (key, value) in changes {
            if key == "id" {
                return Err(PatchError::Invalid(FieldError {
                    camera: Some(id.into()),
                    field: Some("id".into()),
                    message: "a camera's id does not change (remove it and add it anew)".into(),
                }));
            }
            let before = table.get(&key).cloned();
            match value {
                Some(v) => table.insert(key.clone(), v),
                None => table.remove(&key),
            };
            if table.get(&key) != before.as_ref() {
                changed.push(key);
            }
        }
        table.insert("id".into(), id.into());
        let (defaults, base) = {
            let f = lock(&self.file);
            (f.defaults.clone(), f.base())
        };
        let new = fleet::camera(table, &defaults, &base).map_err(PatchError::Invalid)?;
        let others: Vec<_> = self
            .cameras()
            .iter()
            .filter(|c| c.id != id)
            .map(|c| c.spec())
            .collect();
        fleet::check_unique(&others, &new).map_err(PatchError::Invalid)?;
        let needs_restart: Vec<String> = changed
            .iter()
            .filter(|k| !camera::LIVE_KEYS.contains(&k.replace('-', "_").as_str()))
            .cloned()
            .collect();
        if needs_restart.is_empty() {
            cam.update_live(new);
        } else if restart {
            cam.restart_with(new).map_err(|e| {
                PatchError::Invalid(FieldError {
                    camera: Some(id.into()),
                    field: None,
                    message: e,
                })
            })?;
        } else {
            return Err(PatchError::NeedsRestart(needs_restart));
        }
        Ok(cam)
    }

    /// Drains `cam` (its recording finalized) and removes it; sessions it shared stay loaded
    /// for the other cameras.
    pub fn remove(&self, cam: &Arc<Camera>) -> StopReport {
        let report = cam.stop();
        lock(&self.cameras).retain(|c| !Arc::ptr_eq(c, cam));
        report
    }

    /// Writes the cameras as they are now back to the cameras file (the one before kept as
    /// FILE.bak); returns the file's path.
    pub fn save(&self) -> std::result::Result<PathBuf, String> {
        let specs: Vec<_> = self.cameras().iter().map(|c| c.spec()).collect();
        let f = lock(&self.file);
        let text = f.to_toml(&specs);
        let tmp = f.path.with_extension("toml.tmp");
        let backup = f.path.with_extension("toml.bak");
        let io = |e: std::io::Error| format!("saving {}: {e}", f.path.display());
        std::fs::write(&tmp, text).map_err(io)?;
        if f.path.exists() {
            std::fs::copy(&f.path, &backup).map_err(io)?;
        }
        std::fs::rename(&tmp, &f.path).map_err(io)?;
        Ok(f.path.clone())
    }
}

/// The `serve` command.
pub fn serve(args: &ServeArgs) -> Result<()> {
    camera::limit_arenas();
    gst::init().map_err(|e| Error::Invalid(format!("GStreamer: {e}")))?;
    crate::elements::register_static().map_err(|e| Error::Invalid(e.to_string()))?;
    crate::logging::quiet_known_harmless_criticals();
    let file = FleetFile::load(&args.config).map_err(Error::Invalid)?;
    // Every camera is checked before any starts: the service never runs half-configured.
    for spec in &file.cameras {
        Camera::check(spec, !args.check).map_err(Error::Invalid)?;
    }
    if args.check {
        println!(
            "{}: {} cameras, all valid ({})",
            args.config.display(),
            file.cameras.len(),
            file.cameras
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    let token_path = args
        .token_file
        .clone()
        .unwrap_or_else(|| args.config.with_extension("token"));
    let (token, made) = token::load_or_create(&token_path).map_err(Error::Invalid)?;
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| Error::Invalid(format!("--listen {}: {e}", args.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Invalid(format!("--listen {}: {e}", args.listen)))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the HTTP runtime: {e}")))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            runtime
                .block_on(tls::load(cert, key))
                .map_err(Error::Invalid)?,
        ),
        _ => None,
    };
    if !args.listen.ip().is_loopback() && tls.is_none() {
        eprintln!(
            "WARNING: --listen {}: the API is reachable from the network over plain HTTP, \
             guarded by the token only, which travels in clear (give --tls-cert and --tls-key)",
            args.listen
        );
    }
    let fleet = Arc::new(Fleet {
        cameras: Mutex::new(Vec::new()),
        file: Mutex::new(file.clone()),
        started: Instant::now(),
    });
    for spec in file.cameras {
        let cam = Camera::start(spec).map_err(Error::Invalid)?;
        lock(&fleet.cameras).push(cam);
    }
    if made {
        println!(
            "API token (saved in {}, mode 0600; shown this once): {token}",
            token_path.display()
        );
    } else {
        println!("API token: in {}", token_path.display());
    }
    println!(
        "serving {} cameras: API at {}://{}/api/cameras, metrics at /metrics",
        fleet.cameras().len(),
        if tls.is_some() { "https" } else { "http" },
        args.listen
    );

    let stop = Arc::new(tokio::sync::Notify::new());
    let s = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || s.notify_one()) {
        tracing::debug!("no signal handler: {e}");
    }
    let app = Arc::new(api::App {
        fleet: fleet.clone(),
        token,
        metrics_open: args.metrics_open,
        secure_cookie: tls.is_some(),
    });
    let served = runtime.block_on(async move {
        match tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, api::router(app))
                    .with_graceful_shutdown(async move { stop.notified().await })
                    .await
            }
            Some(config) => {
                let handle = axum_server::Handle::new();
                let h = handle.clone();
                tokio::spawn(async move {
                    stop.notified().await;
                    // Requests in flight (a live MJPEG view never ends) get this long.
                    h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
                });
                axum_server::from_tcp_rustls(listener, config)
                    .handle(handle)
                    .serve(api::router(app).into_make_service())
                    .await
            }
        }
    });
    println!("stopping: draining every camera so that its recording is finalized");
    let reports: Vec<StopReport> = std::thread::scope(|s| {
        let handles: Vec<_> = fleet
            .cameras()
            .into_iter()
            .map(|c| s.spawn(move || c.stop()))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut failures = Vec::new();
    for r in &reports {
        let files: Vec<String> = r
            .recordings
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        println!(
            "camera {}: {} frames recorded{}",
            r.id,
            r.frames_recorded,
            if files.is_empty() {
                String::new()
            } else {
                format!(" in {}", files.join(", "))
            }
        );
        if let Some(e) = &r.error {
            failures.push(format!("camera {}: {e}", r.id));
        }
    }
    served.map_err(|e| Error::Invalid(format!("the HTTP server failed: {e}")))?;
    if !failures.is_empty() {
        return Err(Error::Invalid(failures.join("; ")));
    }
    Ok(())
}
