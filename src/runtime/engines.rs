//! TensorRT engines built once: the cache folder of a model's engines is keyed by what the
//! engine depends on — the model's content, the TensorRT version, the GPU and the precision — so
//! a changed model, a driver/TensorRT upgrade or another GPU never loads a stale engine (ONNX
//! Runtime's own cache key misses such changes: onnxruntime issues #16889, #18272). Explicit
//! optimization profiles cover the batch sizes in use, so no shape builds a new engine mid-stream.
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Precision TensorRT may use for the engine's layers (inputs and outputs stay float32).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, glib::Enum, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[repr(u32)]
#[enum_type(name = "GstSapiensPrecision")]
pub enum Precision {
    /// float32 everywhere: the reference the others are checked against.
    #[default]
    #[enum_value(name = "float32 (the reference)", nick = "fp32")]
    Fp32,
    /// float16 where TensorRT finds it faster.
    #[enum_value(name = "float16 where faster", nick = "fp16")]
    Fp16,
    /// bfloat16 where TensorRT supports it (Ampere and later): Sapiens2 is trained in bf16.
    #[enum_value(
        name = "bfloat16 where supported (Sapiens2 is trained in bf16)",
        nick = "bf16"
    )]
    Bf16,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
            Self::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a built engine depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineKey {
    /// BLAKE3 of the model file and its external weights (`<file>.data`), hex.
    pub model: String,
    /// TensorRT's version, e.g. `10.9.0`.
    pub tensorrt: String,
    /// The GPU's name as the CUDA driver reports it, e.g. `NVIDIA H100 80GB HBM3`.
    pub gpu: String,
    pub precision: Precision,
    /// The optimization profile's batch sizes (min, opt, max).
    pub batches: (usize, usize, usize),
}

impl EngineKey {
    /// The cache folder's name: readable parts, and a hash of them all (so that names which only
    /// differ in characters cleaned away stay apart).
    pub fn folder(&self) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let (min, opt, max) = self.batches;
        let mut h = blake3::Hasher::new();
        for part in [
            self.model.as_str(),
            self.tensorrt.as_str(),
            self.gpu.as_str(),
            self.precision.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        h.update(format!("{min},{opt},{max}").as_bytes());
        format!(
            "{}-trt{}-{}-{}-b{min}.{opt}.{max}-{}",
            &self.model[..self.model.len().min(16)],
            clean(&self.tensorrt),
            clean(&self.gpu),
            self.precision,
            &h.finalize().to_hex()[..8]
        )
    }
}

