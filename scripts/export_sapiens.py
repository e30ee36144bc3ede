#!/usr/bin/env python3
"""Exports an official Sapiens TorchScript checkpoint to ONNX for sapiens-stream.

Meta ships `*_torchscript.pt2` files (TorchScript traces despite the extension, fp32, traced at
batch 1 on a 1x3x1024x768 input; SAPIENS.md section 5), from
https://huggingface.co/facebook/sapiens-pose-0.3b-torchscript and its siblings. They hold the
backbone and the head only: normalization and RGB order are the caller's job, which the configs
describe. This script:

1. loads the checkpoint with torch.jit.load on the CPU,
2. exports it with torch.onnx.export (opset 17, input `input` float32 [batch,3,1024,768],
   output `heatmaps` / `logits` / `depth` / `normal` by task, batch dynamic unless --batch N),
   with external data for models over 2 GB,
3. checks the ONNX file with onnx.checker and compares ONNX Runtime's output with TorchScript's
   on one random input (prints the max abs difference),
4. prints the config section to put beside it (configs/pose-0.3b-goliath.toml already expects
   models/sapiens_0.3b_pose_goliath308.onnx).

Usage:
  pip install torch --index-url https://download.pytorch.org/whl/cpu   # CPU torch is enough
  scripts/export_sapiens.py CHECKPOINT.pt2 models/sapiens_0.3b_pose_goliath308.onnx --task pose

Status: written against the official export code and the documented checkpoint format; it could
not be run where this repository is developed (no model-hub access, CUDA-only torch).
"""
import argparse
import sys

OUTPUT_NAMES = {"pose": "heatmaps", "seg": "logits", "depth": "depth", "normal": "normal"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="official *_torchscript.pt2 file")
    ap.add_argument("output", help="ONNX file to write")
    ap.add_argument("--task", choices=sorted(OUTPUT_NAMES), required=True)
    ap.add_argument("--batch", default="dynamic", help="'dynamic' (default) or a fixed batch size")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=768)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit("torch is needed: pip install torch --index-url https://download.pytorch.org/whl/cpu")
    import numpy as np
    import onnx

    model = torch.jit.load(args.checkpoint, map_location="cpu").eval()
    batch = 1 if args.batch == "dynamic" else int(args.batch)
    x = torch.randn(batch, 3, args.height, args.width)
    out_name = OUTPUT_NAMES[args.task]
    dynamic = {"input": {0: "batch"}, out_name: {0: "batch"}} if args.batch == "dynamic" else None
    with torch.no_grad():
        reference = model(x)
        if isinstance(reference, (tuple, list)):
            reference = reference[0]
        torch.onnx.export(
            model,
            (x,),
            args.output,
            input_names=["input"],
            output_names=[out_name],
            dynamic_axes=dynamic,
            opset_version=args.opset,
            dynamo=False,
        )
    onnx.checker.check_model(args.output)  # path form: works with external data
    print(f"wrote {args.output}: output '{out_name}' {tuple(reference.shape)}")

    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipped the numerical check")
        return
    sess = ort.InferenceSession(args.output, providers=["CPUExecutionProvider"])
    got = sess.run([out_name], {"input": x.numpy()})[0]
    diff = float(np.abs(got - reference.numpy()).max())
    print(f"ONNX Runtime vs TorchScript, max abs difference: {diff:.3e}")
    if diff > 1e-2:
        sys.exit("the exported model does not reproduce the checkpoint")
    print(f"config: [model] path = \"{args.output}\"  (input {args.height}x{args.width}, output '{out_name}')")


if __name__ == "__main__":
    main()
