//! `sapiens models`: the configs of a folder, their heads, whether each model file is there, and
//! for a missing one the command that makes it (the config's `[model] export`).
use std::path::Path;

use crate::config::{Config, Weights};
use crate::error::{Error, Result};

pub fn list(dir: &Path) -> Result<()> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Invalid(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    println!(
        "{:<30} {:<9} {:<19} {:<9} {:<8} description",
        "config", "head", "labels", "weights", "model"
    );
    for p in paths {
        match Config::load(&p) {
            Ok(c) => {
                let labels = match (c.pose(), c.seg()) {
                    (Ok(p), _) => p.keypoint_set.as_str(),
                    (_, Some(s)) => s.classes.as_str(),
                    _ => "-",
                };
                let head = c.head().section().trim_matches(['[', ']']);
                let weights = if c.model.weights == Weights::Untrained {
                    "untrained"
                } else {
                    "trained"
                };
                let present = if c.model.path.is_file() {
                    "present"
                } else {
                    "missing"
                };
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                println!(
                    "{name:<30} {head:<9} {labels:<19} {weights:<9} {present:<8} {}",
                    c.model.description
                );
                if let (false, Some(cmd)) = (c.model.path.is_file(), &c.model.export) {
                    println!("    to make {}: {cmd}", c.model.path.display());
                }
            }
            Err(e) => println!("{}: {e}", p.display()),
        }
    }
    Ok(())
}
