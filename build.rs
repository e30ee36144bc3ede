//! Records, at build time, where `make setup` put the ONNX Runtime library, so the plugin and the
//! CLI find it without `ORT_DYLIB_PATH` (which still wins when set), and where `make install` puts
//! the data folder; and generates the KServe v2 gRPC client (`proto/kserve_v2.proto`) with the
//! `protoc` that `protoc-bin-vendored` ships (no system protobuf compiler needed).
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
    // The Triton / KServe v2 client (src/runtime/triton).
    println!("cargo:rerun-if-changed=proto/kserve_v2.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .expect("protoc-bin-vendored has a protoc for this platform");
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure()
        .build_server(false)
        .bytes(".inference.ModelInferRequest.raw_input_contents")
        .bytes(".inference.ModelInferResponse.raw_output_contents")
        .compile_protos(&["proto/kserve_v2.proto"], &["proto"])
        .expect("compiling proto/kserve_v2.proto");
}
