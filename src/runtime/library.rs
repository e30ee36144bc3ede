//! Finding and loading the ONNX Runtime shared library, once per process.
use std::path::PathBuf;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Error, Result};

/// Path recorded by `make setup` at build time (empty when set-up did not run).
const RECORDED: &str = env!("SAPIENS_ORT_DYLIB_RECORDED");

const FIX: &str = "set ORT_DYLIB_PATH to libonnxruntime.so.1.32.0 from the PyPI wheel `onnxruntime` \
(pip install onnxruntime==1.32.0; the file is onnxruntime/capi/libonnxruntime.so.1.32.0), \
or run `make setup` and rebuild";

/// Which library file to load: `ORT_DYLIB_PATH` if set, else the recorded set-up path.
pub fn dylib_path() -> Result<PathBuf> {
    let path = match std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None if !RECORDED.is_empty() => PathBuf::from(RECORDED),
        None => {
            return Err(Error::RuntimeLibrary(format!(
                "no library configured: {FIX}"
            )));
        }
    };
    if !path.is_file() {
        return Err(Error::RuntimeLibrary(format!(
            "{} does not exist: {FIX}",
            path.display()
        )));
    }
    Ok(path)
}

/// The process-wide ONNX Runtime environment. The first call loads the library; a missing or
/// incompatible library is an error (returned to every caller), never a panic.
pub fn environment() -> Result<Environment> {
    static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = dylib_path().map_err(|e| match e {
            Error::RuntimeLibrary(msg) => msg,
            other => other.to_string(),
        })?;
        let builder = ort::init_from(&path).map_err(|e| format!("{e}: {FIX}"))?;
        let env = builder
            .with_name("sapiens-stream")
            .build()
            .map_err(|e| format!("{}: cannot create an environment: {e}", path.display()))?;
        tracing::info!(library = %path.display(), "ONNX Runtime loaded");
        Ok(env)
    })
    .clone()
    .map_err(Error::RuntimeLibrary)
}
