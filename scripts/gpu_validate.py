"""GPU validation kit (scripts/gpu-validate.sh runs it): one report of what the accelerator path
does on this machine, with ONNX Runtime's own Python API (no network needed, nothing built).

  1. providers: what this ONNX Runtime offers, the GPU, TensorRT's version;
  2. agreement: each provider and precision (CUDA fp32, TensorRT fp32/fp16/bf16) against ONNX
     Runtime on the CPU in fp32, per model: max |difference| over the output's range, and for
     pose the share of keypoints whose heatmap argmax is the same pixel; tolerances stated;
  3. throughput and latency of the bare session at batch 1 and 8 per provider, with and without
     IO binding (the input uploaded once and the output left on the device: what fewer copies
     can win), the pose model decoding in its graph (281 KB out per person, not 60.5 MB), and
     the pixel form (scripts/preprocess_graph.py: a 1080p BGRx frame, 8.3 MB, uploaded for all
     its crops instead of 9.4 MB of floats per crop; crops cut on the device);
  4. GPU utilization sampled with nvidia-smi while each timed run goes.
Rows that cannot run here say why (no CUDA provider, no TensorRT, no GPU) instead of failing.

    python scripts/gpu_validate.py --models M1.onnx [M2.onnx ...] --out out/gpu-validate.json
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime as ort

# Largest allowed max|diff| / output range against CPU fp32, per precision; and the least share
# of pose keypoints (argmax pixel) that must agree.
TOLERANCE = {"fp32": 1e-3, "fp16": 3e-2, "bf16": 6e-2}
ARGMAX_AGREEMENT = {"fp32": 0.99, "fp16": 0.90, "bf16": 0.85}


def gpu_name():
    if not shutil.which("nvidia-smi"):
        return None
    r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                       capture_output=True, text=True)
    return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None


def tensorrt_version():
    try:
        import tensorrt  # noqa: F401

        return tensorrt.__version__
    except Exception:
        pass
    import ctypes

    for name in ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"]:
        try:
            v = ctypes.CDLL(name).getInferLibVersion()
            return f"{v // 10000}.{v // 100 % 100}.{v % 100}" if v >= 100000 else f"{v // 1000}.{v // 100 % 10}.{v % 100}"
        except OSError:
            continue
    return None


class Utilization:
    """Samples nvidia-smi's utilization.gpu every 100 ms while in a `with` block."""

    def __init__(self):
        self.samples, self.stop = [], threading.Event()

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self.thread = threading.Thread(target=self.run, daemon=True)
            self.thread.start()
        return self

    def run(self):
        while not self.stop.is_set():
            r = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True)
            try:
                self.samples.append(float(r.stdout.split()[0]))
            except (ValueError, IndexError):
                pass
            self.stop.wait(0.1)

    def __exit__(self, *exc):
        self.stop.set()

    def mean(self):
        return round(float(np.mean(self.samples)), 1) if self.samples else None


def variants(cache):
    """(name, precision, providers) to compare; TensorRT engines cached under `cache`."""
    trt = lambda p: ("TensorrtExecutionProvider", {
        "trt_engine_cache_enable": "True", "trt_engine_cache_path": os.path.join(cache, p),
        "trt_timing_cache_enable": "True", "trt_timing_cache_path": os.path.join(cache, p),
        "trt_fp16_enable": str(p == "fp16"), "trt_bf16_enable": str(p == "bf16"),
        "trt_max_workspace_size": str(8 << 30)})
    return [
        ("cpu", "fp32", ["CPUExecutionProvider"]),
        ("cuda", "fp32", [("CUDAExecutionProvider", {}), "CPUExecutionProvider"]),
        # Nodes TensorRT does not take (float64: the pixel form's warp) run on CUDA, as in the
        # Rust sessions.
        ("tensorrt", "fp32", [trt("fp32"), ("CUDAExecutionProvider", {}), "CPUExecutionProvider"]),
        ("tensorrt", "fp16", [trt("fp16"), ("CUDAExecutionProvider", {}), "CPUExecutionProvider"]),
        ("tensorrt", "bf16", [trt("bf16"), ("CUDAExecutionProvider", {}), "CPUExecutionProvider"]),
    ]


def session(model, providers, threads):
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    names = [p if isinstance(p, str) else p[0] for p in providers]
    missing = [n for n in names if n not in ort.get_available_providers()]
    if missing:
        return None, f"{missing[0]} is not in this ONNX Runtime (install onnxruntime-gpu)"
    try:
        s = ort.InferenceSession(model, opts, providers=providers)
    except Exception as e:  # an engine that fails to build, a GPU that is not there
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    if s.get_providers()[0] != names[0]:
        return None, f"{names[0]} did not take the model (runs on {s.get_providers()[0]})"
    return s, None


def agreement(ref, out, pose):
    rng = float(ref.max() - ref.min()) or 1.0
    r = {"max_abs_diff": float(np.abs(out - ref).max()), "relative": float(np.abs(out - ref).max()) / rng}
    if pose and ref.ndim == 4:
        n, k = ref.shape[:2]
        a = ref.reshape(n, k, -1).argmax(axis=2)
        b = out.reshape(n, k, -1).argmax(axis=2)
        r["argmax_agreement"] = float((a == b).mean())
    return r


