//! The model's input and output as a head uses them: checked against the config once when the
//! element starts, then run for batches of frames.
use std::borrow::Cow;

use super::LoadedModel;
use crate::config::{Head, Weights};
use crate::error::{Error, Result};
use crate::preprocess::Normalization;
use crate::runtime::BatchSlice;
use crate::runtime::FrameOutputs;
use crate::runtime::contract::{self, Contract};
use crate::runtime::shared::Runner;

pub struct ModelIo {
    runner: Runner,
    contract: Contract,
    /// Input size and normalization, from the config's `[input]`.
    pub norm: Normalization,
    /// One item's output shape `[c, h, w]` ([`crate::config::Config::output_item`]).
    pub out_item: [usize; 3],
    /// The config says the weights are generated: results are noise.
    pub untrained: bool,
}

impl ModelIo {
    /// Checks that the config is for `head` (an element runs only its own head) and that the
    /// model takes `[batch, 3, H, W]` and gives `[batch, ..output_item]`; mismatches name both
    /// sides.
    pub fn new(loaded: &LoadedModel, head: Head) -> Result<Self> {
        Self::with_alternative(loaded, head, None).map(|(io, _)| io)
    }

    /// As [`Self::new`], also accepting the output item `alt` (`(what it is, item shape)`, e.g.
    /// pose decoded in the graph); `true` when the model has that form. A model of neither form
    /// is refused naming both.
    pub fn with_alternative(
        loaded: &LoadedModel,
        head: Head,
        alt: Option<(&str, &[i64])>,
    ) -> Result<(Self, bool)> {
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
        let check = |item: &[i64]| {
            contract::check(
                &loaded.session,
                &cfg.source,
                cfg.model.input_name.as_deref(),
                cfg.model.output_name.as_deref(),
                [3, h as i64, w as i64],
                item,
                &cfg.extra_outputs(),
            )
        };
        let (contract, is_alt) = match (check(&out_item), alt) {
            (Ok(c), _) => (c, false),
            (Err(Error::ModelMismatch { model, config, msg }), Some((what, item))) => {
                match check(item) {
                    Ok(c) => (c, true),
                    Err(_) => {
                        let dims: Vec<String> = item.iter().map(|d| d.to_string()).collect();
                        return Err(Error::ModelMismatch {
                            model,
                            config,
                            msg: format!("{msg} (or, {what}, [batch,{}])", dims.join(",")),
                        });
                    }
                }
            }
            (Err(e), _) => return Err(e),
        };
        let io = Self {
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
        };
        Ok((io, is_alt))
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
