//! A camera's live view: the annotated video as JPEG pictures for the dashboard (at most 5 a
//! second, 640 px wide; see `run::live_view_branch`). While nobody watches, the branch's valve
//! is closed and costs nothing; the first viewer opens it and starts one thread that takes the
//! pictures from the appsink and hands the newest to every viewer (a `watch` channel), the last
//! one leaving closes it again.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use gst::prelude::*;

/// A picture and its number (1, 2, … since the service started).
pub type Picture = Option<(u64, Bytes)>;

/// The live view's viewers and newest picture.
pub struct Live {
    viewers: AtomicUsize,
    pictures: tokio::sync::watch::Sender<Picture>,
    taken: AtomicU64,
    /// A puller thread runs (it decides to end under this lock, so a viewer who comes as it
    /// ends starts a new one).
    running: Mutex<bool>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            viewers: AtomicUsize::new(0),
            pictures: tokio::sync::watch::Sender::new(None),
            taken: AtomicU64::new(0),
            running: Mutex::new(false),
        }
    }
}

/// Someone watching: the pictures come while it lives.
pub struct Viewer {
    live: Arc<Live>,
    pub pictures: tokio::sync::watch::Receiver<Picture>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.live.viewers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where a camera's pictures come from now: its current pipeline (`None` between pipelines).
pub type Source = Arc<dyn Fn() -> Option<gst::Pipeline> + Send + Sync>;

impl Live {
    /// Viewers now.
    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::SeqCst)
    }

    /// A new viewer of the pipeline `source` gives; starts the puller if none runs.
    pub fn watch(self: &Arc<Self>, source: Source) -> Viewer {
        self.viewers.fetch_add(1, Ordering::SeqCst);
        let mut pictures = self.pictures.subscribe();
        pictures.mark_unchanged();
        let mut running = super::lock(&self.running);
        if !*running {
            let live = self.clone();
            *running = std::thread::Builder::new()
                .name("live-view".into())
                .spawn(move || live.pull(source))
                .map_err(|e| tracing::warn!("no live view thread: {e}"))
                .is_ok();
        }
        Viewer {
            live: self.clone(),
            pictures,
        }
    }

    /// The puller: opens the valve of each pipeline it sees, takes its pictures while anyone
    /// watches, closes the valve when the last viewer has gone.
    fn pull(&self, source: Source) {
        let mut opened: Option<gst::Pipeline> = None;
        loop {
            if self.viewers() == 0 {
                let mut running = super::lock(&self.running);
                if self.viewers() == 0 {
                    *running = false;
                    break;
                }
            }
            let Some(pipeline) = source() else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            let (Some(valve), Some(sink)) =
                (pipeline.by_name("liveview"), pipeline.by_name("live"))
            else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            };
            if opened.as_ref() != Some(&pipeline) {
                valve.set_property("drop", false);
                opened = Some(pipeline.clone());
            }
            let Ok(sink) = sink.downcast::<gst_app::AppSink>() else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            };
            match sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) {
                Some(sample) => {
                    if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                        let n = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
                        self.pictures
                            .send_replace(Some((n, Bytes::copy_from_slice(&map))));
                    }
                }
                None if sink.is_eos() => std::thread::sleep(Duration::from_millis(200)),
                None => {}
            }
        }
        if let Some(valve) = opened.and_then(|p| p.by_name("liveview")) {
            valve.set_property("drop", true);
        }
    }
}
