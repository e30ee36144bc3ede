//! The `sapiens` command line: `run` (a whole pipeline from a source to a recording), `models`
//! (what the shipped configs point at), `bench`, `triton-repo` (a Triton model repository).
mod bench;
mod build_engines;
mod input;
mod models;
mod progress;
mod recording;
mod restream;
mod run;
mod serve;
mod triton_repo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Real-time Sapiens (pose, seg, depth, normal) on video files, RTSP streams and cameras.
#[derive(Debug, Parser)]
#[command(name = "sapiens", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs heads on a video source and records the annotated result.
    Run(Box<run::RunArgs>),
    /// Runs many cameras from one cameras file, with a REST API, metrics and health checks.
    Serve(serve::ServeArgs),
    /// Throughput of the bare session, the sequential element and the pipelined element.
    Bench(bench::BenchArgs),
    /// Builds the TensorRT engines of configs ahead of time (keyed cache; needs a GPU).
    BuildEngines(build_engines::BuildEnginesArgs),
    /// Writes a Triton model repository (ONNX files + config.pbtxt) from model configs.
    TritonRepo(triton_repo::TritonRepoArgs),
    /// Lists the model configs in a folder, whether their models are present, and the command
    /// that makes each missing one.
    Models {
        /// Folder of config TOMLs [default: ./configs, else the installed configs].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

impl Cli {
    /// Runs the command; the error is printed by `main`.
    pub fn execute(self) -> crate::Result<()> {
        match self.command {
            Command::Run(args) => run::run(&args),
            Command::Serve(args) => serve::serve(&args),
            Command::Bench(args) => bench::bench(&args),
            Command::TritonRepo(args) => triton_repo::triton_repo(&args),
            Command::BuildEngines(args) => build_engines::build_engines(&args),
            Command::Models { dir } => {
                models::list(&dir.unwrap_or_else(crate::datadir::default_config_dir))
            }
        }
    }
}
