//! Sessions shared by name (`model-instance`): several elements of one process (e.g. one per
//! camera branch) naming the same instance use one loaded model instead of one copy each.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use super::{ModelSession, RuntimeOptions};
use crate::error::{Error, Result};

type Registry = HashMap<String, (PathBuf, RuntimeOptions, Weak<ModelSession>)>;

static INSTANCES: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// The session named `instance`: the live one when it exists (it must be the same model with the
/// same options), else a newly loaded one. It is unloaded when the last element drops it.
pub fn session(instance: &str, path: &Path, opts: &RuntimeOptions) -> Result<Arc<ModelSession>> {
    let mut reg = INSTANCES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((loaded_path, loaded_opts, weak)) = reg.get(instance)
        && let Some(session) = weak.upgrade()
    {
        if loaded_path != path || loaded_opts != opts {
            return Err(Error::Invalid(format!(
                "model-instance '{instance}' is already loaded from {} ({loaded_opts:?}); this element asks for {} ({opts:?})",
                loaded_path.display(),
                path.display()
            )));
        }
        return Ok(session);
    }
    let session = Arc::new(ModelSession::load(path, opts)?);
    reg.insert(
        instance.to_owned(),
        (path.to_owned(), opts.clone(), Arc::downgrade(&session)),
    );
    Ok(session)
}
