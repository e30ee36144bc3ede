#!/usr/bin/env python3
"""Exports an official Sapiens (v1) checkpoint to ONNX for sapiens-stream.

Meta ships three forms (SAPIENS.md section 5); each is taken as it is:
- `*_torchscript.pt2` (huggingface.co/facebook/sapiens-{task}-{size}-torchscript): a TorchScript
  trace despite the extension, fp32, traced at batch 1 on a 1x3x1024x768 input; loaded with
  torch.jit.load and exported as traced.
- `*_bfloat16.pt2` (…-bfloat16): a torch.export ExportedProgram in bf16 with a dynamic batch;
  its weights (the official module names) are read, widened to float32 and loaded into the
  network rebuilt from the official code (scripts/sapiens_v1_arch.py): the exported graph itself
  was made on a GPU for torch.compile, and a float32 ONNX from bf16 weights loses nothing more.
- the original `.pth` (huggingface.co/facebook/sapiens-{task}-{size}, mmengine's
  {'meta', 'state_dict'}): its state dict loads into that same network; the task and size come
  from the tensor names and shapes, every tensor must find its place and every parameter must be
  filled, or the script stops naming them.

All hold the backbone and the head only: normalization and RGB order are the caller's job, which
the configs describe. This script:

1. loads the checkpoint on the CPU (the form is read from the file, not its name),
2. exports it with torch.onnx.export (opset 17, input `input` float32 [batch,3,1024,768],
   output `heatmaps` / `logits` / `depth` / `normal` by task, batch dynamic unless --batch N),
   weights in one `.data` file beside the graph (the 1B and 2B models pass protobuf's 2 GB),
3. checks the ONNX file with onnx.checker and compares ONNX Runtime's output with PyTorch's (the
   loaded TorchScript, or the rebuilt network) on one random input (max abs difference, and
   relative to the output's largest value; fails above --tolerance); for a bf16 file it also
   reports the difference from the bf16 program itself run on the CPU (--bf16-check),
4. with --fp16, also writes OUTPUT-fp16.onnx (fp16 weights and compute, float32 input and output,
   onnxconverter-common) and reports its difference from the fp32 model.

Usage:
  pip install -r scripts/requirements-export.txt
  scripts/export_sapiens.py CHECKPOINT.pt2|.pth models/sapiens_0.3b_pose_goliath308.onnx --task pose [--fp16]

Proven by `make test-export` on checkpoints of the real 0.3B architecture with random weights in
each of the three forms (tests/export/v1_torchscript.py); not yet run on an official file (none
can be fetched here).
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
    ap.add_argument("checkpoint", help="official *_torchscript.pt2, *_bfloat16.pt2 or original .pth file")
    ap.add_argument("output", help="ONNX file to write (weights go to OUTPUT.data)")
    ap.add_argument("--task", choices=sorted(OUTPUT_NAMES), required=True)
    ap.add_argument("--batch", default="dynamic", help="'dynamic' (default) or a fixed batch size")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--fp16", action="store_true", help="also write OUTPUT-fp16.onnx")
    ap.add_argument("--tolerance", type=float, default=1e-3,
                    help="largest max-abs difference ONNX Runtime vs PyTorch (the loaded TorchScript or the rebuilt network), relative to the output's max abs")
    ap.add_argument("--report", help="write the figures as JSON here")
    ap.add_argument("--bf16-check", action="store_true",
                    help="bf16 file: also run the bf16 program on the CPU and report its difference (slow)")
    ap.add_argument("--trust-pickle", action="store_true",
                    help=".pth holding more than tensors (mmengine's message hub, optimizer): unpickle it "
                         "whole; only for a file from a source you trust (pickle runs code)")
    add_decode_flag(ap)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit("torch is needed: pip install -r scripts/requirements-export.txt")
    from export_common import compare, fp16_copy, run_onnx, save_with_data, write_decoded

    form, model, bf16_program = load(args.checkpoint, args.trust_pickle)
    if getattr(model, "task", args.task) != args.task:
        sys.exit(f"{args.checkpoint}: holds a Sapiens {model.task} network, not --task {args.task}")
    print(f"loaded {args.checkpoint}: {form}" + (f", Sapiens v1 {model.size} {model.task}" if hasattr(model, "size") else ""))
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
    report = dict(result, task=args.task, form=form, params=params, export_s=round(export_s, 1))
    if bf16_program is not None and args.bf16_check:
        with torch.no_grad():
            ref16 = bf16_program(x.to(torch.bfloat16))
        ref16 = (ref16[0] if isinstance(ref16, (tuple, list)) else ref16).float().numpy()
        print("vs the bf16 program on the CPU:")
        report["vs_bf16_program"] = compare([out_name], [ref16], got)[out_name]
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


def checkpoint_form(path):
    """'torchscript', 'exported' (torch.export) or 'state_dict' (torch.save), read from the archive."""
    import zipfile

    if not os.path.isfile(path):
        sys.exit(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        return "state_dict"  # torch.save's legacy (pre-1.6) format is a plain pickle
    names = zipfile.ZipFile(path).namelist()
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any("serialized_exported_program" in n or n.split("/", 1)[-1].startswith("models/") for n in names):
        return "exported"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "state_dict"
    sys.exit(f"{path}: a zip archive but not a TorchScript, torch.export or torch.save file")


def load(path, trust_pickle=False):
    """(form, float32 module on the CPU, the bf16 program or None) of an official checkpoint."""
    import pickle

    import torch

    from sapiens_v1_arch import load_original, state_dict_of

    form = checkpoint_form(path)
    try:
        if form == "torchscript":
            return form, torch.jit.load(path, map_location="cpu").eval(), None
        if form == "exported":
            program = torch.export.load(path)
            sd = {k.removeprefix("model."): v.detach().cpu() for k, v in program.state_dict.items()}
            return "exported (" + ", ".join(sorted({str(v.dtype).removeprefix("torch.") for v in sd.values()})) + ")", \
                load_original(sd), program.module()
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
        except pickle.UnpicklingError as e:
            sys.exit(f"{path}: holds objects besides tensors ({str(e).splitlines()[0]}); if the file comes "
                     "from a source you trust (e.g. facebook's own repository), pass --trust-pickle")
        return form, load_original(state_dict_of(ckpt)), None
    except ValueError as e:
        sys.exit(f"{path}: {e}")
    except RuntimeError as e:
        sys.exit(f"{path}: torch cannot read it as {form}: {e}")


if __name__ == "__main__":
    main()
