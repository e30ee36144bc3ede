#!/usr/bin/env python3
"""Exports an official Sapiens (v1) TorchScript checkpoint to ONNX for sapiens-stream.

Meta ships `*_torchscript.pt2` files (TorchScript traces despite the extension, fp32, traced at
batch 1 on a 1x3x1024x768 input; SAPIENS.md section 5), from
https://huggingface.co/facebook/sapiens-pose-0.3b-torchscript and its siblings. They hold the
backbone and the head only: normalization and RGB order are the caller's job, which the configs
describe. This script:

1. loads the checkpoint with torch.jit.load on the CPU,
2. exports it with torch.onnx.export (opset 17, input `input` float32 [batch,3,1024,768],
   output `heatmaps` / `logits` / `depth` / `normal` by task, batch dynamic unless --batch N),
   weights in one `.data` file beside the graph (the 1B and 2B models pass protobuf's 2 GB),
3. checks the ONNX file with onnx.checker and compares ONNX Runtime's output with TorchScript's
   on one random input (max abs difference, and relative to the output's largest value; fails
   above --tolerance),
4. with --fp16, also writes OUTPUT-fp16.onnx (fp16 weights and compute, float32 input and output,
   onnxconverter-common) and reports its difference from the fp32 model.

Usage:
  pip install -r scripts/requirements-export.txt
  scripts/export_sapiens.py CHECKPOINT.pt2 models/sapiens_0.3b_pose_goliath308.onnx --task pose [--fp16]

Proven by `make test-export` on TorchScript checkpoints of the real 0.3B architecture with random
weights (tests/export/); not yet run on an official checkpoint (none can be fetched here).
"""
import argparse
import json
import os
import sys
import time

from export_common import add_decode_flag

OUTPUT_NAMES = {"pose": "heatmaps", "seg": "logits", "depth": "depth", "normal": "normal"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="official *_torchscript.pt2 file")
    ap.add_argument("output", help="ONNX file to write (weights go to OUTPUT.data)")
    ap.add_argument("--task", choices=sorted(OUTPUT_NAMES), required=True)
    ap.add_argument("--batch", default="dynamic", help="'dynamic' (default) or a fixed batch size")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--fp16", action="store_true", help="also write OUTPUT-fp16.onnx")
    ap.add_argument("--tolerance", type=float, default=1e-3,
                    help="largest max-abs difference ONNX Runtime vs TorchScript, relative to the output's max abs")
    ap.add_argument("--report", help="write the figures as JSON here")
    add_decode_flag(ap)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit("torch is needed: pip install -r scripts/requirements-export.txt")
    from export_common import compare, fp16_copy, run_onnx, save_with_data, write_decoded

    model = torch.jit.load(args.checkpoint, map_location="cpu").eval()
    params = sum(p.numel() for p in model.parameters())
    batch = 1 if args.batch == "dynamic" else int(args.batch)
    x = torch.randn(batch, 3, args.height, args.width)
    out_name = OUTPUT_NAMES[args.task]
    dynamic = {"input": {0: "batch"}, out_name: {0: "batch"}} if args.batch == "dynamic" else None
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp.onnx"
    t0 = time.time()
    with torch.no_grad():
        reference = model(x)
        if isinstance(reference, (tuple, list)):
            reference = reference[0]
        torch.onnx.export(model, (x,), tmp, input_names=["input"], output_names=[out_name],
                          dynamic_axes=dynamic, opset_version=args.opset, dynamo=False)
    save_with_data(tmp, args.output, f"Sapiens {args.task} from {os.path.basename(args.checkpoint)}; "
                                     "exported by sapiens-stream scripts/export_sapiens.py")
    export_s = time.time() - t0
    print(f"wrote {args.output}: output '{out_name}' {tuple(reference.shape)}, {params / 1e9:.3f} B parameters")
    got = run_onnx(args.output, [out_name], x.numpy())
    result = compare([out_name], [reference.numpy()], got)[out_name]
    report = dict(result, task=args.task, params=params, export_s=round(export_s, 1))
    if args.fp16:
        out16 = os.path.splitext(args.output)[0] + "-fp16.onnx"
        report["fp16"] = fp16_copy(args.output, out16, [out_name], x.numpy(), got)[out_name]
        print(f"wrote {out16} (fp16 weights and compute, float32 input and output)")
    decoded = write_decoded(args, x.numpy(), got[0])
    if decoded:
        report["decoded"] = decoded
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    if result["relative"] > args.tolerance or not result["same_shape"]:
        sys.exit("the exported model does not reproduce the checkpoint")
    print(f"config: [model] path = \"{args.output}\"  (input {args.height}x{args.width}, output '{out_name}')")


if __name__ == "__main__":
    main()
