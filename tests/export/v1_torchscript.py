#!/usr/bin/env python3
"""Builds a Sapiens v1 checkpoint of the real architecture with random weights in one of the three
forms Meta ships (SAPIENS.md section 5), from the network under the official tensor names
(scripts/sapiens_v1_arch.py):

  torchscript  `*_torchscript.pt2`: torch.jit.trace of backbone + head at batch 1 on a
               1x3x1024x768 input, fp32 (pose/tools/deployment/pytorch2torchscript.py)
  bf16         `*_bfloat16.pt2`: the model cast to bf16, torch.export.export with a dynamic batch
               Dim("batch", 1..48), torch.export.save (pose/tools/deployment/torch_optimization.py)
  pth          the original `.pth`: mmengine's {'meta': ..., 'state_dict': ...}

The same --seed gives the same weights in every form.

Usage: v1_torchscript.py --task pose|seg|depth|normal [--size 0.3b] [--form torchscript|bf16|pth] OUT
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from sapiens_v1_arch import HEADS, SIZES, SapiensV1  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output")
    ap.add_argument("--task", choices=sorted(HEADS), required=True)
    ap.add_argument("--size", choices=sorted(SIZES), default="0.3b")
    ap.add_argument("--form", choices=["torchscript", "bf16", "pth"], default="torchscript")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = SapiensV1(args.task, args.size).eval()
    x = torch.randn(1, 3, 1024, 768)
    with torch.no_grad():
        if args.form == "torchscript":
            torch.jit.trace(model, x).save(args.output)
        elif args.form == "bf16":
            model = model.to(torch.bfloat16)
            batch = torch.export.Dim("batch", min=1, max=48)
            # An example batch of 2: a batch of 1 would be specialized away.
            x2 = torch.randn(2, 3, 1024, 768, dtype=torch.bfloat16)
            program = torch.export.export(model, (x2,), dynamic_shapes={"x": {0: batch}})
            torch.export.save(program, args.output)
        else:
            meta = {"mmengine_version": "0.10.3", "epoch": 210, "seed": args.seed, "experiment_name": "random"}
            torch.save({"meta": meta, "state_dict": model.state_dict()}, args.output)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output}: Sapiens v1 {args.size} {args.task} architecture ({args.form}), "
          f"{params / 1e9:.3f} B parameters, random weights")


if __name__ == "__main__":
    main()
