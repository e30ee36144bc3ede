#!/usr/bin/env bash
# What the GPU validation kit needs on a GPU machine that has no network and takes at most
# 64 MiB per call (the device tool: its working tree and carried paths together), packed here
# into parts that travel one call at a time, and unpacked there.
#
#   scripts/gpu-bundle.sh pack [--python 3.12] [--bin DIR] [--wheel FILE] [--no-rust] [--fast]
#       here, with the network: .gpu-bundle/MANIFEST and .gpu-bundle/part-NN (48 MiB each at most):
#       - PyPI onnxruntime-gpu $ORT_GPU_VERSION (CUDA 13, cuDNN 9: the CUDA libraries the GPU
#         machine's PyTorch ships), unpacked as the site folder the kit imports it from, and whose
#         libonnxruntime.so the Rust side loads (--wheel: a wheel file to pack instead);
#       - the release build (--bin DIR, default target/release: `sapiens` and libgstsapiens.so),
#         the shared libraries it needs beyond glibc and libstdc++ (GStreamer 1.22, OpenCV 4.6,
#         ...), the GStreamer plugins `sapiens bench` uses and their scanner, and a 1080p MJPEG
#         clip (the GPU machine has no GStreamer or OpenCV of its own);
#       one xz stream (--fast: xz -1, for tests) split into parts.
#   scripts/gpu-bundle.sh device [kit flags]
#       there, in every call: keeps the parts this call carried (sha256 checked against the
#       MANIFEST) in $GPU_BUNDLE_HOME (/var/tmp/sapiens-gpu-bundle: outlives a call while the
#       machine is held), says which parts are still missing; once all are there, unpacks them
#       and runs scripts/gpu-validate.sh with the kit flags, the CUDA libraries found beside
#       PyTorch, and the report copied to $OUT (the device tool's folder) when it is set.
#
# The device calls (README, "GPU validation on a lent machine"): one per part, each carrying
# .gpu-bundle/MANIFEST and that part, back to back (the machine stays held 30 s after a call).
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_GPU_VERSION=1.31.1
BUNDLE=${GPU_BUNDLE_DIR:-.gpu-bundle}
PART_SIZE=48M
HOME_DIR=${GPU_BUNDLE_HOME:-/var/tmp/sapiens-gpu-bundle}
PLUGINS=(coreelements typefindfunctions playback app videoconvertscale avi jpeg isomp4)
# Present on any glibc system the binaries could run on (newer is compatible); not packed.
BASE_LIBS='^(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+)\.so'

die() { echo "gpu-bundle: $*" >&2; exit 1; }

