#!/usr/bin/env bash
# GPU validation kit: what the accelerator path does on this machine, as one report
# (out/gpu-validate/). Runs with no network. Needs, on the GPU machine:
#   - python3 with numpy, onnx and onnxruntime-gpu (PYTHON=...; its libonnxruntime.so is also what
#     the Rust side loads), CUDA 12 and cuDNN 9 runtime libraries, TensorRT 10 (libnvinfer) for
#     the TensorRT rows — each row that cannot run says why;
#   - this checkout (scripts/, tests/models/), and for the element rows the release build
#     (target/release/sapiens + libgstsapiens.so, or SAPIENS_BIN=.../sapiens with the plugin
#     beside it) with GStreamer 1.22 and OpenCV 4.6 libraries.
# Steps:
#   1. models: the tiny 308-keypoint model and its decoded-in-graph copy (committed); with
#      --real-size also the real v1 0.3B pose architecture (random weights, 1.3 GB, generated
#      here with numpy: scripts/gen_test_models.py --real-size) and its decoded copy;
#   2. scripts/gpu_validate.py: providers; CPU vs CUDA vs TensorRT fp32/fp16/bf16 agreement
#      (tolerances stated); bare-session throughput and latency at batch 1 and 8, with and
#      without IO binding; GPU utilization;
#      The pixel-form copy of each pose model (crops cut in the graph from frame bytes) too;
#   3. the Rust side: `sapiens build-engines` (keyed engine cache, profiles, warm-up) and
#      `sapiens bench` sequential vs pipelined on a 1080p clip, per provider, batch 1 and 8,
#      crops made on the CPU vs the pixel form.
# On a GPU machine with none of this installed (the device tool's), scripts/gpu-bundle.sh carries
# and sets up all of it, then runs this script (GPU_VALIDATE_CLIP: a ready 1080p clip).
# Usage: scripts/gpu-validate.sh [--real-size] [--quick]   (--quick: few runs, tiny model only)
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${GPU_VALIDATE_OUT:-out/gpu-validate}
REAL=0; RUNS=20
for a in "$@"; do
  case "$a" in
    --real-size) REAL=1 ;;
    --quick) RUNS=3 ;;
    *) echo "gpu-validate: unknown flag $a" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
exec > >(tee "$OUT/report.md") 2>&1
echo "# sapiens-stream GPU validation, $(date -u +%Y-%m-%dT%H:%MZ), $(hostname)"
"$PYTHON" -c "import numpy, onnx, onnxruntime" 2>/dev/null \
  || { echo "gpu-validate: $PYTHON lacks numpy, onnx or onnxruntime(-gpu)"; exit 1; }
ORT_LIB=$("$PYTHON" -c "import onnxruntime, os, glob; d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); print((sorted(glob.glob(d + '/libonnxruntime.so*')) or [''])[-1])")
echo "ONNX Runtime library: ${ORT_LIB:-not found}"

models=(tests/models/sapiens_tiny_pose_goliath308.onnx tests/models/sapiens_tiny_pose_goliath308_decoded.onnx)
if [ "$REAL" = 1 ]; then
  real=models/sapiens_0.3b_pose_goliath308_random.onnx
  if [ ! -f "$real" ]; then
    echo "generating $real (real v1 0.3B architecture, random weights)"
    "$PYTHON" scripts/gen_test_models.py --real-size 0.3b "$real" || exit 1
  fi
  dec=${real%.onnx}-decoded.onnx
  [ -f "$dec" ] || "$PYTHON" -c "import sys; sys.path.insert(0, 'scripts'); from export_common import decoded_copy; import numpy as np; from export_common import run_onnx; x = np.random.default_rng(0).standard_normal((1, 3, 1024, 768)).astype(np.float32); decoded_copy('$real', '$dec', x, run_onnx('$real', ['heatmaps'], x)[0])" || exit 1
  models+=("$real" "$dec")
fi

