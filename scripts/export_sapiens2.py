#!/usr/bin/env python3
"""Exports a Sapiens2 model (ICLR 2026) to ONNX for sapiens-stream, through Hugging Face
Transformers' Sapiens2 port (`Sapiens2For{Pose,SemanticSegmentation,Normal,Pointmap}Estimation`).

The model is built from the official dimensions of its size and task (SAPIENS2.md sections 1.1
and 2: backbone width/depth/heads, GQA in the middle layers, SwiGLU, 1 CLS + 8 register tokens,
RoPE; the task head's channels), then either
  --checkpoint F loads Meta's published file (`sapiens2_{size}_{task}.safetensors`, the official
                 code's `backbone.*` / `decode_head.*` names, renamed to Transformers' modules:
                 see `original_to_transformers`; every tensor must find its place, or it stops),
  --hf-dir DIR   loads a downloaded Hugging Face repository in Transformers' format
                 (config.json + model.safetensors), or
  --random       keeps random weights (no download: proving the export and the runtime on the
                 real architecture; the outputs are noise).
It is exported with torch.onnx.export's torch.export-based exporter (opset 18; the TorchScript one
cannot export attention with GQA, nor InstanceNorm behind the dynamic batch), input `input`
float32 [batch, 3, 1024, 768],
outputs named as the configs expect: `heatmaps`, `logits`, `normal`, or `pointmap` + `scale`;
dynamic batch; weights in a `.data` file beside the graph), then checked: ONNX Runtime's output
against PyTorch's on the same random input (max abs and relative difference printed, and a
failure above --tolerance).

RoPE precision: upstream Sapiens2 computes the rotary embedding in bf16 (periods, sin/cos and
the rotation of q/k); the Transformers port and this export compute it in fp32. --rope-check
measures how far the fp32 model's output is from one with upstream's bf16 rounding emulated.

Requirements: scripts/requirements-export.txt (torch, transformers >= 5.x with Sapiens2, onnx,
onnxruntime). Licence of the weights: the Sapiens2 License (see the README).

Usage:
  scripts/export_sapiens2.py --task pose --size 0.4b --random models/sapiens2_0.4b_pose.onnx
  scripts/export_sapiens2.py --task seg --size 1b --hf-dir ~/hf/sapiens2-seg-1b models/sapiens2_1b_seg.onnx
"""
import argparse
import json
import os
import sys
import time

from export_common import add_decode_flag

# Backbone per size (SAPIENS2.md 1.1): width, layers, heads, SwiGLU hidden.
SIZES = {
    "0.4b": (1024, 24, 16, 4096),
    "0.8b": (1280, 32, 16, 5120),
    "1b": (1536, 40, 24, 6144),
    "5b": (2432, 56, 32, 9728),
}
IN_H, IN_W = 1024, 768


def head_config(task, size):
    """The task head of `size` (SAPIENS2.md 2.1-2.4) as Sapiens2HeadConfig fields."""
    if task == "pose":
        up, conv = ((1536, 1024), (768, 512, 256)) if size == "1b" else ((1024, 768), (512, 512, 256))
        return dict(upsample_out_channels=list(up), conv_out_channels=list(conv)), 308
    if task == "seg":
        return dict(upsample_out_channels=[512, 256, 128, 64], conv_out_channels=[64, 64]), 29
    big = size == "5b"
    if task == "normal":
        up = [1536, 768, 512, 256] if big else [768, 512, 256, 128]
    else:  # pointmap
        up = [1536, 768, 768, 768] if big else [1536, 768, 512, 256]
    conv = [128, 64, 32] if big else [64, 32, 16]
    cfg = dict(use_pixel_shuffle=True, upsample_out_channels=up, upsample_kernel_sizes=[3] * 4,
               conv_out_channels=conv, conv_kernel_sizes=[3] * 3)
    if task == "pointmap":
        cfg.update(scale_conv_out_channels=[1536, 512, 128], scale_final_hidden_sizes=[512, 128])
    return cfg, 3


