//! The base class's instance: pads, settings, the running executor and the src pad task.
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::{Settings, StartContext, report};
use crate::elements::{frame, lock};
use crate::error::Error;
use crate::pipelining::{Executor, ExecutorStats, Log, Output, Policy};
use crate::runtime::Provider;

/// Longest a serialized query (allocation, drain) waits for the frames before it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The base class's own category; each element logs under its factory name (`sapienspose`...).
static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "sapiensinference",
        gst::DebugColorFlags::empty(),
        Some("Sapiens inference base class"),
    )
});

/// A started element: the loaded model and the executor running it.
struct Running {
    executor: Arc<Executor>,
    /// `None` when the element runs no ONNX model.
    provider: Option<Provider>,
    session_id: Option<u64>,
    /// The model takes frame bytes (a pose model's pixel form, input `frames`): the sink pad
    /// offers packed RGB formats only, so upstream converts YUV.
    packed_only: bool,
    /// Last flow result of a push downstream (shared with the src task), returned by the next
    /// `chain`.
    flow: Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>,
}

/// What changes while the element runs (settings change only through properties).
#[derive(Default)]
struct State {
    running: Option<Running>,
    video_info: Option<Arc<gst_video::VideoInfo>>,
}

pub struct SapiensInference {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    pub(super) settings: Mutex<Settings>,
    state: Mutex<State>,
    pub(super) reporter: Arc<report::Reporter>,
    /// The element's debug category (its factory name), set in `constructed`.
    cat: OnceLock<gst::DebugCategory>,
}

#[glib::object_subclass]
impl ObjectSubclass for SapiensInference {
    const NAME: &'static str = "GstSapiensInference";
    const ABSTRACT: bool = true;
    type Type = super::SapiensInference;
    type ParentType = gst::Element;
    type Class = super::Class;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = |name: &str| {
            // SAFETY: `Class` starts with GstElementClass, whose pad templates the subclass
            // inherits from this class (set in `ElementImpl::pad_templates` below).
            let element_class =
                unsafe { &*(klass as *const super::Class as *const glib::Class<gst::Element>) };
            element_class
                .pad_template(name)
                .expect("GstSapiensInference declares sink and src templates")
        };
        let sinkpad = gst::Pad::builder_from_template(&templ("sink"))
            .chain_function(|pad, parent, buffer| {
                Self::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Self::catch_panic_pad_function(parent, || false, |imp| imp.sink_event(pad, event))
            })
            .query_function(|pad, parent, query| {
                Self::catch_panic_pad_function(parent, || false, |imp| imp.sink_query(pad, query))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let srcpad = gst::Pad::builder_from_template(&templ("src"))
            .query_function(|pad, parent, query| {
                Self::catch_panic_pad_function(parent, || false, |imp| imp.src_query(pad, query))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            reporter: Default::default(),
            cat: OnceLock::new(),
        }
    }
}

impl ObjectImpl for SapiensInference {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(super::properties::specs);
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.set_shared_property(value, pspec);
        if matches!(pspec.name(), "policy" | "interval") {
            // Changed while frames flow: the running executor takes it for the next frames.
            let (policy, interval) = {
                let s = lock(&self.settings);
                (s.policy, s.interval)
            };
            let executor = lock(&self.state)
                .running
                .as_ref()
                .map(|r| r.executor.clone());
            if let Some(e) = executor {
                e.set_policy(policy, interval);
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.shared_property(pspec)
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let name = obj
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_else(|| obj.type_().name().to_lowercase());
        let _ = self.cat.set(super::category(&name));
        obj.add_pad(&self.sinkpad).expect("fresh sink pad");
        obj.add_pad(&self.srcpad).expect("fresh src pad");
    }
}

impl GstObjectImpl for SapiensInference {}

impl ElementImpl for SapiensInference {
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(super::pad_templates);
        TEMPLATES.as_ref()
    }

    /// Loads the model and starts the executor with the subclass's stages on READY→PAUSED
    /// (posting the error when that fails), starts the src task once the pads are active, and
    /// stops everything on PAUSED→READY.
    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                if let Err(msg) = self.start() {
                    self.obj().post_error_message(msg);
                    return Err(gst::StateChangeError);
                }
            }
            gst::StateChange::PausedToReady => self.stop(),
            _ => {}
        }
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::ReadyToPaused {
            self.start_task()?;
        }
        Ok(ret)
    }
}

impl SapiensInference {
    pub(super) fn cat(&self) -> gst::DebugCategory {
        self.cat.get().copied().unwrap_or(*CAT)
    }

