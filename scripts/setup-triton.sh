#!/usr/bin/env bash
# .venv-triton: Triton Inference Server 2.51 (PyPI nvidia-pytriton, its `tritonserver` binary and
# Python backend) with ONNX Runtime, for tests/it/triton.rs and `make bench-triton`. Made with
# Debian's /usr/bin/python3: pytriton's backend stub fails under other interpreters (pyenv's
# 3.11.7 breaks inside it). ~450 MB, about a minute to install. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-triton/bin/python ]; then
  /usr/bin/python3 -m venv .venv-triton
fi
if ! .venv-triton/bin/python -c "import pytriton, onnxruntime, numpy" 2>/dev/null; then
  echo "setup-triton: installing scripts/requirements-triton.txt into .venv-triton"
  .venv-triton/bin/pip install -q --disable-pip-version-check -r scripts/requirements-triton.txt
fi
echo "setup-triton: ok"
