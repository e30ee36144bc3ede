//! Records, at build time, where `make setup` put the ONNX Runtime library, so the plugin and the
//! CLI find it without `ORT_DYLIB_PATH` (which still wins when set), and where `make install` puts
//! the data folder.
use std::path::Path;

fn main() {
    let recorded = Path::new(".sapiens/ort-dylib-path");
    println!("cargo:rerun-if-changed=.sapiens/ort-dylib-path");
    println!("cargo:rerun-if-env-changed=SAPIENS_ORT_DYLIB");
    let path = std::env::var("SAPIENS_ORT_DYLIB")
        .ok()
        .or_else(|| std::fs::read_to_string(recorded).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=SAPIENS_ORT_DYLIB_RECORDED={path}");
    // `make install` records where it puts configs and models (src/datadir.rs).
    println!("cargo:rerun-if-env-changed=SAPIENS_DATADIR");
    let datadir = std::env::var("SAPIENS_DATADIR").unwrap_or_default();
    println!("cargo:rustc-env=SAPIENS_DATADIR_RECORDED={datadir}");
}
