#!/usr/bin/env python3
"""Checks that an original Sapiens v1 `.pth` loads through scripts/export_sapiens.py, against
Meta's own code: the official backbone (mmpretrain VisionTransformer, Sapiens' fork) and each
task head (mmpose HeatmapHead; mmseg VitHead, VitDepthHead, VitNormalHead) are built from a
checkout of facebookresearch/sapiens with the 0.3b configs' arguments, given random weights, and
saved as mmengine does ({'meta', 'state_dict'}, names `backbone.*` and `head.*` /
`decode_head.*`, as TopdownPoseEstimator, EncoderDecoder and DepthEstimator hold them); then
export_sapiens.py exports that file and ONNX Runtime's output must equal the original modules'
output on one random input.

Only the files that define the network are executed (the rest of mmpose/mmseg/mmpretrain, which
needs datasets, losses and codecs, is stubbed). Needs mmengine and mmcv-lite (pure Python):
  .venv-export/bin/pip install mmengine==0.10.7 mmcv-lite==2.2.0

Usage: .venv-export/bin/python tests/export/check_v1_names.py PATH/TO/sapiens [--tasks pose,seg,depth,normal]
Needs no weights; ~3 minutes a task on 2 cores.
"""
import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
from torch import nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# The files that define the network, executed as they are.
REAL = {
    "mmpretrain.registry": "pretrain/mmpretrain/registry.py",
    "mmpretrain.models.backbones.base_backbone": "pretrain/mmpretrain/models/backbones/base_backbone.py",
    "mmpretrain.models.backbones.vision_transformer": "pretrain/mmpretrain/models/backbones/vision_transformer.py",
    **{f"mmpretrain.models.utils.{m}": f"pretrain/mmpretrain/models/utils/{m}.py"
       for m in ["attention", "embed", "helpers", "layer_scale", "norm", "swiglu_ffn"]},
    "mmpose.models.heads.heatmap_heads.heatmap_head": "pose/mmpose/models/heads/heatmap_heads/heatmap_head.py",
    "mmseg.models.decode_heads.decode_head": "seg/mmseg/models/decode_heads/decode_head.py",
    "mmseg.models.decode_heads.vit_head": "seg/mmseg/models/decode_heads/vit_head.py",
    "mmseg.models.decode_heads.vit_depth_head": "seg/mmseg/models/decode_heads/vit_depth_head.py",
    "mmseg.models.decode_heads.vit_normal_head": "seg/mmseg/models/decode_heads/vit_normal_head.py",
}
TOPS = ("mmpretrain", "mmpose", "mmseg")


class Anything:
    """Stands for whatever a stubbed module is asked for: type hints, registries (decorators that
    return the class, `build` that returns a module), helpers the network does not call."""

    def __call__(self, *a, **k):
        return Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Anything()

    def __getitem__(self, item):
        return Anything()

    def register_module(self, *a, **k):
        return lambda c: c

    def build(self, *a, **k):
        return nn.Identity()


class StubModule(types.ModuleType):
    """A package or module of the checkout that is not executed. A package gives the names its
    real `__init__.py` imports from a submodule that is executed (`from ..utils import
    build_norm_layer` must find the one `utils/__init__.py` exports, not a namesake)."""

    exports = {}  # package name -> {name: submodule}, read from the checkout's __init__.py

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "BaseHead":  # mmpose's abstract head base: an mmengine module
            from mmengine.model import BaseModule
            return BaseModule
        sub = self.exports.get(self.__name__, {}).get(name)
        if sub is not None:
            return getattr(importlib.import_module(f"{self.__name__}.{sub}"), name)
        return Anything()


