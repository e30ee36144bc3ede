"""The Sapiens v1 network (backbone + task head) under the official checkpoint's tensor names, so
that Meta's original `.pth` files load into it as they are (SAPIENS.md sections 1, 2 and 5).

Read from facebookresearch/sapiens (3e829ac): `pretrain/mmpretrain/models/backbones/
vision_transformer.py` (arch sapiens_0.3b/0.6b/1b/2b, `with_cls_token=False`, `out_type=
'featmap'`, `final_norm=True`, LayerNorm eps 1e-6), mmcv's `PatchEmbed` and `FFN`, mmpose's
`HeatmapHead` (`pose/mmpose/models/heads/heatmap_heads/heatmap_head.py`) and mmseg's `VitHead`,
`VitDepthHead`, `VitNormalHead` (`seg/mmseg/models/decode_heads/`), with the channel lists of the
0.3b-2b configs. The names, with N a layer and L a head layer:

  backbone.patch_embed.projection.{weight,bias}      Conv2d(3, C, 16, stride 16, padding 2|0)
  backbone.pos_embed                                 (1, 64*48, C), learned
  backbone.layers.N.ln1 / ln2.{weight,bias}          LayerNorm(C, eps 1e-6), pre-norm
  backbone.layers.N.attn.qkv / attn.proj             Linear(C, 3C) / Linear(C, C), with bias
  backbone.layers.N.ffn.layers.0.0 / ffn.layers.1    Linear(C, 4C) + GELU / Linear(4C, C)
  backbone.ln1.{weight,bias}                         the final LayerNorm
  pose: head.deconv_layers.L, head.conv_layers.L, head.final_layer
  seg, depth, normal: decode_head.deconv_layers.L, decode_head.conv_layers.L, decode_head.conv_seg

Each deconv is ConvTranspose2d(k 4, s 2, p 1, no bias) + InstanceNorm2d + SiLU, each conv a 1x1
Conv2d + InstanceNorm2d + SiLU (InstanceNorm without affine parameters: no tensors).
`forward` is the official `model._forward`: a (B, 3, 1024, 768) normalized RGB tensor in, the
head's raw output out (pose heatmaps at 1/4, seg logits, depth, normals at 1/2 of the input).
"""
import re

import torch
from torch import nn

# size: (embed dims C, layers, heads); feed-forward 4C (vision_transformer.py arch_zoo)
SIZES = {"0.3b": (1024, 24, 16), "0.6b": (1280, 32, 16), "1b": (1536, 40, 24), "2b": (1920, 48, 32)}
# task: (head prefix, patch padding, deconv channels, conv channels, outputs, final layer name)
HEADS = {
    "pose": ("head", 2, [768, 768], [768, 768], 308, "final_layer"),
    "seg": ("decode_head", 0, [768, 768, 768], [768, 768, 768], 28, "conv_seg"),
    "depth": ("decode_head", 0, [384] * 4, [384, 384], 1, "conv_seg"),
    "normal": ("decode_head", 2, [768, 768, 768], [768, 768, 768], 3, "conv_seg"),
}
GRID = (64, 48)  # patch grid of a 1024x768 input


class PatchEmbed(nn.Module):
    def __init__(self, c, padding):
        super().__init__()
        self.projection = nn.Conv2d(3, c, 16, 16, padding=padding)


class Attention(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(a.transpose(1, 2).reshape(b, n, c))


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(c, 4 * c), nn.GELU()), nn.Linear(4 * c, c))

    def forward(self, x):
        return self.layers(x)


class Layer(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c, eps=1e-6), nn.LayerNorm(c, eps=1e-6)
        self.attn, self.ffn = Attention(c, heads), FFN(c)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class Backbone(nn.Module):
    def __init__(self, size, padding):
        super().__init__()
        c, depth, heads = SIZES[size]
        self.c = c
        self.patch_embed = PatchEmbed(c, padding)
        self.pos_embed = nn.Parameter(torch.randn(1, GRID[0] * GRID[1], c) * 0.02)
        self.layers = nn.ModuleList(Layer(c, heads) for _ in range(depth))
        self.ln1 = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x):
        f = self.patch_embed.projection(x)  # (B, C, 64, 48)
        b = f.shape[0]
        t = f.flatten(2).transpose(1, 2) + self.pos_embed
        for layer in self.layers:
            t = layer(t)
        return self.ln1(t).transpose(1, 2).reshape(b, self.c, *GRID)


