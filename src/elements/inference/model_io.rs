//! The model's input and output as a head uses them: checked against the config once when the
//! element starts, then run for batches of frames.
use std::borrow::Cow;

use super::LoadedModel;
use crate::config::{Head, Weights};
use crate::error::{Error, Result};
use crate::preprocess::Normalization;
use crate::runtime::contract::{self, Contract, PixelInputs};
use crate::runtime::shared::Runner;
use crate::runtime::{BatchOutput, BatchSlice, FrameOutputs, PixelBatch, Provider};

pub struct ModelIo {
    runner: Runner,
    contract: Contract,
    /// Input size and normalization, from the config's `[input]`.
    pub norm: Normalization,
    /// One item's output shape `[c, h, w]` ([`crate::config::Config::output_item`]).
    pub out_item: [usize; 3],
    /// The config says the weights are generated: results are noise.
    pub untrained: bool,
    /// Which of the config's output forms ([`crate::config::Config::output_forms`]) the model
    /// has: 0 its own item, 1 the head's output computed in the graph (pose keypoints, seg
    /// labels).
    pub form: usize,
    /// That form's item shape (what each output item holds).
    pub form_item: Vec<usize>,
    /// The model cuts its crops from frame bytes in its graph (pose only): see
    /// [`contract::PixelInputs`].
    pub pixels: Option<PixelInputs>,
}

impl ModelIo {
    /// Checks that the config is for `head` (an element runs only its own head) and that the
    /// model takes `[batch, 3, H, W]` and gives `[batch, ..output_item]` (or another of the
    /// config's output forms); mismatches name both sides.
    pub fn new(loaded: &LoadedModel, head: Head) -> Result<Self> {
        let cfg = &loaded.config;
        if cfg.head() != head {
            return Err(Error::Config {
                path: cfg.source.clone(),
                msg: format!(
                    "this element is {} (configs with {}), but the config is for {} ({})",
                    head.element(),
                    head.section(),
                    cfg.element(),
                    cfg.head().section()
                ),
            });
        }
        let (h, w) = (cfg.input.height, cfg.input.width);
        let out_item = cfg.output_item()?;
        let forms = cfg.output_forms()?;
        let pixels = contract::pixel_inputs(&loaded.session, &cfg.source)?;
        if let Some(px) = &pixels {
            Self::check_pixel_form(loaded, head, px)?;
        }
        let (contract, form) = contract::check_forms(
            &loaded.session,
            &cfg.source,
            cfg.model.input_name.as_deref(),
            cfg.model.output_name.as_deref(),
            pixels.is_none().then_some([3, h as i64, w as i64]),
            &forms,
            &cfg.extra_outputs(),
        )?;
        let form_item = forms[form].item.iter().map(|d| *d as usize).collect();
        Ok(Self {
            runner: loaded.runner.clone(),
            contract,
            norm: Normalization {
                width: w,
                height: h,
                mean: cfg.input.mean,
                std: cfg.input.std,
            },
            out_item: out_item.map(|d| d as usize),
            untrained: cfg.model.weights == Weights::Untrained,
            form,
            form_item,
            pixels,
        })
    }

    /// Where a pixel-form model can run: the pose head, its own local session, a dynamic batch,
    /// and a graph cutting the crop the config's `[input]` describes.
    fn check_pixel_form(loaded: &LoadedModel, head: Head, px: &PixelInputs) -> Result<()> {
        let session = loaded.runner.session();
        let refuse = |why: &str| Error::ModelMismatch {
            model: session.path().to_owned(),
            config: loaded.config.source.clone(),
            msg: format!("the model takes frame bytes (pixel form), {why}"),
        };
        if head != Head::Pose {
            return Err(refuse(&format!(
                "which only sapienspose feeds; {} feeds crops",
                head.element()
            )));
        }
        if !matches!(loaded.runner, Runner::Own(_)) || session.provider() == Provider::Triton {
            return Err(refuse(
                "which runs in the element's own local session: not with model-instance or backend=triton",
            ));
        }
        let input = &loaded.config.input;
        let close =
            |a: &[f32; 3], b: &[f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4);
        if (px.height, px.width) != (input.height, input.width)
            || !close(&px.mean, &input.mean)
            || !close(&px.std, &input.std)
        {
            return Err(refuse(&format!(
                "cutting {}x{} crops normalized with mean {:?}, std {:?}; the config's [input] says {}x{}, mean {:?}, std {:?} \
                 (make the graph with scripts/preprocess_graph.py pose-warp --height --width --mean --std)",
                px.width,
                px.height,
                px.mean,
                px.std,
                input.width,
                input.height,
                input.mean,
                input.std
            )));
        }
        if let Some(b) = session
            .outputs
            .first()
            .and_then(|o| o.shape.first())
            .filter(|b| **b > 0)
        {
            return Err(refuse(&format!(
                "but its output has a fixed batch of {b}: export it with a dynamic batch"
            )));
        }
        Ok(())
    }

    /// Runs a pixel-form model on `batch` (every crop in one run); the main output.
    pub fn run_pixels(&self, batch: &PixelBatch<'_>) -> Result<BatchOutput> {
        let mut outs = self
            .runner
            .session()
            .run_pixels(batch, &[self.contract.output.as_str()])?;
        Ok(outs.swap_remove(0))
    }

    /// Runs the model on the inputs of several frames (`counts[i]` items in `frames[i]`), in
    /// runs the session (or the shared instance) forms; one slice of the main output per frame.
    pub fn run(&self, frames: Vec<Cow<'_, [f32]>>, counts: &[usize]) -> Result<Vec<BatchSlice>> {
        Ok(self
            .run_all(frames, counts)?
            .into_iter()
            .map(|mut outs| outs.swap_remove(0))
            .collect())
    }

    /// As [`Self::run`], with every output the head reads per frame: the main one first, then
    /// the config's extra outputs ([`crate::config::Config::extra_outputs`]) in order.
    pub fn run_all(
        &self,
        frames: Vec<Cow<'_, [f32]>>,
        counts: &[usize],
    ) -> Result<Vec<FrameOutputs>> {
        let outputs: Vec<String> = std::iter::once(self.contract.output.clone())
            .chain(self.contract.extra.iter().cloned())
            .collect();
        self.runner.run_frames(
            &self.contract.input,
            &outputs,
            frames,
            counts,
            &self.norm.item_shape(),
        )
    }
}
