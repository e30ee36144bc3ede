//! What every inference element shares: model loading, runtime properties, the pads and the
//! staged executor between them.
//!
//! ```text
//! sink pad chain ─► Executor (pre ► infer ► post threads) ─► src pad task ─► downstream
//! ```
//! The sink pad's streaming thread only submits frames (blocking while `max-inflight` frames are
//! inside); the src pad's own task pushes them out in input order. Serialized events travel
//! through the executor in their place; flushes drop the frames inside (counted).
//! An element (e.g. `sapienspose`) owns an [`InferenceCore`], builds its pads with [`pads`], and
//! supplies its head's [`Stages`] when the core starts.
pub mod frame;
mod properties;
mod report;
pub mod stats;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gst::prelude::*;
use gst::subclass::prelude::*;

pub use properties::{ExecutionProvider, Settings, specs};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipelining::{Executor, ExecutorStats, Output, Stages};
use crate::runtime::shared::Runner;
use crate::runtime::{ModelSession, Provider};

/// Longest a serialized query (allocation, drain) waits for the frames before it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An element built on [`InferenceCore`].
pub trait InferenceElement: ElementImpl + ObjectSubclass<Type: IsA<gst::Element>> {
    fn core(&self) -> &InferenceCore;
}

/// Sink and src pads from `T`'s templates `sink` and `src`, wired to `T`'s core.
pub fn pads<T: InferenceElement>() -> (gst::Pad, gst::Pad) {
    let templ = |name: &str| {
        T::pad_templates()
            .iter()
            .find(|t| t.name_template() == name)
            .cloned()
            .expect("element declares sink and src templates")
    };
    let templ_sink = templ("sink");
    let sinkpad = gst::Pad::builder_from_template(&templ_sink)
        .chain_function(|pad, parent, buffer| {
            T::catch_panic_pad_function(
                parent,
                || Err(gst::FlowError::Error),
                |imp| imp.core().chain(imp.obj().upcast_ref(), pad, buffer),
            )
        })
        .event_function(|pad, parent, event| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| imp.core().sink_event(imp.obj().upcast_ref(), pad, event),
            )
        })
        .query_function(|pad, parent, query| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| imp.core().sink_query(imp.obj().upcast_ref(), pad, query),
            )
        })
        .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
        .build();
    let srcpad = gst::Pad::builder_from_template(&templ("src"))
        .query_function(|pad, parent, query| {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| imp.core().src_query(imp.obj().upcast_ref(), pad, query),
            )
        })
        .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
        .build();
    (sinkpad, srcpad)
}

/// Caps both pads accept: raw video in the formats pre-processing reads.
pub fn pad_templates() -> Vec<gst::PadTemplate> {
    super::always_templates(frame::formats())
}

/// A started element: the loaded model and the executor running it.
struct Running {
    executor: Arc<Executor>,
    provider: Provider,
    session_id: u64,
}

/// The shared part of an inference element.
pub struct InferenceCore {
    cat: gst::DebugCategory,
    pub sinkpad: gst::Pad,
    pub srcpad: gst::Pad,
    pub settings: Mutex<Settings>,
    running: Mutex<Option<Running>>,
    video_info: Mutex<Option<Arc<gst_video::VideoInfo>>>,
    /// Last flow result of a push downstream, returned by the next `chain`.
    flow: Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>,
    reporter: Arc<report::Reporter>,
}

/// What an element's `build` closure receives when the core starts.
pub struct LoadedModel {
    pub config: Config,
    pub session: Arc<ModelSession>,
    /// How the stages run the model (own session, or a shared instance).
    pub runner: Runner,
}

impl InferenceCore {
    pub fn new(cat: gst::DebugCategory, sinkpad: gst::Pad, srcpad: gst::Pad) -> Self {
        Self {
            cat,
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            running: Mutex::new(None),
            video_info: Mutex::new(None),
            flow: Arc::new(Mutex::new(Ok(gst::FlowSuccess::Ok))),
            reporter: Default::default(),
        }
    }

    /// Adds the pads to the element (call from `constructed`).
    pub fn add_pads(&self, element: &gst::Element) {
        element.add_pad(&self.sinkpad).expect("fresh sink pad");
        element.add_pad(&self.srcpad).expect("fresh src pad");
    }

