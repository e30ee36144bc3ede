//! `sapiens build-engines`: builds (or checks) the TensorRT engines of configs ahead of time, for
//! the batch sizes the elements will use, into the keyed cache the elements read
//! ([`crate::runtime::engines`]), so that a pipeline's first frames are not minutes late.
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::error::Result;
use crate::runtime::engines::{self, Precision};
use crate::runtime::{ModelSession, ProviderChoice};

#[derive(Debug, clap::Args)]
pub struct BuildEnginesArgs {
    /// Model configs (paths, or shipped configs' names).
    #[arg(long, num_args = 1.., required = true)]
    pub configs: Vec<PathBuf>,
    /// The elements' batch-size (the profile's optimum).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub batch_size: u32,
    /// The profile's largest batch (trt-max-batch; default: the batch size).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub max_batch: u32,
    /// Precision [default: each config's, else fp32].
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// CUDA device.
    #[arg(long, default_value_t = 0)]
    pub device_id: i32,
    /// Engine cache [default: the configs', else <user cache dir>/sapiens-stream/tensorrt].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn build_engines(args: &BuildEnginesArgs) -> Result<()> {
    for c in &args.configs {
        // Found as given or by name in the data folders (the error lists where it looked).
        let config = Config::load(c)?;
        let path = config.source.clone();
        let mut opts = config.runtime_options();
        opts.provider = ProviderChoice::Tensorrt;
        opts.device_id = args.device_id;
        opts.batch_size = args.batch_size as usize;
        opts.trt_max_batch = args.max_batch as usize;
        if let Some(p) = args.precision {
            opts.precision = p;
        }
        if let Some(d) = &args.cache_dir {
            opts.trt_engine_cache_dir = Some(d.clone());
        }
        let (min, opt, max) = engines::profile_batches(opts.batch_size, opts.trt_max_batch);
        let bar = indicatif::ProgressBar::new_spinner().with_message(format!(
            "{}: TensorRT {} engines for batches {min}..{max} (optimum {opt}); the first build takes minutes",
            path.display(),
            opts.precision
        ));
        bar.enable_steady_tick(Duration::from_millis(200));
        let result = ModelSession::load(&config.model.path, &opts).and_then(|session| {
            let mut batches = vec![min, opt, max];
            batches.dedup();
            session.warm_up(&batches).map(|t| (session, t))
        });
        bar.finish_and_clear();
        let (session, took) = result?;
        println!(
            "{}: {} engines ready in {:.1} s ({} on device {}; cache {})",
            path.display(),
            session.provider(),
            took.as_secs_f64(),
            opts.precision,
            opts.device_id,
            opts.engine_cache_dir().display()
        );
    }
    Ok(())
}
