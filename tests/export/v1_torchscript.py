#!/usr/bin/env python3
"""Builds a Sapiens v1 TorchScript checkpoint of the real architecture with random weights, as
Meta's `*_torchscript.pt2` files are (a `torch.jit.trace` of backbone + head at batch 1 on a
1x3x1024x768 input, fp32; SAPIENS.md sections 1, 2 and 5):

  ViT (mmpretrain VisionTransformer): Conv2d(3, C, 16, 16, padding 2 for pose/normal, 0 for
  seg/depth), learned position embedding (1, 3072, C), pre-norm blocks (LayerNorm eps 1e-6,
  fused qkv with bias, scaled_dot_product_attention, proj; Linear(C, 4C) + GELU + Linear), final
  LayerNorm, featmap (B, C, 64, 48); the official heads: ConvTranspose2d(k4, s2, p1, no bias) +
  InstanceNorm2d + SiLU per upsample, 1x1 Conv + InstanceNorm2d + SiLU, final 1x1 conv.

Usage: v1_torchscript.py --task pose|seg|depth|normal --size 0.3b OUT.pt2
"""
import argparse

import torch
from torch import nn

SIZES = {"0.3b": (1024, 24, 16), "0.6b": (1280, 32, 16), "1b": (1536, 40, 24), "2b": (1920, 48, 32)}
# task: (patch padding, deconv channels, conv channels, outputs)
HEADS = {
    "pose": (2, [768, 768], [768, 768], 308),
    "seg": (0, [768, 768, 768], [768, 768, 768], 28),
    "depth": (0, [384] * 4, [384, 384], 1),
    "normal": (2, [768, 768, 768], [768, 768, 768], 3),
}


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(c, eps=1e-6), nn.LayerNorm(c, eps=1e-6)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.ffn = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.ffn(self.ln2(x))


def norm_silu(ch):
    return [nn.InstanceNorm2d(ch), nn.SiLU()]


class SapiensV1(nn.Module):
    def __init__(self, task, size):
        super().__init__()
        c, depth, heads = SIZES[size]
        pad, deconvs, convs, out = HEADS[task]
        self.c = c
        self.patch = nn.Conv2d(3, c, 16, 16, padding=pad)
        self.pos = nn.Parameter(torch.randn(1, 64 * 48, c) * 0.02)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(c, eps=1e-6)
        layers, cin = [], c
        for ch in deconvs:
            layers += [nn.ConvTranspose2d(cin, ch, 4, 2, 1, bias=False)] + norm_silu(ch)
            cin = ch
        for ch in convs:
            layers += [nn.Conv2d(cin, ch, 1)] + norm_silu(ch)
            cin = ch
        layers.append(nn.Conv2d(cin, out, 1))
        self.head = nn.Sequential(*layers)

    def forward(self, x):
        f = self.patch(x)  # (B, C, 64, 48)
        b = f.shape[0]
        t = f.flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            t = blk(t)
        f = self.norm(t).transpose(1, 2).reshape(b, self.c, 64, 48)
        return self.head(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output")
    ap.add_argument("--task", choices=sorted(HEADS), required=True)
    ap.add_argument("--size", choices=sorted(SIZES), default="0.3b")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = SapiensV1(args.task, args.size).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(1, 3, 1024, 768))
    traced.save(args.output)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output}: Sapiens v1 {args.size} {args.task} architecture, {params / 1e9:.3f} B parameters, random weights")


if __name__ == "__main__":
    main()
