#!/usr/bin/env python3
"""Checks scripts/export_sapiens2.py's renaming of Meta's checkpoint names against Meta's own
code: the original Sapiens2 backbone and task heads (from a checkout of facebookresearch/sapiens2,
given as the argument; its registry import is stubbed) get random weights, their state dicts are
renamed by `original_to_transformers` and loaded into the Transformers models, and the outputs
must agree: the backbone's feature map (original RoPE in fp32; with upstream's bf16 RoPE the
difference is the RoPE precision) and each head's output on one feature map.

Usage: .venv-export/bin/python tests/export/check_original_names.py PATH/TO/sapiens2 [--size 0.4b]
Needs no weights; about 4 minutes on 2 cores (here: backbone 1.1e-6 with fp32 RoPE, 1.06e-3 with
bf16; every head 0.0).
"""
import argparse
import importlib.util
import json
import os
import sys
import types

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import export_sapiens2 as e2  # noqa: E402


def original_module(repo, rel):
    """Executes one of the checkout's files as a module (the registry stubbed)."""
    reg = types.ModuleType("sapiens.registry")

    class Models:
        def register_module(self, *a, **k):
            return lambda c: c

        def build(self, cfg):
            return torch.nn.Identity()  # losses: unused at inference

    reg.MODELS = Models()
    sys.modules.setdefault("sapiens", types.ModuleType("sapiens"))
    sys.modules["sapiens.registry"] = reg
    src = open(os.path.join(repo, rel)).read().replace(
        "from ...evaluators.keypoints308_evaluator import pose_pck_accuracy", "pose_pck_accuracy = None")
    ns = {"__name__": "original_" + os.path.basename(rel)[:-3]}
    exec(compile(src, rel, "exec"), ns)
    return ns


def relative(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", help="checkout of github.com/facebookresearch/sapiens2")
    ap.add_argument("--size", default="0.4b", choices=sorted(e2.SIZES))
    args = ap.parse_args()
    c = e2.SIZES[args.size][0]
    report = {"backbone": {}, "heads": {}}

    backbone = original_module(args.repo, "sapiens/backbones/standalone/sapiens2.py")["Sapiens2"]
    for rope in ["fp32", "bf16"]:
        torch.manual_seed(0)
        ob = backbone(arch=f"sapiens2_{args.size}", img_size=(1024, 768), out_type="featmap",
                      pos_embed_rope_dtype=rope).eval()
        with torch.no_grad():  # layer scales of order 1 (the init is 1e-4): every block counts
            for n, p in ob.named_parameters():
                if n.endswith("gamma.weight"):
                    p.uniform_(0.5, 1.5)
        state = e2.original_to_transformers({"backbone." + k: v for k, v in ob.state_dict().items()})
        hf = e2.build("pose", args.size, None)
        missing, unexpected = hf.load_state_dict(state, strict=False)
        assert not unexpected and all(m.startswith("decode_head.") for m in missing), (missing, unexpected)
        x = torch.randn(1, 3, 1024, 768)
        with torch.no_grad():
            a = ob(x)[0]
            tokens = hf.model(pixel_values=x).last_hidden_state[:, 1 + hf.config.num_register_tokens:]
            b = tokens.transpose(1, 2).reshape(1, c, 64, 48)
        report["backbone"][rope] = relative(a, b)
        print(f"backbone, original RoPE {rope} vs Transformers (fp32): {report['backbone'][rope]:.3g} of max")

    heads = {
        "pose": ("sapiens/pose/src/models/heads/pose_heatmap_head.py", "PoseHeatmapHead"),
        "seg": ("sapiens/dense/src/models/heads/seg_head.py", "SegHead"),
        "normal": ("sapiens/dense/src/models/heads/normal_head.py", "NormalHead"),
        "pointmap": ("sapiens/dense/src/models/heads/pointmap_head.py", "PointmapHead"),
    }
    for task, (rel, name) in heads.items():
        cfg, labels = e2.head_config(task, args.size)
        if task in ("pose", "seg"):
            kw = dict(in_channels=c, deconv_out_channels=cfg["upsample_out_channels"],
                      deconv_kernel_sizes=[4] * len(cfg["upsample_out_channels"]),
                      conv_out_channels=cfg["conv_out_channels"], conv_kernel_sizes=[1] * len(cfg["conv_out_channels"]))
            kw.update({"out_channels": labels} if task == "pose" else {"num_classes": labels})
        else:
            kw = dict(in_channels=c, upsample_channels=cfg["upsample_out_channels"],
                      conv_out_channels=cfg["conv_out_channels"], conv_kernel_sizes=cfg["conv_kernel_sizes"])
            if task == "pointmap":
                kw.update(scale_conv_out_channels=cfg["scale_conv_out_channels"], scale_conv_kernel_sizes=[1, 1, 1],
                          scale_final_layer=((64 // 8) * (48 // 8) * cfg["scale_conv_out_channels"][-1],
                                             *cfg["scale_final_hidden_sizes"], 1))
        torch.manual_seed(1)
        oh = original_module(args.repo, rel)[name](**kw).eval()
        with torch.no_grad():
            for p in oh.parameters():
                p.normal_(0, 0.05)
        state = e2.original_to_transformers({"decode_head." + k: v for k, v in oh.state_dict().items()})
        hf = e2.build(task, args.size, None)
        missing, unexpected = hf.load_state_dict(state, strict=False)
        assert not unexpected and all(m.startswith("model.") for m in missing), (missing, unexpected)
        fm = torch.randn(1, c, 64, 48)
        with torch.no_grad():
            a = oh(fm)
            a = list(a) if isinstance(a, tuple) else [a]
            b = [hf.decode_head(fm)] + ([hf.scale_head(fm)] if task == "pointmap" else [])
        report["heads"][task] = max(relative(x, y) for x, y in zip(a, b))
        print(f"{task} head, original vs Transformers after renaming: {report['heads'][task]:.3g} of max")
    print(json.dumps(report))
    ok = report["backbone"]["fp32"] < 1e-4 and all(v < 1e-5 for v in report["heads"].values())
    sys.exit(0 if ok else "the renamed weights do not reproduce the original modules")


if __name__ == "__main__":
    main()