class Head(nn.Module):
    def __init__(self, task, c):
        super().__init__()
        _, _, deconvs, convs, out, final = HEADS[task]
        layers, cin = [], c
        for ch in deconvs:
            layers += [nn.ConvTranspose2d(cin, ch, 4, 2, 1, bias=False), nn.InstanceNorm2d(ch), nn.SiLU()]
            cin = ch
        self.deconv_layers = nn.Sequential(*layers)
        layers = []
        for ch in convs:
            layers += [nn.Conv2d(cin, ch, 1), nn.InstanceNorm2d(ch), nn.SiLU()]
            cin = ch
        self.conv_layers = nn.Sequential(*layers)
        self.final_name = final
        setattr(self, final, nn.Conv2d(cin, out, 1))

    def forward(self, f):
        return getattr(self, self.final_name)(self.conv_layers(self.deconv_layers(f)))


class SapiensV1(nn.Module):
    """Backbone + head, attribute names as the official models (`backbone`, `head` or `decode_head`)."""

    def __init__(self, task, size, outputs=None):
        super().__init__()
        prefix, padding, *_ = HEADS[task]
        self.task, self.size, self.prefix = task, size, prefix
        self.backbone = Backbone(size, padding)
        head = Head(task, SIZES[size][0])
        if outputs is not None and outputs != HEADS[task][4]:
            last = getattr(head, head.final_name)
            setattr(head, head.final_name, nn.Conv2d(last.in_channels, outputs, 1))
        setattr(self, prefix, head)

    def forward(self, x):
        return getattr(self, self.prefix)(self.backbone(x))


def state_dict_of(checkpoint):
    """The tensors of a loaded original checkpoint: mmengine saves {'meta', 'state_dict', ...};
    a bare state dict is taken as it is. DataParallel's `module.` prefix is removed."""
    sd = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError("not a Sapiens checkpoint: expected a dict of tensors or {'state_dict': ...}")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def infer(sd, task=None):
    """(task, size, outputs) of a state dict, from its tensor names and shapes (the task as given,
    when given); a clear error when it is not a Sapiens v1 network."""
    if "backbone.pos_embed" not in sd:
        raise ValueError("no 'backbone.pos_embed': not a Sapiens v1 checkpoint (keys start with "
                         f"{sorted({k.split('.')[0] for k in sd})})")
    c = sd["backbone.pos_embed"].shape[-1]
    depth = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"backbone\.layers\.(\d+)\.", k)))
    size = next((s for s, (width, layers, _) in SIZES.items() if (width, layers) == (c, depth)), None)
    if size is None:
        raise ValueError(f"backbone of width {c} and {depth} layers is none of the Sapiens sizes {sorted(SIZES)}")
    if task is None:
        if "head.final_layer.weight" in sd:
            task = "pose"
        elif "decode_head.conv_seg.weight" in sd:
            outs = sd["decode_head.conv_seg.weight"].shape[0]
            n_deconv = sum(1 for k in sd if re.match(r"decode_head\.deconv_layers\.\d+\.weight$", k))
            task = {1: "depth", 3: "normal"}.get(outs, "seg")
            if task == "normal" and n_deconv != 3:
                raise ValueError("3 outputs but not the normal head's 3 deconvolutions: pass --task")
        else:
            raise ValueError("no head found (head.final_layer or decode_head.conv_seg): pass a task checkpoint, not a pretrain one")
    prefix, _, _, _, _, final = HEADS[task]
    outputs = sd[f"{prefix}.{final}.weight"].shape[0]
    return task, size, outputs


def load_original(sd, task=None):
    """SapiensV1 with the tensors of an original state dict, every tensor placed and every
    parameter filled (or an error naming them). A pos_embed with a class token (3073 positions,
    as in pretraining) drops it, as the official loading hook does."""
    task, size, outputs = infer(sd, task)
    model = SapiensV1(task, size, outputs)
    sd = dict(sd)
    pos = sd["backbone.pos_embed"]
    if pos.shape[1] == GRID[0] * GRID[1] + 1:
        sd["backbone.pos_embed"] = pos[:, 1:]
    elif pos.shape[1] != GRID[0] * GRID[1]:
        raise ValueError(f"backbone.pos_embed has {pos.shape[1]} positions; the 1024x768 models have {GRID[0] * GRID[1]}")
    want = model.state_dict()
    missing = sorted(set(want) - set(sd))
    unexpected = sorted(set(sd) - set(want))
    wrong = sorted(k for k in set(want) & set(sd) if want[k].shape != sd[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:6])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:6])}")
        if wrong:
            parts.append("wrong shape: " + ", ".join(f"{k} {tuple(sd[k].shape)} (want {tuple(want[k].shape)})" for k in wrong[:6]))
        raise ValueError(f"the checkpoint does not fit Sapiens v1 {size} {task}: " + "; ".join(parts))
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.eval()
