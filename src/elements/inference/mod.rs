//! `GstSapiensInference`: the abstract base class of every inference element (the heads and,
//! later, the ONNX detector), the way gst-plugins-rs shares `hlsbasesink` between its sinks.
//!
//! ```text
//! sink pad chain ─► Executor (pre ► infer ► post threads) ─► src pad task ─► downstream
//! ```
//! The base owns the pads, the shared properties ([`properties`]), the state changes, the model
//! loading and the src pad task. The sink pad's streaming thread only submits frames (blocking
//! while `max-inflight` frames are inside); the src pad's own task pushes them out in input order.
//! Serialized events travel through the executor in their place; flushes drop the frames inside
//! (counted). A subclass implements one method, [`SapiensInferenceImpl::build_stages`], which
//! turns the loaded model into its head's [`Stages`].
mod imp;
mod model_io;
mod properties;
mod report;
pub mod stats;

use std::path::PathBuf;
use std::sync::Arc;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

pub use model_io::ModelIo;
pub use properties::Settings;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipelining::{Admission, Executor, Log, Stages};
use crate::runtime::ModelSession;
use crate::runtime::shared::Runner;

glib::wrapper! {
    /// The abstract inference element (GType `GstSapiensInference`).
    pub struct SapiensInference(ObjectSubclass<imp::SapiensInference>)
        @extends gst::Element, gst::Object;
}

/// What [`SapiensInferenceImpl::build_stages`] builds from: the element's settings and the model
/// they name, loaded on first use (a subclass that runs no ONNX model, such as the HOG person
/// detector, never loads one).
pub struct StartContext<'a> {
    settings: &'a Settings,
    loaded: std::cell::OnceCell<LoadedModel>,
}

impl<'a> StartContext<'a> {
    fn new(settings: &'a Settings) -> Self {
        Self {
            settings,
            loaded: std::cell::OnceCell::new(),
        }
    }

    /// The config and model the `config`/`model` properties name (loaded once; errors name the
    /// file and the cause).
    pub fn model(&self) -> Result<&LoadedModel> {
        if let Some(m) = self.loaded.get() {
            return Ok(m);
        }
        let m = self.settings.load()?;
        Ok(self.loaded.get_or_init(|| m))
    }

    /// The model as [`StartContext::model`], or, when no `config` is set, the one `make` loads
    /// from the settings (a bare model file whose contract is read from the model itself).
    pub fn model_or(
        &self,
        make: impl FnOnce(&Settings) -> Result<LoadedModel>,
    ) -> Result<&LoadedModel> {
        self.model_on(None, make)
    }

    /// [`StartContext::model_or`] with the model on `backend` when given (an element whose own
    /// `backend` property says where its model runs, as `sapiensdetect backend=triton`).
    pub fn model_on(
        &self,
        backend: Option<crate::runtime::Backend>,
        make: impl FnOnce(&Settings) -> Result<LoadedModel>,
    ) -> Result<&LoadedModel> {
        if let Some(m) = self.loaded.get() {
            return Ok(m);
        }
        let mut settings = std::borrow::Cow::Borrowed(self.settings);
        if let Some(b) = backend {
            settings.to_mut().runtime.backend = Some(b);
        }
        let m = if settings.config.is_some() {
            settings.load()?
        } else {
            make(&settings)?
        };
        Ok(self.loaded.get_or_init(|| m))
    }

    pub fn settings(&self) -> &Settings {
        self.settings
    }

    fn into_model(self) -> Option<LoadedModel> {
        self.loaded.into_inner()
    }
}

/// A loaded config and model.
pub struct LoadedModel {
    pub config: Config,
    pub session: Arc<ModelSession>,
    /// How the stages run the model (own session, or a shared instance).
    pub runner: Runner,
}

/// Starts an executor logging to its first argument.
type StartFn = Box<dyn FnOnce(Log, Admission) -> Result<Executor> + Send>;

/// A head's stages, ready to run in an [`Executor`] (the head's `Stages` type erased).
pub struct HeadStages(StartFn);

impl HeadStages {
    pub fn new<S: Stages>(stages: S) -> Self {
        let stages = Arc::new(stages);
        Self(Box::new(move |log, admission| {
            Executor::new(log, stages, admission)
        }))
    }