    /// Loads the config and model and starts the executor with the subclass's stages. Errors
    /// become a `gst::error_msg!` naming the file and cause.
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let to_msg = |e: Error| {
            let kind = match e {
                Error::Config { .. } | Error::Invalid(_) => gst::ResourceError::Settings,
                Error::ModelNotFound { .. } => gst::ResourceError::NotFound,
                _ => gst::ResourceError::OpenRead,
            };
            gst::error_msg!(kind, ("{}", e))
        };
        let obj = self.obj();
        let start = StartContext::new(&settings);
        let stages = obj.build_stages(&start).map_err(to_msg)?;
        let executor = stages
            .start(Log::new(self.cat(), &obj.name()), settings.admission())
            .map_err(to_msg)?;
        let loaded = start.into_model();
        if let Some(m) = &loaded {
            self.warm_up(&m.session, settings.batch_size as usize)
                .map_err(to_msg)?;
        }
        match &loaded {
            Some(m) => gst::info!(
                self.cat(),
                imp = self,
                "model {} on {} (session {}), max-inflight {}",
                m.session.path().display(),
                m.session.provider(),
                m.session.id(),
                settings.max_inflight
            ),
            None => gst::info!(
                self.cat(),
                imp = self,
                "no ONNX model, max-inflight {}",
                settings.max_inflight
            ),
        }
        if let (Some(instance), Some(m)) = (&settings.model_instance, &loaded) {
            gst::debug!(
                self.cat(),
                imp = self,
                "model-instance '{instance}': session {} (shared by every element naming it)",
                m.session.id()
            );
        }
        lock(&self.state).running = Some(Running {
            executor: Arc::new(executor),
            provider: loaded.as_ref().map(|m| m.session.provider()),
            session_id: loaded.as_ref().map(|m| m.session.id()),
            packed_only: loaded
                .as_ref()
                .is_some_and(|m| m.session.inputs.iter().any(|t| t.name == "frames")),
            flow: Arc::new(Mutex::new(Ok(gst::FlowSuccess::Ok))),
        });
        Ok(())
    }

    /// On a GPU provider, runs the model once per batch size in use before the element reaches
    /// PAUSED, so TensorRT builds (or loads) its engines now and not on the first frames. Posts
    /// `sapiens-engine` element messages (`state` = `building`, then `ready` with `seconds`), so
    /// an application can say why starting takes minutes the first time.
    fn warm_up(&self, session: &crate::runtime::ModelSession, batch: usize) -> crate::Result<()> {
        if !matches!(session.provider(), Provider::Tensorrt | Provider::Cuda) {
            return Ok(());
        }
        let post = |s: gst::Structure| {
            let _ = self
                .obj()
                .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
        };
        let mut batches = vec![1, batch.max(1)];
        batches.dedup();
        let model = session.path().display().to_string();
        gst::info!(
            self.cat(),
            imp = self,
            "warming up {model} on {} for batches {batches:?} (TensorRT builds its engines now the first time)",
            session.provider()
        );
        post(
            gst::Structure::builder("sapiens-engine")
                .field("state", "building")
                .field("model", &model)
                .field("provider", session.provider().as_str())
                .build(),
        );
        let took = session.warm_up(&batches)?;
        post(
            gst::Structure::builder("sapiens-engine")
                .field("state", "ready")
                .field("model", &model)
                .field("provider", session.provider().as_str())
                .field("seconds", took.as_secs_f64())
                .build(),
        );
        gst::info!(
            self.cat(),
            imp = self,
            "{model} ready in {:.1} s",
            took.as_secs_f64()
        );
        Ok(())
    }

    /// Starts the src pad task (after the pads are active).
    fn start_task(&self) -> Result<(), gst::StateChangeError> {
        let Some((executor, flow)) = self.running(|r| (r.executor.clone(), r.flow.clone())) else {
            return Err(gst::StateChangeError);
        };
        let srcpad = self.srcpad.clone();
        let weak = self.obj().downgrade();
        let cat = self.cat();
        let reporter = self.reporter.clone();
        let policy = lock(&self.settings).policy;
        // Frames failed since the last good one (policy drop/skip: the stream goes on).
        let mut failing = 0u64;
        let mut failed_seen = 0u64;
        self.srcpad
            .start_task(move || {
                if executor.is_flushing() {
                    let _ = srcpad.pause_task();
                    return;
                }
                match executor.next_output() {
                    Output::Buffer(buffer) => {
                        // policy=skip: a failed frame comes out carrying the last results.
                        let failed = executor.failed();
                        if failed > failed_seen {
                            failed_seen = failed;
                            failing += 1;
                            if failing == 1 {
                                warn_failing(
                                    &weak,
                                    policy,
                                    "inference failed; the frame carries the last results",
                                );
                            }
                        } else if failing > 0 {
                            gst::info!(
                                cat,
                                obj = srcpad,
                                "frames have results again after {failing} failed"
                            );
                            failing = 0;
                        }
                        let res = srcpad.push(buffer);
                        executor.frame_done();
                        if let Some(element) = weak.upgrade() {
                            reporter.after_frame(element.upcast_ref(), &executor);
                        }
                        if let Err(e) = res {
                            gst::debug!(cat, obj = srcpad, "downstream returned {e:?}");
                            *lock(&flow) = Err(e);
                        }
                    }
                    Output::Event(event) => {
                        srcpad.push_event(event);
                    }
                    Output::Error(err) if policy != Policy::Block => {
                        // A live stream goes on: one warning per run of failures (every one is
                        // counted in `stats`), the rest in the debug log.
                        failed_seen = executor.failed();
                        failing += 1;
                        if failing == 1 {
                            warn_failing(&weak, policy, &err.to_string());
                        } else {
                            gst::debug!(
                                cat,
                                obj = srcpad,
                                "frame failed ({failing} in a row): {err}"
                            );
                        }
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

    /// Stops everything and drops the model (PAUSED → READY, before the pads deactivate).
    fn stop(&self) {
        if let Some(executor) = self.executor() {
            executor.flush_start();
        }
        let _ = self.srcpad.stop_task();
        *lock(&self.state) = State::default();
    }

    /// `f` of the running part (`None` before start).
    fn running<R>(&self, f: impl FnOnce(&Running) -> R) -> Option<R> {
        lock(&self.state).running.as_ref().map(f)
    }

    fn executor(&self) -> Option<Arc<Executor>> {
        self.running(|r| r.executor.clone())
    }

    /// The id of the running session (`None` before start).
    pub(super) fn session_id(&self) -> Option<u64> {
        self.running(|r| r.session_id).flatten()
    }

    /// The provider the running session uses (`None` before start).
    pub(super) fn provider(&self) -> Option<Provider> {
        self.running(|r| r.provider).flatten()
    }

    /// The executor's counters and latencies (`None` before start).
    pub(super) fn stats(&self) -> Option<ExecutorStats> {
        self.executor().map(|e| e.stats())
    }

    fn chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (running, info) = {
            let state = lock(&self.state);
            (
                state
                    .running
                    .as_ref()
                    .map(|r| (r.executor.clone(), r.flow.clone())),
                state.video_info.clone(),
            )
        };
        let Some((executor, flow)) = running else {
            return Err(gst::FlowError::Flushing);
        };
        let Some(info) = info else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("received a buffer before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let last = *lock(&flow);
        last?;
        gst::trace!(self.cat(), imp = self, "frame {:?}", buffer.pts());
        match executor.submit_frame(buffer, info) {
            Ok(()) => *lock(&flow),
            Err(_) => Err(gst::FlowError::Flushing),
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        let executor = self.executor();
        match event.view() {
            EventView::Caps(c) => {
                let info = match gst_video::VideoInfo::from_caps(c.caps()) {
                    Ok(info) => info,
                    Err(e) => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ("cannot read caps {}: {}", c.caps(), e)
                        );
                        return false;
                    }
                };
                if let Err(e) = frame::layout(info.format()).and_then(|_| frame::yuv_matrix(&info))
                {
                    gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{}", e));
                    return false;
                }
                lock(&self.state).video_info = Some(Arc::new(info));
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
                if let Some(flow) = self.running(|r| r.flow.clone()) {
                    *lock(&flow) = Ok(gst::FlowSuccess::Ok);
                }
                let ok = self.srcpad.push_event(event);
                if executor.is_some() && self.start_task().is_err() {
                    gst::element_imp_error!(
                        self,
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
            Some(executor) if event.is_serialized() => executor.submit_event(event),
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    /// LATENCY: upstream's plus what this element adds ([`report::Reporter::latency`]).
    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let mut upstream = gst::query::Latency::new();
            if !self.sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            let ours = self.reporter.latency(self.executor().as_deref());
            gst::debug!(
                self.cat(),
                imp = self,
                "adding {ours} latency to upstream's {min}"
            );
            q.set(live, min + ours, max.map(|m| m + ours));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }

    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Caps(q) = query.view_mut()
            && self.running(|r| r.packed_only) == Some(true)
        {
            let packed = gst_video::VideoCapsBuilder::new()
                .format_list(frame::PACKED_FORMATS.iter().copied())
                .build();
            let filter = match q.filter() {
                Some(f) => f.intersect(&packed),
                None => packed,
            };
            let mut peer = gst::query::Caps::new(Some(&filter));
            let caps = match self.srcpad.peer_query(&mut peer) {
                true => peer
                    .result_owned()
                    .map_or(filter.clone(), |c| c.intersect(&filter)),
                false => filter,
            };
            q.set_result(&caps.intersect(&pad.pad_template_caps()));
            return true;
        }
        if query.is_serialized()
            && let Some(executor) = self.executor()
            && !executor.wait_idle(DRAIN_TIMEOUT)
        {
            gst::warning!(
                self.cat(),
                imp = self,
                "frames still in flight when answering {:?}",
                query.type_()
            );
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

/// The bus warning at the start of a run of failed frames under `policy` drop or skip.
fn warn_failing(element: &glib::WeakRef<super::SapiensInference>, policy: Policy, what: &str) {
    if let Some(element) = element.upgrade() {
        gst::element_warning!(
            element,
            gst::StreamError::Failed,
            (
                "frames failing (policy={}: the stream goes on, failures are counted in stats): {}",
                policy.as_str(),
                what
            )
        );
    }
}