OUTPUTS = {"pose": ["heatmaps"], "seg": ["logits"], "normal": ["normal"], "pointmap": ["pointmap", "scale"]}


# Meta's original names (sapiens/backbones/standalone/sapiens2.py and the task heads) → the
# Transformers port's. Conv/norm/act Sequentials of the original heads put a layer's conv at 3·i.
_RENAMES = [
    (r"backbone\.cls_token", "model.embeddings.cls_token"),
    (r"backbone\.storage_tokens", "model.embeddings.register_tokens"),
    (r"backbone\.patch_embed\.projection\.(weight|bias)", r"model.embeddings.patch_embeddings.\1"),
    (r"backbone\.blocks\.(\d+)\.ln1\.weight", r"model.model.layer.\1.norm1.weight"),
    (r"backbone\.blocks\.(\d+)\.ln2\.weight", r"model.model.layer.\1.norm2.weight"),
    (r"backbone\.blocks\.(\d+)\.attn\.w([qkv])\.(weight|bias)", r"model.model.layer.\1.attention.\2_proj.\3"),
    (r"backbone\.blocks\.(\d+)\.attn\.proj\.(weight|bias)", r"model.model.layer.\1.attention.o_proj.\2"),
    (r"backbone\.blocks\.(\d+)\.attn\.([qk]_norm)\.weight", r"model.model.layer.\1.attention.\2.weight"),
    (r"backbone\.blocks\.(\d+)\.attn\.gamma\.weight", r"model.model.layer.\1.layer_scale1.lambda1"),
    (r"backbone\.blocks\.(\d+)\.ffn\.w3\.(weight|bias)", r"model.model.layer.\1.mlp.down_proj.\2"),
    (r"backbone\.ln1\.weight", "model.norm.weight"),
    (r"decode_head\.(?:conv_pose|conv_seg|conv_normal|conv_pointmap)\.(weight|bias)", r"decode_head.predictor.\1"),
    (r"decode_head\.input_conv\.0\.(weight|bias)", r"decode_head.input_conv.convolution.\1"),
    (r"decode_head\.upsample_blocks\.(\d+)\.0\.(weight|bias)", r"decode_head.upsample_layers.\1.convolution.\2"),
    (r"decode_head\.scale_final_layer\.1\.(weight|bias)", r"scale_head.predictor.block1.layers.0.\1"),
    (r"decode_head\.scale_final_layer\.3\.(weight|bias)", r"scale_head.predictor.block2.layers.0.\1"),
    (r"decode_head\.scale_final_layer\.5\.(weight|bias)", r"scale_head.predictor.proj.\1"),
]
_SEQUENTIALS = [  # (original Sequential, Transformers ModuleList): conv at 3·i
    ("decode_head.deconv_layers", "decode_head.upsample_layers"),
    ("decode_head.conv_layers", "decode_head.conv_layers"),
    ("decode_head.scale_conv_layers", "scale_head.conv_layers"),
]
_DROPPED = (r"backbone\.rope_embed\.periods", r"decode_head\.loss_decode\..*", r"data_preprocessor\..*")


def original_to_transformers(state):
    """Meta's state dict → the Transformers model's; an error names every tensor it cannot place.
    The SwiGLU `w12` (C → 2·4C, silu(first half) · second half) splits into gate and up."""
    import re

    out, unplaced = {}, []
    for k, v in state.items():
        m = re.fullmatch(r"backbone\.blocks\.(\d+)\.ffn\.w12\.(weight|bias)", k)
        if m:
            gate, up = v.chunk(2, dim=0)
            out[f"model.model.layer.{m[1]}.mlp.gate_proj.{m[2]}"] = gate
            out[f"model.model.layer.{m[1]}.mlp.up_proj.{m[2]}"] = up
            continue
        if any(re.fullmatch(d, k) for d in _DROPPED):
            continue
        for pat, rep in _RENAMES:
            if re.fullmatch(pat, k):
                out[re.sub(pat, rep, k)] = v
                break
        else:
            for orig, new in _SEQUENTIALS:
                m = re.fullmatch(re.escape(orig) + r"\.(\d+)\.(weight|bias)", k)
                if m and int(m[1]) % 3 == 0:
                    out[f"{new}.{int(m[1]) // 3}.convolution.{m[2]}"] = v
                    break
            else:
                unplaced.append(k)
    if unplaced:
        sys.exit(f"{len(unplaced)} tensors of the checkpoint have no place in the model: "
                 + ", ".join(unplaced[:12]) + (" ..." if len(unplaced) > 12 else ""))
    return out