def feeder(s):
    """batch -> the inputs of one run: random crops [batch,3,H,W], or for a pixel-form model
    (inputs frames, affine, frame_index) one random 1080p BGRx frame and `batch` crop maps."""
    rng = np.random.default_rng(0)
    names = [i.name for i in s.get_inputs()]
    if "frames" not in names:
        i = s.get_inputs()[0]
        x = rng.standard_normal([1] + [d if isinstance(d, int) else 1 for d in i.shape[1:]]).astype(np.float32)
        return lambda b: {i.name: np.ascontiguousarray(np.repeat(x, b, axis=0))}
    frame = rng.integers(0, 256, (1, 1080, 1920, 4), dtype=np.uint8)

    def feeds(b):
        # Person boxes 600x800 px across the frame, each mapped onto the 768x1024 crop.
        maps = []
        for k in range(b):
            x0, y0 = 100 + 150 * k % 1200, 100 + 40 * k % 180
            maps.append([[767 / 600, 0, -767 / 600 * x0], [0, 1023 / 800, -1023 / 800 * y0]])
        return {"frames": frame, "affine": np.array(maps, np.float64), "frame_index": np.zeros(b, np.int64)}
    return feeds


def timed(s, feeds, batch, runs, io_binding):
    """p50/p95 latency (ms) and items/s of `runs` runs at `batch`."""
    xb = feeds(batch)
    lat = []
    if io_binding:
        binding = s.io_binding()
        for name, v in xb.items():
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(v, "cuda", 0))
        for o in s.get_outputs():
            binding.bind_output(o.name, "cuda", 0)
        s.run_with_iobinding(binding)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            s.run_with_iobinding(binding)
            binding.synchronize_outputs()
            lat.append((time.perf_counter() - t) * 1e3)
    else:
        s.run(None, xb)
        for _ in range(runs):
            t = time.perf_counter()
            s.run(None, xb)
            lat.append((time.perf_counter() - t) * 1e3)
    p50, p95 = np.percentile(lat, [50, 95])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
            "items_per_s": round(batch * 1e3 / float(np.mean(lat)), 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--out", default="out/gpu-validate.json")
    ap.add_argument("--cache", default="out/gpu-validate-trt-cache")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=0, help="CPU intra-op threads (0: ONNX Runtime's choice)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    report = {"providers": ort.get_available_providers(), "onnxruntime": ort.__version__,
              "gpu": gpu_name(), "tensorrt": tensorrt_version(), "models": {}}
    print(f"ONNX Runtime {ort.__version__}: providers {report['providers']}")
    print(f"GPU: {report['gpu'] or 'none found (nvidia-smi)'}; TensorRT: {report['tensorrt'] or 'not found'}")
    for model in args.models:
        name = os.path.basename(model)
        s0, why = session(model, ["CPUExecutionProvider"], args.threads)
        feeds = feeder(s0)
        pose = "pose" in name and "decoded" not in name
        ref = s0.run(None, feeds(1))[0]
        rows = {}
        for prov, prec, providers in variants(args.cache):
            key = f"{prov} {prec}"
            s, why = (s0, None) if prov == "cpu" else session(model, providers, args.threads)
            if s is None:
                rows[key] = {"skipped": why}
                print(f"{name} | {key}: not run: {why}")
                continue
            row = {}
            if prov != "cpu":
                out = s.run(None, feeds(1))[0]
                row["agreement"] = agreement(ref, out, pose)
                tol = TOLERANCE[prec]
                ok = row["agreement"]["relative"] <= tol and row["agreement"].get("argmax_agreement", 1.0) >= ARGMAX_AGREEMENT[prec]
                row["agreement"].update(tolerance=tol, ok=bool(ok))
            row["timing"] = {}
            for b in batches:
                for io in ([False, True] if prov != "cpu" else [False]):
                    with Utilization() as u:
                        t = timed(s, feeds, b, args.runs if prov != "cpu" else max(2, args.runs // 10), io)
                    t["gpu_util_pct"] = u.mean() if prov != "cpu" else None
                    row["timing"][f"batch {b}{' iobinding' if io else ''}"] = t
            rows[key] = row
            a = row.get("agreement")
            print(f"{name} | {key}: " + (f"rel diff {a['relative']:.2e} (tol {a['tolerance']}), " if a else "")
                  + ", ".join(f"{k}: {v['p50_ms']} ms p50, {v['items_per_s']}/s" for k, v in row["timing"].items()))
        report["models"][name] = rows
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    # The one table.
    print("\n| model | provider | precision | rel. diff vs CPU (tol) | argmax agree | batch | p50 ms | items/s | p50 ms, IO binding | GPU util % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name, rows in report["models"].items():
        for key, row in rows.items():
            prov, prec = key.split()
            if "skipped" in row:
                print(f"| {name} | {prov} | {prec} | not run: {row['skipped']} | | | | | | |")
                continue
            a = row.get("agreement")
            diff = f"{a['relative']:.1e} ({a['tolerance']:g}) {'ok' if a['ok'] else 'FAIL'}" if a else "reference"
            failed |= bool(a) and not a["ok"]
            agree = f"{a['argmax_agreement']:.3f}" if a and "argmax_agreement" in a else ""
            for b in batches:
                t = row["timing"][f"batch {b}"]
                tio = row["timing"].get(f"batch {b} iobinding", {})
                print(f"| {name} | {prov} | {prec} | {diff} | {agree} | {b} | {t['p50_ms']} | {t['items_per_s']} | "
                      f"{tio.get('p50_ms', '')} | {tio.get('gpu_util_pct') or t.get('gpu_util_pct') or ''} |")
    print(f"\nwrote {args.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