pack() {
  local python=3.12 bin=target/release wheel="" rust=1 level=-9
  while (($#)); do
    case "$1" in
      --python) python=${2:?--python needs a version}; shift ;;
      --bin) bin=${2:?--bin needs a folder}; shift ;;
      --wheel) wheel=${2:?--wheel needs a file}; shift ;;
      --no-rust) rust=0 ;;
      --fast) level=-1 ;;
      *) die "unknown flag $1 (pack [--python X.Y] [--bin DIR] [--wheel FILE] [--no-rust] [--fast])" ;;
    esac
    shift
  done
  stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bundle.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/site" "$stage/dl"
  if [ -z "$wheel" ]; then
    local py=${python//./}
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version "$python" --implementation cp --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 -d "$stage/dl" \
      "onnxruntime-gpu==$ORT_GPU_VERSION" || die "cannot download onnxruntime-gpu==$ORT_GPU_VERSION for cp$py"
    wheel=$(ls "$stage"/dl/*.whl)
  fi
  [ -f "$wheel" ] || die "no wheel at $wheel"
  # A wheel is a zip of the site folder's files: unpacked, it is what pip --target would make.
  python3 -m zipfile -e "$wheel" "$stage/site" || die "$wheel is not a wheel"
  [ -d "$stage/site/onnxruntime/capi" ] || die "$wheel holds no onnxruntime/capi"
  echo "$(basename "$wheel")" > "$stage/wheel"

  if [ "$rust" = 1 ]; then
    for f in sapiens libgstsapiens.so; do
      [ -f "$bin/$f" ] || die "$bin/$f missing: cargo build --release --workspace (or --bin DIR, or --no-rust)"
    done
    local r=$stage/rust pluginsdir scanner
    pluginsdir=$(pkg-config --variable=pluginsdir gstreamer-1.0) || die "pkg-config finds no gstreamer-1.0"
    scanner=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner
    mkdir -p "$r/bin" "$r/lib" "$r/gst-plugins" "$r/libexec"
    cp "$bin/sapiens" "$r/bin/sapiens.bin"
    cp "$bin/libgstsapiens.so" "$r/gst-plugins/"
    for p in "${PLUGINS[@]}"; do
      cp "$pluginsdir/libgst$p.so" "$r/gst-plugins/" || die "GStreamer plugin $p missing here"
    done
    cp "$scanner" "$r/libexec/" || die "no gst-plugin-scanner at $scanner"
    # Every shared library the binaries and plugins load (ldd: the whole closure), but glibc's
    # and the C++ runtime.
    rust_ldd "$r" | awk '$3 ~ /^\// {print $1, $3}' | sort -u | grep -v -E "$BASE_LIBS" \
      | while read -r name path; do cp -L "$path" "$r/lib/$name"; done
    if ldd "$r/bin/sapiens.bin" | grep -q "not found"; then die "$bin/sapiens has unresolved libraries here"; fi
    gst-launch-1.0 -q videotestsrc num-buffers=64 pattern=ball ! \
      video/x-raw,width=1920,height=1080,framerate=30/1 ! jpegenc quality=85 ! avimux ! \
      filesink location="$r/clip-1080p.avi" || die "cannot make the 1080p clip (gst-launch-1.0, jpegenc)"
  fi
  rm -rf "$stage/dl" "$BUNDLE"
  mkdir -p "$BUNDLE"
  tar -C "$stage" -cf - . | xz -T0 "$level" | split -b "$PART_SIZE" -d -a 2 - "$BUNDLE/part-"
  local parts=("$BUNDLE"/part-*)
  {
    echo "# sapiens-stream GPU bundle: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "wheel $(cat "$stage/wheel")"
    echo "rust $rust"
    echo "parts ${#parts[@]}"
    (cd "$BUNDLE" && sha256sum part-*)
  } > "$BUNDLE/MANIFEST"
  du -sh "$BUNDLE"
  echo "device calls, back to back, each: scripts/gpu-bundle.sh device [--quick|--real-size]"
  for p in "${parts[@]}"; do echo "  carry: $BUNDLE/MANIFEST $p"; done
}

# ldd's "soname => path" lines for the Rust side packed under $1 (binary, plugins, scanner).
rust_ldd() {
  ldd "$1"/bin/sapiens.bin "$1"/gst-plugins/*.so "$1"/libexec/gst-plugin-scanner | awk '$2 == "=>"'
}

# The folders holding the CUDA libraries of the Python packages named nvidia-* (PyTorch's).
cuda_lib_dirs() {
  "${PYTHON:-python3}" - <<'PY' 2>/dev/null || true
import glob, os
try:
    import nvidia
except ImportError:
    raise SystemExit
dirs = {os.path.dirname(f) for p in nvidia.__path__ for f in glob.glob(os.path.join(p, "**", "lib*.so*"), recursive=True)}
print(":".join(sorted(dirs)))
PY
}

device() {
  [ -f "$BUNDLE/MANIFEST" ] || die "$BUNDLE/MANIFEST was not carried: carry it with every part"
  mkdir -p "$HOME_DIR/parts"
  cp "$BUNDLE/MANIFEST" "$HOME_DIR/MANIFEST.new"
  if [ -f "$HOME_DIR/MANIFEST" ] && ! cmp -s "$HOME_DIR/MANIFEST" "$HOME_DIR/MANIFEST.new"; then
    echo "gpu-bundle: a different bundle was packed since the last call: starting over"
    rm -rf "$HOME_DIR/parts" "$HOME_DIR/root"
    mkdir -p "$HOME_DIR/parts"
  fi
  mv "$HOME_DIR/MANIFEST.new" "$HOME_DIR/MANIFEST"
  for p in "$BUNDLE"/part-*; do
    [ -f "$p" ] || continue
    local name want
    name=$(basename "$p")
    want=$(awk -v n="$name" 'NF == 2 && $2 == n {print $1}' "$HOME_DIR/MANIFEST")
    [ -n "$want" ] || die "$name is not in the MANIFEST carried with it"
    [ "$(sha256sum < "$p" | cut -d' ' -f1)" = "$want" ] || die "$name arrived damaged (sha256 differs)"
    cp "$p" "$HOME_DIR/parts/$name"
    echo "gpu-bundle: received $name"
  done
  local missing=()
  for name in $(awk 'NF == 2 && length($1) == 64 {print $2}' "$HOME_DIR/MANIFEST"); do
    [ -f "$HOME_DIR/parts/$name" ] || missing+=("$name")
  done
  if ((${#missing[@]})); then
    echo "gpu-bundle: still missing ${missing[*]} (carry each with the MANIFEST in the next calls)"
    return 0
  fi
  local root=$HOME_DIR/root
  if [ ! -f "$root/.complete" ]; then
    rm -rf "$root" && mkdir -p "$root"
    cat "$HOME_DIR"/parts/part-* | xz -d | tar -C "$root" -xf - || die "cannot unpack the parts"
    touch "$root/.complete"
  fi
  local cuda
  cuda=$(cuda_lib_dirs)
  echo "gpu-bundle: CUDA libraries from ${cuda:-nowhere (no nvidia-* Python packages found)}"
  export PYTHONPATH=$root/site${PYTHONPATH:+:$PYTHONPATH}
  export LD_LIBRARY_PATH=${cuda}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PYTHON=${PYTHON:-python3}
  if [ -x "$root/rust/bin/sapiens.bin" ]; then
    # The Rust side with its own libraries and GStreamer plugins, kept out of Python's way.
    cat > "$root/rust/bin/sapiens" <<SH
#!/bin/sh
export LD_LIBRARY_PATH="$root/rust/lib:\$LD_LIBRARY_PATH"
export GST_PLUGIN_SYSTEM_PATH_1_0="$root/rust/gst-plugins" GST_PLUGIN_PATH_1_0=""
export GST_PLUGIN_SCANNER_1_0="$root/rust/libexec/gst-plugin-scanner" GST_REGISTRY_1_0="$root/rust/registry.bin"
exec "$root/rust/bin/sapiens.bin" "\$@"
SH
    chmod +x "$root/rust/bin/sapiens"
    local outside
    outside=$(LD_LIBRARY_PATH="$root/rust/lib" rust_ldd "$root/rust" \
      | awk -v lib="$root/rust/lib/" 'index($3, lib) != 1 {print $1 ($3 == "not" ? " (not found)" : "")}' \
      | { grep -v -E "$BASE_LIBS" || true; } | sort -u | tr '\n' ' ')
    echo "gpu-bundle: libraries the Rust side takes from this machine: ${outside:-none (all packed)}"
    export SAPIENS_BIN=$root/rust/bin/sapiens GPU_VALIDATE_CLIP=$root/rust/clip-1080p.avi
  fi
  local status=0
  scripts/gpu-validate.sh "$@" || status=$?
  if [ -n "${OUT:-}" ]; then
    local from=${GPU_VALIDATE_OUT:-out/gpu-validate}
    cp "$from/report.md" "$from/python.json" "$OUT/" 2>/dev/null || true
  fi
  return $status
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  device) shift; device "$@" ;;
  *) die "usage: scripts/gpu-bundle.sh pack [flags] | device [kit flags]" ;;
esac
