//! Where installed data lives, and how a config named on the command line or in an element
//! property is found.
//!
//! `make install` (and the Debian package) put the configs under `<datadir>/configs/` and the
//! models the shipped configs name under `<datadir>/models/`; the build records `<datadir>`
//! (`SAPIENS_DATADIR` at build time). `SAPIENS_STREAM_DATADIR` overrides it at run time.
use std::path::{Path, PathBuf};

/// Data folder recorded at build time by `make install` (empty for a build-tree build).
const RECORDED: &str = env!("SAPIENS_DATADIR_RECORDED");

/// Data folders to search, in order: `SAPIENS_STREAM_DATADIR`, then the one recorded at install.
pub fn data_dirs() -> Vec<PathBuf> {
    let env = std::env::var_os("SAPIENS_STREAM_DATADIR").filter(|p| !p.is_empty());
    env.map(PathBuf::from)
        .into_iter()
        .chain((!RECORDED.is_empty()).then(|| PathBuf::from(RECORDED)))
        .collect()
}

/// The folder `sapiens models` lists by default: `./configs` in a build tree, else the installed
/// one.
pub fn default_config_dir() -> PathBuf {
    let local = PathBuf::from("configs");
    if local.is_dir() {
        return local;
    }
    data_dirs()
        .into_iter()
        .map(|d| d.join("configs"))
        .find(|d| d.is_dir())
        .unwrap_or(local)
}

/// Every place `name` may refer to, in the order they are tried: the path as given; then, for a
/// relative path, the same path under each data folder and, for a bare file name, under its
/// `configs/` and under `./configs/` (a name without an extension also gets `.toml`).
pub fn config_candidates(name: &Path, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![name.to_owned()];
    if name.is_absolute() {
        return out;
    }
    let with_ext = name.with_extension("toml");
    let bare = name.components().count() == 1;
    let mut names = vec![name.to_owned()];
    if name.extension().is_none() {
        names.push(with_ext);
    }
    for dir in dirs {
        for n in &names {
            out.push(dir.join(n));
            if bare {
                out.push(dir.join("configs").join(n));
            }
        }
    }
    if bare {
        out.extend(names.iter().map(|n| Path::new("configs").join(n)));
    }
    out.dedup();
    out
}

/// The first existing file among [`config_candidates`]; `Err` lists where it looked.
pub fn resolve_config(name: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates = config_candidates(name, &data_dirs());
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(candidates),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_in_order() {
        let dirs = [PathBuf::from("/usr/share/sapiens-stream")];
        let c = config_candidates(Path::new("pose-tiny-coco17"), &dirs);
        let want: Vec<PathBuf> = [
            "pose-tiny-coco17",
            "/usr/share/sapiens-stream/pose-tiny-coco17",
            "/usr/share/sapiens-stream/configs/pose-tiny-coco17",
            "/usr/share/sapiens-stream/pose-tiny-coco17.toml",
            "/usr/share/sapiens-stream/configs/pose-tiny-coco17.toml",
            "configs/pose-tiny-coco17",
            "configs/pose-tiny-coco17.toml",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(c, want);
        // A path with folders keeps them; an absolute path is only itself.
        let c = config_candidates(Path::new("configs/seg-tiny.toml"), &dirs);
        assert_eq!(
            c,
            [
                PathBuf::from("configs/seg-tiny.toml"),
                PathBuf::from("/usr/share/sapiens-stream/configs/seg-tiny.toml")
            ]
        );
        assert_eq!(
            config_candidates(Path::new("/etc/x.toml"), &dirs),
            [PathBuf::from("/etc/x.toml")]
        );
    }

    #[test]
    fn resolves_under_a_data_dir() {
        let d = std::env::temp_dir().join(format!("sapiens-datadir-{}", std::process::id()));
        std::fs::create_dir_all(d.join("configs")).unwrap();
        std::fs::write(d.join("configs/x-y.toml"), "").unwrap();
        let c = config_candidates(Path::new("x-y"), std::slice::from_ref(&d));
        let found = c.iter().find(|p| p.is_file()).unwrap();
        assert_eq!(found, &d.join("configs/x-y.toml"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
