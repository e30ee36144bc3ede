//! Records, at build time, where `make setup` put the ONNX Runtime library, so the plugin and the
//! CLI find it without `ORT_DYLIB_PATH` (which still wins when set).
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
}