/// BLAKE3 of `path` and, when present, its external weights `path.data` (how the export scripts
/// write models over 2 GB), hex.
pub fn model_hash(path: &Path) -> Result<String> {
    let mut h = blake3::Hasher::new();
    let data = PathBuf::from(format!("{}.data", path.display()));
    for p in [path, data.as_path()] {
        if p != path && !p.is_file() {
            continue;
        }
        let mut f = std::fs::File::open(p).map_err(|e| Error::ModelLoad {
            path: p.to_owned(),
            msg: format!("cannot read it to key the engine cache: {e}"),
        })?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::ModelLoad {
                path: p.to_owned(),
                msg: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.update(&[0xff]);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// The optimization profile ONNX Runtime's TensorRT provider takes for input `input` with item
/// shape `item` (`[3, H, W]`): `(min, opt, max)` shape strings such as `input:1x3x1024x768`.
pub fn profile_shapes(input: &str, item: &[usize], batches: (usize, usize, usize)) -> [String; 3] {
    let dims: Vec<String> = item.iter().map(usize::to_string).collect();
    let shape = |b: usize| format!("{input}:{b}x{}", dims.join("x"));
    [shape(batches.0), shape(batches.1), shape(batches.2)]
}

/// The profile's batch sizes for an element that runs up to `batch_size` items a run (the flip
/// test doubles them) and a configured largest batch `max` (0: the batch size): min 1, opt the
/// batch size, max the larger.
pub fn profile_batches(batch_size: usize, max: usize) -> (usize, usize, usize) {
    let opt = batch_size.max(1);
    (1, opt, max.max(opt))
}

/// The name of CUDA device `ordinal` from the driver (`libcuda.so.1`), `None` without a driver
/// or device.
pub fn gpu_name(ordinal: i32) -> Option<String> {
    type CuInit = unsafe extern "C" fn(u32) -> i32;
    type CuDeviceGet = unsafe extern "C" fn(*mut i32, i32) -> i32;
    type CuDeviceGetName = unsafe extern "C" fn(*mut std::ffi::c_char, i32, i32) -> i32;
    // SAFETY: loading the CUDA driver runs its initializers, which have no preconditions.
    let lib = unsafe { libloading::Library::new("libcuda.so.1") }.ok()?;
    // SAFETY: the symbols have the CUDA driver API's C signatures declared above; the buffer
    // passed to cuDeviceGetName is as long as the length given.
    unsafe {
        let init: libloading::Symbol<'_, CuInit> = lib.get(b"cuInit\0").ok()?;
        let get: libloading::Symbol<'_, CuDeviceGet> = lib.get(b"cuDeviceGet\0").ok()?;
        let name: libloading::Symbol<'_, CuDeviceGetName> = lib.get(b"cuDeviceGetName\0").ok()?;
        if init(0) != 0 {
            return None;
        }
        let mut dev = 0;
        if get(&mut dev, ordinal) != 0 {
            return None;
        }
        let mut buf = [0 as std::ffi::c_char; 256];
        if name(buf.as_mut_ptr(), buf.len() as i32, dev) != 0 {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// TensorRT's version from `libnvinfer` (10, then 8), `None` when it is not installed.
pub fn tensorrt_version() -> Option<String> {
    type GetVersion = unsafe extern "C" fn() -> i32;
    for name in ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"] {
        // SAFETY: loading TensorRT runs its initializers, which have no preconditions.
        let Ok(lib) = (unsafe { libloading::Library::new(name) }) else {
            continue;
        };
        // SAFETY: `getInferLibVersion` takes nothing and returns an int (NvInfer.h).
        let v = unsafe {
            let f: libloading::Symbol<'_, GetVersion> = lib.get(b"getInferLibVersion\0").ok()?;
            f()
        };
        return Some(version_string(v));
    }
    None
}

/// `getInferLibVersion`'s integer as `major.minor.patch` (TensorRT 10: `major*10000 +
/// minor*100 + patch`; 8: `major*1000 + minor*100 + patch`).
pub fn version_string(v: i32) -> String {
    if v >= 100_000 {
        format!("{}.{}.{}", v / 10_000, v / 100 % 100, v % 100)
    } else {
        format!("{}.{}.{}", v / 1000, v / 100 % 10, v % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> EngineKey {
        EngineKey {
            model: "a3f1".repeat(16),
            tensorrt: "10.9.0".into(),
            gpu: "NVIDIA H100 80GB HBM3".into(),
            precision: Precision::Fp16,
            batches: (1, 4, 8),
        }
    }

    #[test]
    fn the_cache_folder_changes_with_model_tensorrt_gpu_precision_and_profile() {
        let base = key();
        let f = base.folder();
        assert!(
            f.starts_with("a3f1a3f1a3f1a3f1-trt10.9.0-NVIDIA-H100-80GB-HBM3-fp16-b1.4.8-"),
            "{f}"
        );
        assert_eq!(f, key().folder(), "the same inputs give the same folder");
        let changed = [
            EngineKey {
                model: "b".repeat(64),
                ..key()
            },
            EngineKey {
                tensorrt: "10.9.1".into(),
                ..key()
            },
            EngineKey {
                gpu: "NVIDIA H200".into(),
                ..key()
            },
            EngineKey {
                precision: Precision::Bf16,
                ..key()
            },
            EngineKey {
                precision: Precision::Fp32,
                ..key()
            },
            EngineKey {
                batches: (1, 8, 8),
                ..key()
            },
            // Differs only in characters the readable part cleans away: the hash keeps them apart.
            EngineKey {
                gpu: "NVIDIA H100 80GB_HBM3".into(),
                ..key()
            },
        ];
        for c in &changed {
            assert_ne!(c.folder(), f, "{c:?}");
        }
        let all: std::collections::HashSet<String> =
            changed.iter().map(EngineKey::folder).collect();
        assert_eq!(all.len(), changed.len());
    }

    #[test]
    fn the_model_hash_covers_the_external_weights() {
        let dir = std::env::temp_dir().join(format!("sapiens-engines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("m.onnx");
        std::fs::write(&model, b"graph").unwrap();
        let alone = model_hash(&model).unwrap();
        assert_eq!(alone.len(), 64);
        std::fs::write(dir.join("m.onnx.data"), b"weights 1").unwrap();
        let with1 = model_hash(&model).unwrap();
        std::fs::write(dir.join("m.onnx.data"), b"weights 2").unwrap();
        let with2 = model_hash(&model).unwrap();
        assert!(alone != with1 && with1 != with2, "new weights, new key");
        std::fs::write(&model, b"graph2").unwrap();
        assert_ne!(model_hash(&model).unwrap(), with2, "a new graph, a new key");
        let e = model_hash(&dir.join("missing.onnx"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.onnx"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn profiles_cover_one_to_the_largest_batch() {
        assert_eq!(profile_batches(4, 0), (1, 4, 4));
        assert_eq!(profile_batches(4, 16), (1, 4, 16));
        assert_eq!(profile_batches(0, 0), (1, 1, 1));
        assert_eq!(
            profile_shapes("input", &[3, 1024, 768], (1, 4, 8)),
            [
                "input:1x3x1024x768".to_string(),
                "input:4x3x1024x768".into(),
                "input:8x3x1024x768".into()
            ]
        );
    }

    #[test]
    fn tensorrt_version_integers_read_as_their_releases() {
        assert_eq!(version_string(100_900), "10.9.0");
        assert_eq!(version_string(101_302), "10.13.2");
        assert_eq!(version_string(8_601), "8.6.1");
    }
}