def build(task, size, hf_dir, checkpoint=None):
    import transformers as tf

    cls = {"pose": tf.Sapiens2ForPoseEstimation, "seg": tf.Sapiens2ForSemanticSegmentation,
           "normal": tf.Sapiens2ForNormalEstimation, "pointmap": tf.Sapiens2ForPointmapEstimation}[task]
    # Eager attention (repeat_kv, matmul, softmax): the ONNX exporter has no SDPA with GQA.
    if hf_dir:
        return cls.from_pretrained(hf_dir, torch_dtype="float32", attn_implementation="eager").eval()
    c, layers, heads, ffn = SIZES[size]
    head, labels = head_config(task, size)
    config = tf.Sapiens2Config(
        hidden_size=c, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn,
        num_key_value_attention_heads=heads // 2, image_size=[IN_H, IN_W], patch_size=16,
        num_register_tokens=8, use_gated_mlp=True, hidden_act="silu",
        num_labels=labels, head_config=tf.Sapiens2HeadConfig(**head))
    config._attn_implementation = "eager"
    model = cls(config).eval()
    if checkpoint:
        from safetensors.torch import load_file

        state = original_to_transformers(load_file(checkpoint))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            sys.exit(f"{checkpoint}: does not fit Sapiens2 {size} {task}: missing {missing[:8]}, "
                     f"unexpected {unexpected[:8]}")
    return model