# Pixel-form copies (scripts/preprocess_graph.py: the crop warp in the graph, frame bytes in),
# also of the decoded models (frame bytes in, keypoint values out); `pixels M` adds M's copy to
# the models and names it in $made.
pixels() { made="$OUT/$(basename "${1%.onnx}")-pixels.onnx"
  [ -f "$made" ] || "$PYTHON" scripts/preprocess_graph.py prepend tests/models/pose_warp_bgrx.onnx "$1" "$made" >/dev/null \
    || { echo "gpu-validate: cannot make $made"; exit 1; }
  models+=("$made"); }
pixels tests/models/sapiens_tiny_pose_goliath308.onnx; tiny_pixels=$made
pixels tests/models/sapiens_tiny_pose_goliath308_decoded.onnx
[ "$REAL" = 1 ] && { pixels "$real"; real_pixels=$made; pixels "$dec"; }

echo; echo "## ONNX Runtime in Python: agreement, bare-session throughput"
"$PYTHON" scripts/gpu_validate.py --models "${models[@]}" --runs "$RUNS" --out "$OUT/python.json" --cache "$OUT/trt-cache"
status=$?

echo; echo "## The Rust side: engine cache, warm-up, elements"
bin=${SAPIENS_BIN:-target/release/sapiens}
if [ ! -x "$bin" ]; then
  echo "not run: $bin missing (cargo build --release --workspace)"
elif ! missing=$(ldd "$bin" | grep "not found"; true) || [ -n "$missing" ]; then
  echo "not run: $bin cannot start here: $(echo "$missing" | awk '{print $1}' | tr '\n' ' ')"
else
  export ORT_DYLIB_PATH="$ORT_LIB" GST_PLUGIN_PATH=$(cd "$(dirname "$bin")" && pwd)
  cfg=configs/pose-tiny-goliath308.toml px_model=$tiny_pixels
  [ "$REAL" = 1 ] && { sed "s|^path = .*|path = \"$PWD/$real\"|" configs/pose-0.3b-goliath-random.toml > "$OUT/pose-0.3b.toml"; cfg=$OUT/pose-0.3b.toml; px_model=$real_pixels; }
  px_cfg=$OUT/pose-pixels.toml
  sed "s|^path = .*|path = \"$(cd "$(dirname "$px_model")" && pwd)/$(basename "$px_model")\"|" "$cfg" > "$px_cfg"
  for b in 1 8; do
    echo "### build-engines, batch $b"
    "$bin" build-engines --configs "$cfg" --batch-size "$b" --cache-dir "$OUT/engines" 2>&1 | sed 's/^/    /'
    echo "### build-engines again (must load the cached engines: seconds, not minutes)"
    "$bin" build-engines --configs "$cfg" --batch-size "$b" --cache-dir "$OUT/engines" 2>&1 | sed 's/^/    /'
  done
  clip=${GPU_VALIDATE_CLIP:-$OUT/clip-1080p.mp4}
  [ -f "$clip" ] || gst-launch-1.0 -q videotestsrc num-buffers=64 pattern=ball ! video/x-raw,width=1920,height=1080,framerate=30/1 \
    ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$clip" >/dev/null 2>&1 \
    || echo "(no 1080p clip: gst-launch-1.0 / x264enc missing; using data/vtest.avi)"
  [ -f "$clip" ] || clip=data/vtest.avi
  for p in cpu cuda tensorrt; do
    for b in 1 8; do
      for form in crops pixels; do
        c=$cfg; [ "$form" = pixels ] && c=$px_cfg
        echo "### sapiens bench: $p, batch-size $b, $form, $clip"
        "$bin" bench -c "$c" --input "$clip" --frames $((RUNS * 2)) --execution-provider "$p" --batch-size "$b" \
          --json "$OUT/bench-$p-b$b-$form.json" 2>&1 | grep -E "^\||provider|rror" | sed 's/^/    /'
      done
    done
  done
fi
echo; echo "report: $OUT/report.md, $OUT/python.json"
exit $status