def read_exports(repo):
    """{package: {name: submodule}} for the packages above REAL's files, from `from .sub import
    a, b` in their __init__.py."""
    import ast

    roots = {"mmpretrain": "pretrain/mmpretrain", "mmpose": "pose/mmpose", "mmseg": "seg/mmseg"}
    out = {}
    for pkg in {m.rsplit(".", 1)[0] for m in REAL}:
        top, *rest = pkg.split(".")
        init = os.path.join(repo, roots[top], *rest, "__init__.py")
        if not os.path.isfile(init):
            continue
        names = {}
        for node in ast.parse(open(init).read()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module \
                    and f"{pkg}.{node.module}" in REAL:
                names.update({a.asname or a.name: node.module for a in node.names})
        out[pkg] = names
    return out


class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, repo):
        self.repo = repo

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in TOPS:
            return None
        if name in REAL:
            return importlib.util.spec_from_file_location(name, os.path.join(self.repo, REAL[name]))
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        m = StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def official(task, repo):
    """The official 0.3b network of `task` with random weights, as a module whose state dict has
    the checkpoint's names, and its forward (= `model._forward`)."""
    StubModule.exports = read_exports(repo)
    sys.meta_path.insert(0, Finder(repo))
    import mmcv.cnn  # noqa: F401  (registers LN, GELU, deconv, DropPath into mmengine's registry)
    from mmpretrain.models.backbones.vision_transformer import VisionTransformer

    kw = dict(arch="sapiens_0.3b", img_size=(1024, 768), patch_size=16, qkv_bias=True, final_norm=True,
              drop_path_rate=0.0, with_cls_token=False, out_type="featmap")
    if task in ("pose", "normal"):
        kw["patch_cfg"] = dict(padding=2)
    model = nn.Module()
    model.backbone = VisionTransformer(**kw)
    if task == "pose":
        HeatmapHead = importlib.import_module("mmpose.models.heads.heatmap_heads.heatmap_head").HeatmapHead
        model.head = HeatmapHead(in_channels=1024, out_channels=308, deconv_out_channels=(768, 768),
                                 deconv_kernel_sizes=(4, 4), conv_out_channels=(768, 768),
                                 conv_kernel_sizes=(1, 1), loss=dict(type="KeypointOHKMMSELoss"), decoder=None)
        head = model.head
    else:
        file, cls, ch, deconv, conv, n = {
            "seg": ("vit_head", "VitHead", 768, (768,) * 3, (768,) * 3, 28),
            "depth": ("vit_depth_head", "VitDepthHead", 384, (384,) * 4, (384,) * 2, 1),
            "normal": ("vit_normal_head", "VitNormalHead", 768, (768,) * 3, (768,) * 3, 3),
        }[task]
        cls = getattr(importlib.import_module(f"mmseg.models.decode_heads.{file}"), cls)
        model.decode_head = cls(in_channels=1024, channels=ch, deconv_out_channels=deconv,
                                deconv_kernel_sizes=(4,) * len(deconv), conv_out_channels=conv,
                                conv_kernel_sizes=(1,) * len(conv), num_classes=n, align_corners=False,
                                norm_cfg=dict(type="BN"), loss_decode=dict(type="L1Loss"))
        head = model.decode_head
    with torch.no_grad():  # random weights everywhere, LayerNorm scales and biases included
        for name, p in model.named_parameters():
            scale = name.endswith(".weight") and p.dim() == 1  # LayerNorm scales
            p.copy_(1 + 0.1 * torch.randn_like(p) if scale else 0.02 * torch.randn_like(p))
    model.eval()
    return model, lambda x: head.forward(model.backbone(x))  # both heads take the last of the features


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", help="a checkout of facebookresearch/sapiens")
    ap.add_argument("--tasks", default="pose,seg,depth,normal")
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            torch.manual_seed(0)
            model, forward = official(task, os.path.abspath(args.repo))
            pth = os.path.join(tmp, f"{task}.pth")
            torch.save({"meta": {"mmengine_version": "0.10.7"}, "state_dict": model.state_dict()}, pth)
            out = os.path.join(tmp, f"{task}.onnx")
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_sapiens.py"), pth, out,
                            "--task", task], check=True)
            x = torch.randn(1, 3, 1024, 768)
            with torch.no_grad():
                ref = forward(x).numpy()
            import onnxruntime as ort

            got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
            rel = float(np.abs(got - ref).max() / np.abs(ref).max())
            ok = got.shape == ref.shape and rel <= 1e-4
            print(f"{'ok  ' if ok else 'FAIL'} v1 {task}: {len(model.state_dict())} tensors of the official modules, "
                  f"ONNX from the .pth vs the original forward {rel:.2e} of the output's range, shape {got.shape}")
            if not ok:
                failures.append(task)
            for f in os.listdir(tmp):
                os.remove(os.path.join(tmp, f))
    if failures:
        sys.exit("failed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
