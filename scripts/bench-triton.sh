#!/usr/bin/env bash
# Local session vs Triton on loopback, same model and frames, one run (`make bench-triton`):
# starts tests/triton/serve.py (Triton 2.51 from .venv-triton, ONNX Runtime on CPU, INSTANCES
# model instances of THREADS intra-op threads) for CONFIG's model under the config's name, then
# `sapiens bench --triton`. Figures: out/bench-triton.json.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/pose-tiny-coco17.toml}
FRAMES=${FRAMES:-40}
INSTANCES=${INSTANCES:-2}
THREADS=${THREADS:-1}
name=$(basename "$CONFIG" .toml)
model=$(.venv/bin/python -c "import tomllib,os,sys; c=tomllib.load(open(sys.argv[1],'rb')); print(os.path.normpath(os.path.join(os.path.dirname(sys.argv[1]), c['model']['path'])))" "$CONFIG")
port=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
mkdir -p out
log=out/bench-triton-server.log
workspace="${TMPDIR:-/tmp}/sapiens-bench-triton-$port"
setsid .venv-triton/bin/python tests/triton/serve.py --grpc-port "$port" --workspace "$workspace" \
  --http-port 0 --metrics-port 0 --instances "$INSTANCES" --threads "$THREADS" \
  --model "$name=$model" >"$log" 2>&1 &
server=$!
trap 'kill -KILL -- -$server 2>/dev/null || true; rm -rf "$workspace"' EXIT
for _ in $(seq 120); do grep -q READY "$log" && break; sleep 1; done
grep -q READY "$log" || { echo "bench-triton: server not ready (see $log)" >&2; exit 1; }
./target/release/sapiens bench --config "$CONFIG" --frames "$FRAMES" --intra-op-threads "$THREADS" \
  --triton "grpc://127.0.0.1:$port" --json out/bench-triton.json