    /// Loads the config and model and starts the executor with the stages `build` makes.
    /// Errors become a `gst::error_msg!` naming the file and cause.
    fn start<S: Stages>(
        &self,
        element: &gst::Element,
        build: impl FnOnce(&LoadedModel) -> Result<Arc<S>>,
    ) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let to_msg = |e: Error| {
            let kind = match e {
                Error::Config { .. } | Error::Invalid(_) => gst::ResourceError::Settings,
                Error::ModelNotFound { .. } => gst::ResourceError::NotFound,
                _ => gst::ResourceError::OpenRead,
            };
            gst::error_msg!(kind, ("{}", e))
        };
        let loaded = settings.load().map_err(to_msg)?;
        let stages = build(&loaded).map_err(to_msg)?;
        let provider = loaded.session.provider();
        let session_id = loaded.session.id();
        let name = element.name();
        let executor = Executor::new(&name, stages, settings.admission()).map_err(to_msg)?;
        gst::info!(
            self.cat,
            obj = element,
            "model {} on {provider}, max-inflight {}",
            loaded.session.path().display(),
            settings.max_inflight
        );
        *lock(&self.flow) = Ok(gst::FlowSuccess::Ok);
        *lock(&self.running) = Some(Running {
            executor: Arc::new(executor),
            provider,
            session_id,
        });
        Ok(())
    }

    /// Starts the src pad task (after the pads are active).
    fn start_task(&self, element: &gst::Element) -> Result<(), gst::StateChangeError> {
        let Some(executor) = self.executor() else {
            return Err(gst::StateChangeError);
        };
        let srcpad = self.srcpad.clone();
        let flow = self.flow.clone();
        let weak = element.downgrade();
        let cat = self.cat;
        let reporter = self.reporter.clone();
        self.srcpad
            .start_task(move || {
                if executor.is_flushing() {
                    let _ = srcpad.pause_task();
                    return;
                }
                match executor.next_output() {
                    Output::Buffer(buffer) => {
                        let res = srcpad.push(buffer);
                        executor.frame_done();
                        if let Some(element) = weak.upgrade() {
                            reporter.after_frame(&element, &executor);
                        }
                        if let Err(e) = res {
                            gst::debug!(cat, obj = srcpad, "downstream returned {e:?}");
                            *lock(&flow) = Err(e);
                        }
                    }
                    Output::Event(event) => {
                        srcpad.push_event(event);
                    }
                    Output::Error(err) => {
                        if let Some(element) = weak.upgrade() {
                            gst::element_error!(
                                element,
                                gst::StreamError::Failed,
                                ("frame lost: {}", err)
                            );
                        }
                        *lock(&flow) = Err(gst::FlowError::Error);
                    }
                    Output::Wake => {}
                }
            })
            .map_err(|_| gst::StateChangeError)
    }

    /// The element's state change: loads the model and starts the executor with the stages
    /// `build` makes on READY→PAUSED (posting the error when that fails), starts the src task
    /// once the pads are active, and stops everything on PAUSED→READY. `parent` is the parent
    /// class's `change_state`.
    pub fn change_state<S: Stages>(
        &self,
        element: &gst::Element,
        transition: gst::StateChange,
        parent: impl FnOnce(gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError>,
        build: impl FnOnce(&LoadedModel) -> Result<Arc<S>>,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                if let Err(msg) = self.start(element, build) {
                    element.post_error_message(msg);
                    return Err(gst::StateChangeError);
                }
            }
            gst::StateChange::PausedToReady => self.stop(),
            _ => {}
        }
        let ret = parent(transition)?;
        if transition == gst::StateChange::ReadyToPaused {
            self.start_task(element)?;
        }
        Ok(ret)
    }

    /// Stops everything and drops the model (PAUSED → READY, before the pads deactivate).
    fn stop(&self) {
        if let Some(executor) = self.executor() {
            executor.flush_start();
        }
        let _ = self.srcpad.stop_task();
        *lock(&self.running) = None;
        *lock(&self.video_info) = None;
    }

    fn executor(&self) -> Option<Arc<Executor>> {
        lock(&self.running).as_ref().map(|r| r.executor.clone())
    }

    /// The id of the running session (`None` before start).
    pub fn session_id(&self) -> Option<u64> {
        lock(&self.running).as_ref().map(|r| r.session_id)
    }

    /// The provider the running session uses (`None` before start).
    pub fn provider(&self) -> Option<Provider> {
        lock(&self.running).as_ref().map(|r| r.provider)
    }

    /// The executor's counters and latencies (`None` before start).
    pub fn stats(&self) -> Option<ExecutorStats> {
        self.executor().map(|e| e.stats())
    }

    /// Stats as the `stats` property's structure (all zero before start).
    pub fn stats_structure(&self) -> gst::Structure {
        stats::to_structure(&self.stats().unwrap_or_default())
    }

    fn chain(
        &self,
        element: &gst::Element,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let Some(executor) = self.executor() else {
            return Err(gst::FlowError::Flushing);
        };
        let Some(info) = lock(&self.video_info).clone() else {
            gst::element_error!(
                element,
                gst::CoreError::Negotiation,
                ("received a buffer before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let flow = *lock(&self.flow);
        flow?;
        gst::trace!(self.cat, obj = element, "frame {:?}", buffer.pts());
        match executor.submit_frame(buffer, info) {
            Ok(()) => *lock(&self.flow),
            Err(_) => Err(gst::FlowError::Flushing),
        }
    }

    fn sink_event(&self, element: &gst::Element, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        let executor = self.executor();
        match event.view() {
            EventView::Caps(c) => {
                let info = match gst_video::VideoInfo::from_caps(c.caps()) {
                    Ok(info) => info,
                    Err(e) => {
                        gst::element_error!(
                            element,
                            gst::CoreError::Negotiation,
                            ("cannot read caps {}: {}", c.caps(), e)
                        );
                        return false;
                    }
                };
                if let Err(e) = frame::layout(info.format()) {
                    gst::element_error!(element, gst::CoreError::Negotiation, ("{}", e));
                    return false;
                }
                *lock(&self.video_info) = Some(Arc::new(info));
            }
            EventView::FlushStart(_) => {
                if let Some(executor) = &executor {
                    executor.flush_start();
                }
                let ok = self.srcpad.push_event(event);
                let _ = self.srcpad.pause_task();
                return ok;
            }
            EventView::FlushStop(_) => {
                if let Some(executor) = &executor {
                    executor.flush_stop();
                }
                *lock(&self.flow) = Ok(gst::FlowSuccess::Ok);
                let ok = self.srcpad.push_event(event);
                if executor.is_some() && self.start_task(element).is_err() {
                    gst::element_error!(
                        element,
                        gst::CoreError::Thread,
                        ("cannot restart the src task after a flush")
                    );
                    return false;
                }
                return ok;
            }
            _ => {}
        }
        match executor {
            Some(executor) if event.is_serialized() => {
                executor.submit_event(event);
                true
            }
            _ => gst::Pad::event_default(pad, Some(element), event),
        }
    }

    /// LATENCY: upstream's plus what this element adds ([`report::Reporter::latency`]).
    fn src_query(&self, element: &gst::Element, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let mut upstream = gst::query::Latency::new();
            if !self.sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            let ours = self.reporter.latency(self.executor().as_deref());
            gst::debug!(
                self.cat,
                obj = element,
                "adding {ours} latency to upstream's {min}"
            );
            q.set(live, min + ours, max.map(|m| m + ours));
            return true;
        }
        gst::Pad::query_default(pad, Some(element), query)
    }

    fn sink_query(
        &self,
        element: &gst::Element,
        pad: &gst::Pad,
        query: &mut gst::QueryRef,
    ) -> bool {
        if query.is_serialized()
            && let Some(executor) = self.executor()
            && !executor.wait_idle(DRAIN_TIMEOUT)
        {
            gst::warning!(
                self.cat,
                obj = element,
                "frames still in flight when answering {:?}",
                query.type_()
            );
        }
        gst::Pad::query_default(pad, Some(element), query)
    }
}

impl Settings {
    /// Reads the config, applies property overrides and loads the model.
    pub fn load(&self) -> Result<LoadedModel> {
        let path: &PathBuf = self.config.as_ref().ok_or_else(|| {
            Error::Invalid(
                "property 'config' is not set: name a model config TOML (see configs/)".into(),
            )
        })?;
        let mut config = Config::load(path)?;
        if let Some(model) = &self.model {
            config.model.path = model.clone();
        }
        if !config.model.path.is_file() {
            return Err(Error::ModelNotFound {
                path: config.model.path.clone(),
                config: config.source.clone(),
            });
        }
        let opts = self.runtime_options(&config);
        let runner = match &self.model_instance {
            Some(name) => Runner::Shared(
                crate::runtime::shared::session(name, &config.model.path, &opts)?,
                std::time::Duration::from_millis(self.batch_timeout_ms as u64),
            ),
            None => Runner::Own(Arc::new(ModelSession::load(&config.model.path, &opts)?)),
        };
        Ok(LoadedModel {
            config,
            session: runner.session().clone(),
            runner,
        })
    }
}