    /// Starts the executor's threads (named after the log's id).
    fn start(self, log: Log, admission: Admission) -> Result<Executor> {
        (self.0)(log, admission)
    }
}

/// The class struct: GstElementClass plus the one virtual method.
#[repr(C)]
pub struct Class {
    parent: gst::ffi::GstElementClass,
    build_stages: Option<fn(&SapiensInference, &StartContext<'_>) -> Result<HeadStages>>,
}

// SAFETY: `Class` is `#[repr(C)]` and starts with the parent's class struct.
unsafe impl ClassStruct for Class {
    type Type = imp::SapiensInference;
}

/// What a subclass implements.
pub trait SapiensInferenceImpl:
    ElementImpl + ObjectSubclass<Type: IsA<SapiensInference> + IsA<gst::Element>>
{
    /// Checks the loaded model against the head and builds the head's stages (called on
    /// READY→PAUSED; an error fails the state change with a message naming the cause). The
    /// default chains up to the parent class (an abstract subclass such as `GstSapiensDense`).
    fn build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        self.parent_build_stages(start)
    }
}

/// Chaining up to the parent class's [`SapiensInferenceImpl::build_stages`].
pub trait SapiensInferenceImplExt: SapiensInferenceImpl {
    fn parent_build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        // SAFETY: every class derived from GstSapiensInference has a `Class` as its parent class
        // struct (or an extension of it starting with one), so the cast reads a valid struct.
        let parent = unsafe { &*(Self::type_data().as_ref().parent_class() as *const Class) };
        let build = parent.build_stages.ok_or_else(|| {
            Error::Invalid(format!(
                "{} does not build any stages (abstract class)",
                Self::NAME
            ))
        })?;
        build(self.obj().upcast_ref(), start)
    }
}

impl<T: SapiensInferenceImpl> SapiensInferenceImplExt for T {}

// SAFETY: `class_init` chains to the parent's and only sets this class's own field.
unsafe impl<T: SapiensInferenceImpl> IsSubclassable<T> for SapiensInference {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class.upcast_ref_mut());
        class.as_mut().build_stages = Some(|obj, start| {
            let obj = obj
                .downcast_ref::<T::Type>()
                .ok_or_else(|| Error::Invalid(format!("{} is not a {}", obj.type_(), T::NAME)))?;
            T::from_obj(obj).build_stages(start)
        });
    }
}

impl SapiensInference {
    /// The subclass's stages, through the class's virtual method.
    fn build_stages(&self, start: &StartContext<'_>) -> Result<HeadStages> {
        let build =
            self.class().as_ref().build_stages.ok_or_else(|| {
                Error::Invalid(format!("{} does not build any stages", self.type_()))
            })?;
        build(self, start)
    }
}

/// Caps both pads accept: raw video in the formats pre-processing reads.
fn pad_templates() -> Vec<gst::PadTemplate> {
    super::always_templates(super::frame::formats())
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
        let mut opts = self.runtime_options(&config);
        if opts.backend == crate::runtime::Backend::Triton {
            // The server has the model: by default under the config's name, as
            // `sapiens triton-repo` writes it.
            if opts.remote.model_name.is_none() {
                opts.remote.model_name = config
                    .source
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned());
            }
        } else if !config.model.path.is_file() {
            return Err(Error::ModelNotFound {
                path: config.model.path.clone(),
                config: config.source.clone(),
            });
        }
        let runner = match &self.model_instance {
            Some(name) => Runner::Shared(
                crate::runtime::shared::session(name, &config.model.path, &opts)?,
                std::time::Duration::from_millis(self.batch_timeout_ms as u64),
                opts.batch_size,
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

/// The debug category of the inference element `factory` (its factory name, so
/// `GST_DEBUG=sapienspose:6` shows that element's decisions).
pub fn category(factory: &str) -> gst::DebugCategory {
    gst::DebugCategory::new(
        factory,
        gst::DebugColorFlags::empty(),
        Some("Sapiens inference element"),
    )
}

/// Registers the abstract type and the categories of the inference elements `factories` (so
/// `gst-launch-1.0 --gst-debug-help` lists them before any element exists).
pub fn register(factories: &[&str]) {
    let _ = SapiensInference::static_type();
    for f in factories {
        category(f);
    }
}