class Exported:
    """The task model's computation as plain tensors, in the configs' output order: the backbone,
    its patch tokens as a (B, C, 64, 48) feature map (the channel count written out, so the
    exporter knows the heads' InstanceNorm sizes), then the head(s) — the same modules and order
    as the Transformers forward, without its output classes."""

    def __init__(self, model, task):
        import torch

        cfg = model.config
        c, skip = cfg.hidden_size, 1 + cfg.num_register_tokens

        class Wrap(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, x):
                tokens = self.model.model(pixel_values=x).last_hidden_state[:, skip:]
                fm = tokens.transpose(1, 2).reshape(x.shape[0], c, IN_H // 16, IN_W // 16)
                out = self.model.decode_head(fm)
                if task == "pointmap":
                    return out, self.model.scale_head(fm)
                return out

        self.module = Wrap().eval()

    @staticmethod
    def reference(model, task, x):
        """The Transformers forward itself (what --hf-dir users get from the library)."""
        out = model(pixel_values=x)
        return {"pose": lambda: [out.heatmaps], "seg": lambda: [out.logits],
                "normal": lambda: [out.normals], "pointmap": lambda: [out.pointmaps, out.scales]}[task]()


def bf16_rope(enable):
    """Emulates upstream's bf16 RoPE in the Transformers model (sin/cos and the rotation of q/k
    rounded to bf16), or restores the fp32 one."""
    import torch
    from transformers.models.sapiens2 import modeling_sapiens2 as m

    if not hasattr(m, "_fp32_apply_rope"):
        m._fp32_apply_rope = m.apply_rotary_pos_emb
    if not enable:
        m.apply_rotary_pos_emb = m._fp32_apply_rope
        return

    def rope(q, k, cos, sin, **kw):
        dt = q.dtype
        qb, kb = m._fp32_apply_rope(q.bfloat16(), k.bfloat16(), cos.bfloat16(), sin.bfloat16())
        return qb.to(dt), kb.to(dt)

    m.apply_rotary_pos_emb = rope


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", help="ONNX file to write (weights go to OUTPUT.data)")
    ap.add_argument("--task", choices=sorted(OUTPUTS), required=True)
    ap.add_argument("--size", choices=sorted(SIZES), required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="Meta's sapiens2_{size}_{task}.safetensors (official code's names)")
    src.add_argument("--hf-dir", help="Transformers-format Sapiens2 repository (config.json + safetensors)")
    src.add_argument("--random", action="store_true", help="random weights (no download)")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--tolerance", type=float, default=1e-3,
                    help="largest max-abs difference ONNX Runtime vs PyTorch, relative to the output's max abs")
    ap.add_argument("--rope-check", action="store_true", help="measure the fp32 vs upstream bf16 RoPE deviation")
    ap.add_argument("--report", help="write the figures as JSON here")
    ap.add_argument("--seed", type=int, default=0)
    add_decode_flag(ap)
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit("torch is needed: pip install -r scripts/requirements-export.txt")
    from export_common import compare, run_onnx, save_with_data, write_decoded

    torch.manual_seed(args.seed)
    t0 = time.time()
    model = build(args.task, args.size, args.hf_dir, args.checkpoint)
    params = sum(p.numel() for p in model.parameters())
    wrapped = Exported(model, args.task).module
    names = OUTPUTS[args.task]
    x = torch.randn(1, 3, IN_H, IN_W)
    with torch.no_grad():
        ref = Exported.reference(model, args.task, x)
    built_s = time.time() - t0

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    t0 = time.time()
    tmp = args.output + ".tmp.onnx"
    # The example has batch 2: an example of 1 would specialize the batch to 1.
    batch = torch.export.Dim("batch", max=64)
    with torch.no_grad():
        torch.onnx.export(wrapped, (torch.cat([x, x]),), tmp, input_names=["input"], output_names=names,
                          dynamic_shapes={"x": {0: batch}}, opset_version=args.opset, dynamo=True,
                          external_data=True)
    save_with_data(tmp, args.output,
                   f"Sapiens2 {args.size} {args.task}, "
                   + ("RANDOM weights (export proof)" if args.random
                      else f"weights from {args.hf_dir or os.path.basename(args.checkpoint)}")
                   + "; exported by sapiens-stream scripts/export_sapiens2.py")
    if os.path.exists(tmp + ".data"):  # the exporter's own weights file, now merged
        os.remove(tmp + ".data")
    export_s = time.time() - t0

    t0 = time.time()
    got = run_onnx(args.output, names, x.numpy())
    ort_s = time.time() - t0
    report = {"task": args.task, "size": args.size, "params": params, "random": bool(args.random),
              "build_s": round(built_s, 1), "export_s": round(export_s, 1), "ort_cpu_s": round(ort_s, 2),
              "outputs": compare(names, [r.numpy() for r in ref], got)}
    ok = all(o["relative"] <= args.tolerance and o["same_shape"] for o in report["outputs"].values())
    if args.rope_check:
        bf16_rope(True)
        with torch.no_grad():
            bf = Exported.reference(model, args.task, x)
        bf16_rope(False)
        report["rope_bf16_vs_fp32"] = {}
        for n, r, b in zip(names, ref, bf):
            diff = float((r - b).abs().max())
            rel = diff / max(float(r.abs().max()), 1e-12)
            report["rope_bf16_vs_fp32"][n] = {"max_abs_diff": diff, "relative": rel}
            print(f"{n}: fp32 RoPE vs upstream bf16 RoPE: max diff {diff:.3g} ({rel:.3g} of max |out|)")
    decoded = write_decoded(args, x.numpy(), got[0])
    if decoded:
        report["decoded"] = decoded
    print(f"{args.output}: {params / 1e9:.3f} B parameters, built {built_s:.0f} s, exported {export_s:.0f} s, "
          f"ONNX Runtime CPU {ort_s:.1f} s for one image")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    if not ok:
        sys.exit(f"ONNX Runtime output differs from PyTorch by more than {args.tolerance} (relative)")


if __name__ == "__main__":
    main()
