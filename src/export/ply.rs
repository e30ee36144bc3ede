//! A frame's points as a PLY file (binary little-endian, `float x, y, z` per vertex): what
//! MeshLab, CloudCompare and Open3D read. Background points (NaN) are left out. Files are written
//! to a temporary name and renamed, so a reader never sees half a file.
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes the finite points of `xyz` (x, y, z triples) to `path`; returns how many.
pub fn write_points(path: &Path, xyz: &[f32]) -> Result<usize> {
    let finite: Vec<&[f32]> = xyz
        .chunks_exact(3)
        .filter(|p| p.iter().all(|v| v.is_finite()))
        .collect();
    let err = |e: std::io::Error| Error::Invalid(format!("{}: {e}", path.display()));
    let tmp = path.with_extension("ply.part");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(err)?);
    write!(
        out,
        "ply\nformat binary_little_endian 1.0\ncomment sapiens-stream pointmap (metric)\n\
         element vertex {}\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
        finite.len()
    )
    .map_err(err)?;
    for p in &finite {
        for v in *p {
            out.write_all(&v.to_le_bytes()).map_err(err)?;
        }
    }
    out.into_inner()
        .map_err(|e| err(e.into_error()))?
        .sync_all()
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(finite.len())
}

/// A file name pattern with one `%d` or `%0Nd` (as `multifilesink`'s `location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedPath {
    before: String,
    width: usize,
    after: String,
}

impl NumberedPath {
    /// Parses `pattern`; an error names it when it has no `%d`/`%0Nd` or another `%` field.
    pub fn parse(pattern: &str) -> Result<Self> {
        let bad = || {
            Error::Invalid(format!(
                "'{pattern}': expected one %d or %0Nd for the frame number (e.g. points-%05d.ply)"
            ))
        };
        let (before, rest) = pattern.split_once('%').ok_or_else(bad)?;
        let d = rest.find('d').ok_or_else(bad)?;
        let spec = &rest[..d];
        let width = if spec.is_empty() {
            0
        } else if let Some(w) = spec.strip_prefix('0') {
            w.parse().map_err(|_| bad())?
        } else {
            return Err(bad());
        };
        let after = &rest[d + 1..];
        if after.contains('%') {
            return Err(bad());
        }
        Ok(Self {
            before: before.into(),
            width,
            after: after.into(),
        })
    }

    /// The path of frame `n`.
    pub fn get(&self, n: u64) -> PathBuf {
        PathBuf::from(format!(
            "{}{:0width$}{}",
            self.before,
            n,
            self.after,
            width = self.width
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_paths() {
        let p = NumberedPath::parse("/tmp/pts-%05d.ply").unwrap();
        assert_eq!(p.get(42), PathBuf::from("/tmp/pts-00042.ply"));
        assert_eq!(
            NumberedPath::parse("f%d.ply").unwrap().get(7),
            PathBuf::from("f7.ply")
        );
        for bad in ["points.ply", "a-%s.ply", "a-%5d.ply", "%d-%d.ply"] {
            let e = NumberedPath::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ply_has_the_finite_points_little_endian() {
        let path = std::env::temp_dir().join(format!("sapiens-ply-{}.ply", std::process::id()));
        let xyz = [1.0, 2.0, 3.0, f32::NAN, f32::NAN, f32::NAN, -0.5, 0.25, 4.0];
        assert_eq!(write_points(&path, &xyz).unwrap(), 2);
        let bytes = std::fs::read(&path).unwrap();
        let header_end = b"end_header\n";
        let at = bytes
            .windows(header_end.len())
            .position(|w| w == header_end)
            .unwrap()
            + header_end.len();
        let header = std::str::from_utf8(&bytes[..at]).unwrap();
        assert!(header.contains("element vertex 2\n") && header.contains("binary_little_endian"));
        let body: Vec<f32> = bytes[at..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(body, [1.0, 2.0, 3.0, -0.5, 0.25, 4.0]);
        std::fs::remove_file(&path).unwrap();
    }
}
