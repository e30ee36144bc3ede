#!/usr/bin/env bash
# `make test-export` set-up: .venv-export, a venv over Debian's /usr/bin/python3 (its PyGObject,
# for pushing frames through the elements) with scripts/requirements-export.txt (torch,
# Transformers, ONNX, ONNX Runtime; several GB, hence not part of `make setup`) and the
# `sapiens_stream` package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-export/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv-export
fi
if ! .venv-export/bin/python -c "import torch, transformers, onnxscript, onnxconverter_common, cv2; transformers.Sapiens2Config" 2>/dev/null; then
  echo "setup-export: installing scripts/requirements-export.txt into .venv-export (torch: several GB)"
  .venv-export/bin/pip install -q --disable-pip-version-check -r scripts/requirements-export.txt
fi
.venv-export/bin/pip install -q --disable-pip-version-check ./python
rm -rf python/build python/*.egg-info
echo "setup-export: ok ($(.venv-export/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
