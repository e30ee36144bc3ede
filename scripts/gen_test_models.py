#!/usr/bin/env python3
"""Generates the small ONNX models that the tests and the demo run on (ARCHITECTURE.md section 5).

Two kinds of model, both with the real Sapiens pose I/O contract: input `input` float32
(batch, 3, 1024, 768) normalized RGB, output `heatmaps` float32 (batch, K, 256, 192).

* Analytic pose model (`pose_analytic_coco17.onnx`): heatmap k is a Gaussian (sigma 6 input px)
  centred where the crop shows colour k (colours in the `.json` sidecar). Its heatmap grid is
  UDP-consistent: heatmap pixel j sits on input pixel j * (767 / 191), exactly the mapping the
  decoder inverts, so a dot drawn at a known frame position must decode to that position.
* Sapiens-architecture pose models (`sapiens_tiny_pose_*.onnx`): the real topology at tiny
  width/depth with seeded random weights: 16x16 patch embedding (padding 2, as the pose
  configs), learned position embedding, pre-norm ViT blocks (LayerNorm eps 1e-6, fused qkv,
  GELU FFN), final LayerNorm, and the official heatmap head: 2x (ConvTranspose k4 s2 p1 +
  InstanceNorm + SiLU), 2x (1x1 conv + InstanceNorm + SiLU), final 1x1 conv to K channels.
  Their outputs are noise: they keep export, runtime and throughput paths honest, nothing more.

Usage: gen_test_models.py [OUT_DIR]   (default tests/models; deterministic: the same graphs every run)
       gen_test_models.py --check    (regenerates into a temporary folder and fails if a committed
                                      model's graph differs from what this script makes)
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IN_H, IN_W = 1024, 768
HM_H, HM_W = 256, 192
# Normalization the configs use (lite demo, RGB order, 0..255 scale).
MEAN = np.array([123.5, 116.5, 103.5], np.float32)
STD = np.array([58.5, 57.0, 57.5], np.float32)


class Graph:
    """Tiny helper around onnx.helper: named initializers and nodes, unique names."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="c"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op_type, inputs, base=None, **attrs):
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def save(self, path, inp, out, k, doc, out_name="heatmaps", out_hw=(HM_H, HM_W), batch="batch"):
        x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, IN_H, IN_W])
        y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, k, *out_hw])
        self.nodes.append(helper.make_node("Identity", [out], [out_name]))
        g = helper.make_graph(self.nodes, "g", [x], [y], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="sapiens-stream gen_test_models.py")
        m.ir_version = 8
        m.doc_string = doc
        if self.large():
            # Real-size models: weights beside the graph (protobuf stops at 2 GB).
            data = os.path.basename(path) + ".data"
            onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data, size_threshold=1024)
            onnx.checker.check_model(path)
        else:
            onnx.checker.check_model(m)
            onnx.save(m, path)

    def large(self):
        return sum(len(t.raw_data) for t in self.inits) > 256 * 2 ** 20


def keypoint_colours(k):
    """K distinct RGB colours with channels in {0,128,255} and at least one channel 255.

    Mixing any of them with the black warp border only darkens it, so a blurred dot edge never
    looks like another keypoint's colour."""
    cols = [(r, g, b) for r in (255, 128, 0) for g in (255, 128, 0) for b in (255, 128, 0)
            if 255 in (r, g, b) and (r, g, b) != (255, 255, 255)]
    assert len(cols) >= k
    return cols[:k]


def gaussian_1d(sigma, radius):
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def burn(g, out, matmuls, n=256, seed=7):
    """`out` + 0 * (a chain of `matmuls` n x n MatMuls fed by the input): the same output, made
    deliberately slow (about 2 n^3 `matmuls` flops a run) and not constant-foldable. The one
    matrix is orthogonal, so values stay finite and 0 * value is exactly 0."""
    rng = np.random.default_rng(seed)
    s = g.op("ReduceMean", ["input"], keepdims=0)
    m = g.op("Add", [g.op("Mul", [g.const(rng.standard_normal((n, n)).astype(np.float32) * 1e-3), s]),
                     g.const(np.eye(n, dtype=np.float32))])
    q = g.const(np.linalg.qr(rng.standard_normal((n, n)))[0].astype(np.float32))
    for _ in range(matmuls):
        m = g.op("MatMul", [m, q])
    zero = g.op("Mul", [g.op("ReduceSum", [m], keepdims=0), g.const(np.float32(0.0))])
    return g.op("Add", [out, zero])


def analytic_pose(path, k=17, sigma=6.0, tau=20.0, batch_dim="batch", burn_matmuls=0):
    g = Graph()
    cols = np.array(keypoint_colours(k), np.float32)
    # Back to 0..255 RGB.
    x = g.op("Mul", ["input", g.const(STD.reshape(1, 3, 1, 1))])
    x = g.op("Add", [x, g.const(MEAN.reshape(1, 3, 1, 1))])
    # Resize so that a stride-4 grid lands on UDP positions: out j <-> in j*(767/191).
    rh, rw = 4 * (HM_H - 1) + 1, 4 * (HM_W - 1) + 1
    sizes = g.const(np.array([1, 3, rh, rw], np.int64))
    # Resize needs a dynamic batch in `sizes`: take it from the input shape.
    shape = g.op("Shape", [x])
    batch = g.op("Slice", [shape, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))])
    rest = g.op("Slice", [sizes, g.const(np.array([1], np.int64)), g.const(np.array([4], np.int64))])
    sizes_dyn = g.op("Concat", [batch, rest], axis=0)
    x = g.op("Resize", [x, "", "", sizes_dyn], mode="linear",
             coordinate_transformation_mode="align_corners")
    # Squared colour distance to each keypoint colour: |x|^2 - 2 c.x + |c|^2, as a 1x1 conv.
    sq = g.op("ReduceSum", [g.op("Mul", [x, x]), g.const(np.array([1], np.int64))], keepdims=1)
    w = (-2.0 * cols).reshape(k, 3, 1, 1)
    b = (cols ** 2).sum(axis=1)
    lin = g.op("Conv", [x, g.const(w.astype(np.float32)), g.const(b.astype(np.float32))])
    d = g.op("Relu", [g.op("Add", [lin, sq])])
    m = g.op("Exp", [g.op("Mul", [d, g.const(np.float32(-1.0 / tau ** 2))])])
    # Depthwise separable Gaussian, stride 4, centred on the sample (pads = radius).
    r = 16
    gk = gaussian_1d(sigma, r)
    wv = np.tile(gk.reshape(1, 1, 2 * r + 1, 1), (k, 1, 1, 1))
    wh = np.tile(gk.reshape(1, 1, 1, 2 * r + 1), (k, 1, 1, 1))
    m = g.op("Conv", [m, g.const(wv)], group=k, strides=[4, 1], pads=[r, 0, r, 0])
    m = g.op("Conv", [m, g.const(wh)], group=k, strides=[1, 4], pads=[0, r, 0, r])
    # Gain so that a disc of radius 4 input px peaks near 1 (no clamp: a plateau would hide the
    # sub-pixel peak).
    gain = 1.0 / (1.0 - np.exp(-16.0 / (2 * sigma ** 2)))
    out = g.op("Mul", [m, g.const(np.float32(gain))])
    doc = ("Analytic pose model: heatmap k = Gaussian(sigma=%g input px) around pixels of colour k; "
           "UDP-consistent 256x192 grid." % sigma)
    if burn_matmuls:
        out = burn(g, out, burn_matmuls)
        doc += " Deliberately slow: %d extra 256x256 MatMuls a run." % burn_matmuls
    g.save(path, "input", out, k, doc, batch=batch_dim)
    side = {"num_keypoints": k, "colours_rgb": [list(map(int, c)) for c in cols],
            "sigma_input_px": sigma, "tau": tau, "mean": MEAN.tolist(), "std": STD.tolist(),
            "background_rgb": [0, 0, 0]}
    if batch_dim == "batch" and not burn_matmuls:
        with open(os.path.splitext(path)[0] + ".json", "w") as f:
            json.dump(side, f, indent=1)


# Official head layouts (SAPIENS.md section 2): deconvs (each 2x), 1x1 convs, output name and
# channels, patch-embedding padding (2 for pose and normal, 0 for goliath seg and depth).
HEADS = {
    "pose": dict(deconvs=2, convs=2, out="heatmaps", patch_pad=2),
    "seg": dict(deconvs=3, convs=3, out="logits", patch_pad=0),
    "depth": dict(deconvs=4, convs=1, out="depth", patch_pad=0),
    "normal": dict(deconvs=3, convs=3, out="normal", patch_pad=2),
}


def sapiens_pose(path, k, **kw):
    sapiens_model(path, "pose", k, **kw)


def sapiens_model(path, task, k, width=32, depth=2, heads=2, head_ch=32, seed=0, head=None):
    spec = dict(HEADS[task], **(head or {}))
    rng = np.random.default_rng(seed)
    g = Graph()

    def rand(*shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        s = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        return (rng.standard_normal(shape) * s).astype(np.float32)

    c = width
    gh, gw = IN_H // 16, IN_W // 16
    # Patch embedding: Conv2d(3, C, k16, s16, padding 2 or 0) -> (B, C, 64, 48).
    pp = spec["patch_pad"]
    x = g.op("Conv", ["input", g.const(rand(c, 3, 16, 16)), g.const(rand(c, scale=0.02))],
             strides=[16, 16], pads=[pp, pp, pp, pp])
    # (B, C, 64, 48) -> (B, 3072, C) + position embedding.
    x = g.op("Reshape", [x, g.const(np.array([0, c, gh * gw], np.int64))])
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    x = g.op("Add", [x, g.const(rand(1, gh * gw, c, scale=0.02))])

    def layer_norm(t):
        return g.op("LayerNormalization", [t, g.const(np.ones(c, np.float32)),
                                           g.const(np.zeros(c, np.float32))], axis=-1, epsilon=1e-6)

    def linear(t, cin, cout):
        t = g.op("MatMul", [t, g.const(rand(cin, cout, scale=1.0 / np.sqrt(cin)))])
        return g.op("Add", [t, g.const(rand(cout, scale=0.02))])

    hd = c // heads
    for _ in range(depth):
        h = layer_norm(x)
        qkv = linear(h, c, 3 * c)  # (B, N, 3C)
        qkv = g.op("Reshape", [qkv, g.const(np.array([0, gh * gw, 3, heads, hd], np.int64))])
        qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # (3, B, heads, N, hd)
        q, kk, v = (g.op("Gather", [qkv, g.const(np.array(i, np.int64))], axis=0) for i in range(3))
        att = g.op("MatMul", [q, g.op("Transpose", [kk], perm=[0, 1, 3, 2])])
        att = g.op("Softmax", [g.op("Mul", [att, g.const(np.float32(hd ** -0.5))])], axis=-1)
        o = g.op("Transpose", [g.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, g.const(np.array([0, gh * gw, c], np.int64))])
        x = g.op("Add", [x, linear(o, c, c)])
        h = linear(layer_norm(x), c, 4 * c)
        # GELU (erf form, as torch.nn.GELU).
        h = g.op("Mul", [g.op("Mul", [h, g.const(np.float32(0.5))]),
                         g.op("Add", [g.op("Erf", [g.op("Mul", [h, g.const(np.float32(2 ** -0.5))])]),
                                      g.const(np.float32(1.0))])])
        x = g.op("Add", [x, linear(h, 4 * c, c)])
    x = layer_norm(x)
    # Back to a feature map (B, C, 64, 48).
    x = g.op("Reshape", [g.op("Transpose", [x], perm=[0, 2, 1]),
                         g.const(np.array([0, c, gh, gw], np.int64))])

    def norm_silu(t, ch):
        t = g.op("InstanceNormalization", [t, g.const(np.ones(ch, np.float32)),
                                           g.const(np.zeros(ch, np.float32))], epsilon=1e-5)
        return g.op("Mul", [t, g.op("Sigmoid", [t])])

    cin = c
    for _ in range(spec["deconvs"]):  # deconv k4 s2 p1, no bias
        x = g.op("ConvTranspose", [x, g.const(rand(cin, head_ch, 4, 4))], strides=[2, 2], pads=[1, 1, 1, 1])
        x = norm_silu(x, head_ch)
        cin = head_ch
    for _ in range(spec["convs"]):  # 1x1 conv with bias
        x = g.op("Conv", [x, g.const(rand(head_ch, cin, 1, 1)), g.const(rand(head_ch, scale=0.02))])
        x = norm_silu(x, head_ch)
    out = g.op("Conv", [x, g.const(rand(k, head_ch, 1, 1)), g.const(rand(k, scale=0.02))])
    doc = (f"Sapiens-architecture {task} model, UNTRAINED random weights (seed {seed}): width {c}, "
           f"depth {depth}, heads {heads}, head channels {head_ch}, {k} output channels.")
    up = 2 ** spec["deconvs"]
    g.save(path, "input", out, k, doc, spec["out"], (IN_H // 16 * up, IN_W // 16 * up))


def seg_palette(name="goliath-seg-28"):
    """A seg class set's colours (RGB) from configs/classes/<name>.json."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "configs", "classes", name + ".json")) as f:
        return np.array([c["color_rgb"] for c in json.load(f)["classes"]], np.float32)


# Sapiens2's input normalization (SAPIENS2.md 1.4).
MEAN2 = np.array([123.675, 116.28, 103.53], np.float32)
STD2 = np.array([58.395, 57.12, 57.375], np.float32)


def analytic_seg(path, tau=100.0, classes="goliath-seg-28", stride=2, mean=MEAN, std=STD):
    """Seg model whose class is the palette colour nearest to the pixel: output (B,K,H/s,W/s)
    logits_k = -|rgb - palette_k|^2 / tau over s x s-averaged input pixels. A region painted in
    palette colour k is class k wherever the average stays inside it."""
    g = Graph()
    pal = seg_palette(classes)
    k = len(pal)
    x = g.op("Mul", ["input", g.const(std.reshape(1, 3, 1, 1))])
    x = g.op("Add", [x, g.const(mean.reshape(1, 3, 1, 1))])
    if stride > 1:
        x = g.op("AveragePool", [x], kernel_shape=[stride, stride], strides=[stride, stride])
    sq = g.op("ReduceSum", [g.op("Mul", [x, x]), g.const(np.array([1], np.int64))], keepdims=1)
    w = (2.0 * pal / tau).reshape(k, 3, 1, 1).astype(np.float32)
    b = (-(pal ** 2).sum(axis=1) / tau).astype(np.float32)
    lin = g.op("Conv", [x, g.const(w), g.const(b)])
    out = g.op("Sub", [lin, g.op("Mul", [sq, g.const(np.float32(1.0 / tau))])])
    doc = "Analytic seg model: class = nearest %s palette colour (%dx%d average), logits -d^2/tau." % (
        classes, stride, stride)
    g.save(path, "input", out, k, doc, "logits", (IN_H // stride, IN_W // stride))


def analytic_pointmap(path):
    """Sapiens2 pointmap contract (SAPIENS2.md 2.4; Sapiens2 mean/std): outputs `pointmap`
    (B,3,1024,768) = the input pixel's (R, G, B) on the 0..255 scale / 100, and `scale` (B,1) =
    1 + G/255 of the input's centre pixel (row 512, column 384). Metric XYZ = pointmap / scale:
    a frame painted in one colour has known points, and letterbox padding (black) reads 0."""
    g = Graph()
    x = g.op("Mul", ["input", g.const(STD2.reshape(1, 3, 1, 1))])
    x = g.op("Add", [x, g.const(MEAN2.reshape(1, 3, 1, 1))])
    pm = g.op("Mul", [x, g.const(np.float32(0.01))])
    centre = g.op("Slice", [x, g.const(np.array([1, IN_H // 2, IN_W // 2], np.int64)),
                            g.const(np.array([2, IN_H // 2 + 1, IN_W // 2 + 1], np.int64)),
                            g.const(np.array([1, 2, 3], np.int64))])
    centre = g.op("Reshape", [centre, g.const(np.array([-1, 1], np.int64))])
    sc = g.op("Add", [g.op("Mul", [centre, g.const(np.float32(1.0 / 255.0))]), g.const(np.float32(1.0))])
    g.nodes.append(helper.make_node("Identity", [pm], ["pointmap"]))
    g.nodes.append(helper.make_node("Identity", [sc], ["scale"]))
    graph = helper.make_graph(
        g.nodes, "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, IN_H, IN_W])],
        [helper.make_tensor_value_info("pointmap", TensorProto.FLOAT, ["batch", 3, IN_H, IN_W]),
         helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch", 1])],
        g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="sapiens-stream gen_test_models.py")
    m.ir_version = 8
    m.doc_string = ("Analytic pointmap model: pointmap = RGB/100, scale = 1 + G(centre)/255. "
                    "Not a pointmap model.")
    onnx.checker.check_model(m)
    onnx.save(m, path)


def generate(out):
    os.makedirs(out, exist_ok=True)
    analytic_pose(os.path.join(out, "pose_analytic_coco17.onnx"))
    # The same with a fixed batch of 2 (as a static-shape export): the runtime pads to it.
    analytic_pose(os.path.join(out, "pose_analytic_coco17_b2.onnx"), batch_dim=2)
    # The same, deliberately slow (for live-source tests that need a model slower than the source
    # on any machine).
    analytic_pose(os.path.join(out, "pose_slow_coco17.onnx"), burn_matmuls=400)
    sapiens_pose(os.path.join(out, "sapiens_tiny_pose_coco17.onnx"), 17)
    sapiens_pose(os.path.join(out, "sapiens_tiny_pose_goliath308.onnx"), 308)
    # Pose decoded in the graph (scripts/postprocess_graph.py): keypoints [N, K, 28], not heatmaps.
    for name in ["pose_analytic_coco17", "sapiens_tiny_pose_goliath308"]:
        decoded_in_graph(os.path.join(out, name + ".onnx"), os.path.join(out, name + "_decoded.onnx"))
    analytic_seg(os.path.join(out, "seg_analytic.onnx"))
    # Pose crop pre-processing as a graph (scripts/preprocess_graph.py): BGRx frame bytes and
    # the crop maps in, the normalized 1024x768 input out.
    from preprocess_graph import pose_warp, prepend

    onnx.save(pose_warp(), os.path.join(out, "pose_warp_bgrx.onnx"))
    # The pixel form sapienspose feeds frames to: that graph in front of a pose model.
    onnx.save(prepend(pose_warp(), onnx.load(os.path.join(out, "pose_analytic_coco17.onnx"))),
              os.path.join(out, "pose_analytic_coco17_pixels.onnx"))
    # Seg argmax in the graph: labels [N, 1, h, w] int32, not logits.
    decoded_in_graph(os.path.join(out, "seg_analytic.onnx"), os.path.join(out, "seg_analytic_labels.onnx"), "seg")
    analytic_depth(os.path.join(out, "depth_analytic.onnx"))
    analytic_normal(os.path.join(out, "normal_analytic.onnx"))
    # Sapiens2 contracts: 29 classes at full resolution, pointmap with its scale.
    analytic_seg(os.path.join(out, "seg29_analytic.onnx"), classes="dome-seg-29", stride=1,
                 mean=MEAN2, std=STD2)
    analytic_pointmap(os.path.join(out, "pointmap_analytic.onnx"))
    for layout in ["yolov8", "yolox", "mmdeploy"]:
        analytic_detector(os.path.join(out, "detector_analytic_%s.onnx" % layout), layout)
    sapiens_model(os.path.join(out, "sapiens_tiny_seg.onnx"), "seg", 28)
    decoded_in_graph(os.path.join(out, "sapiens_tiny_seg.onnx"), os.path.join(out, "sapiens_tiny_seg_labels.onnx"), "seg")
    sapiens_model(os.path.join(out, "sapiens_tiny_depth.onnx"), "depth", 1)
    sapiens_model(os.path.join(out, "sapiens_tiny_normal.onnx"), "normal", 3)
    for f in sorted(os.listdir(out)):
        print(f"{os.path.join(out, f)}: {os.path.getsize(os.path.join(out, f))} bytes")


def decoded_in_graph(src, dst, head="pose"):
    from postprocess_graph import append_pose_decode, append_seg_argmax

    append = append_pose_decode if head == "pose" else append_seg_argmax
    onnx.save(append(onnx.load(src)), dst)


def check(committed="tests/models"):
    """Graphs (nodes, initializer values, I/O) of the committed models equal freshly made ones."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        bad = []
        for f in sorted(os.listdir(tmp)):
            fresh, old = os.path.join(tmp, f), os.path.join(committed, f)
            if not os.path.exists(old):
                bad.append(f"{old}: missing")
            elif f.endswith(".onnx"):
                if onnx.load(fresh).graph.SerializeToString() != onnx.load(old).graph.SerializeToString():
                    bad.append(f"{old}: graph differs from what the script makes")
            elif open(fresh, "rb").read() != open(old, "rb").read():
                bad.append(f"{old}: differs from what the script makes")
        if bad:
            sys.exit("gen_test_models --check failed:\n  " + "\n  ".join(bad) + "\nrun `make models` and commit")
        print(f"gen_test_models --check: {committed} matches the generator")


def analytic_depth(path):
    """Depth model: output (B,1,1024,768) = mean of R, G, B (0..255) of the input pixel."""
    g = Graph()
    x = g.op("Mul", ["input", g.const(STD.reshape(1, 3, 1, 1))])
    x = g.op("Add", [x, g.const(MEAN.reshape(1, 3, 1, 1))])
    out = g.op("Conv", [x, g.const(np.full((1, 3, 1, 1), 1.0 / 3.0, np.float32))])
    g.save(path, "input", out, 1, "Analytic depth model: depth = (R+G+B)/3 on the 0..255 scale.", "depth", (IN_H, IN_W))


# Analytic person detector: rectangles painted in marker colours are its detections. Input
# (B, 3, 320, 320) RGB 0..255 (mean 0, std 1). Anchors: magenta (person, score 1), a copy of it
# shrunk by 2 px (person, 0.9: NMS must drop it), cyan (person, 0.6), yellow (class 1, not a
# person, 1.0), then zero anchors up to 16 (so anchors outnumber the 2 + 5 values of a row,
# as in real exports).
DET_IN = 320
DET_MARKERS = [  # (RGB, class, score, shrink px)
    ((255, 0, 255), 0, 1.0, 0),
    ((255, 0, 255), 0, 0.9, 2),
    ((0, 255, 255), 0, 0.6, 0),
    ((255, 255, 0), 1, 1.0, 0),
]
DET_ANCHORS = 16


def analytic_detector(path, layout):
    """Boxes (input px, edges) of the pixels of each marker colour, in the `layout`'s output form:
    'yolov8' (B, 4+2, A), 'yolox' (B, A, 5+2), 'mmdeploy' dets (B, A, 5) + labels (B, A) int64."""
    g = Graph()
    x = "images"
    xs = g.const(np.arange(DET_IN, dtype=np.float32).reshape(1, 1, 1, DET_IN))
    ys = g.const(np.arange(DET_IN, dtype=np.float32).reshape(1, 1, DET_IN, 1))
    big = g.const(np.float32(1e5))
    one = g.const(np.float32(1.0))
    anchors = []  # per anchor: (x1, y1, x2, y2, score) as (B,) tensors, and its class
    for rgb, cls, score, shrink in DET_MARKERS:
        d = g.op("ReduceSum", [g.op("Pow", [g.op("Sub", [x, g.const(np.array(rgb, np.float32).reshape(1, 3, 1, 1))]),
                                           g.const(np.float32(2.0))]), g.const(np.array([1], np.int64))], keepdims=1)
        m = g.op("Cast", [g.op("Less", [d, g.const(np.float32(1600.0))])], to=TensorProto.FLOAT)
        off = g.op("Mul", [big, g.op("Sub", [one, m])])
        lo = lambda c: g.op("ReduceMin", [g.op("Add", [g.op("Mul", [c, m]), off])], axes=[1, 2, 3], keepdims=0)
        hi = lambda c: g.op("Add", [g.op("ReduceMax", [g.op("Sub", [g.op("Mul", [c, m]), off])], axes=[1, 2, 3],
                                                      keepdims=0), one])
        present = g.op("ReduceMax", [m], axes=[1, 2, 3], keepdims=0)
        k = g.const(np.float32(shrink))
        x1, y1 = g.op("Add", [lo(xs), k]), g.op("Add", [lo(ys), k])
        x2, y2 = g.op("Sub", [hi(xs), k]), g.op("Sub", [hi(ys), k])
        anchors.append(((x1, y1, x2, y2, g.op("Mul", [present, g.const(np.float32(score))])), cls))
    zero = g.op("Mul", [anchors[0][0][4], g.const(np.float32(0.0))])
    while len(anchors) < DET_ANCHORS:
        anchors.append(((zero, zero, zero, zero, zero), -1))
    unsq = lambda t, ax: g.op("Unsqueeze", [t, g.const(np.array([ax], np.int64))])
    half = g.const(np.float32(0.5))

    def fields(a):
        (x1, y1, x2, y2, sc), cls = a
        cx = g.op("Mul", [g.op("Add", [x1, x2]), half])
        cy = g.op("Mul", [g.op("Add", [y1, y2]), half])
        w, h = g.op("Sub", [x2, x1]), g.op("Sub", [y2, y1])
        cls_scores = [sc if cls == c else zero for c in range(2)]
        return cx, cy, w, h, sc, cls_scores, (x1, y1, x2, y2)

    per = [fields(a) for a in anchors]
    if layout == "yolov8":
        rows = [[p[0] for p in per], [p[1] for p in per], [p[2] for p in per], [p[3] for p in per],
                [p[5][0] for p in per], [p[5][1] for p in per]]
        row_t = [unsq(g.op("Concat", [unsq(v, 1) for v in r], axis=1), 1) for r in rows]
        outputs = [("output0", g.op("Concat", row_t, axis=1), TensorProto.FLOAT, ["batch", 6, DET_ANCHORS])]
    elif layout == "yolox":
        # objectness = the score, class scores one-hot: score = objectness x class.
        onehot = lambda cls, c: g.op("Add", [zero, g.const(np.float32(1.0 if cls == c else 0.0))])
        rows = [unsq(g.op("Concat", [unsq(v, 1) for v in [p[0], p[1], p[2], p[3], p[4], onehot(a[1], 0), onehot(a[1], 1)]], axis=1), 1)
                for p, a in zip(per, anchors)]
        outputs = [("output", g.op("Concat", rows, axis=1), TensorProto.FLOAT, ["batch", DET_ANCHORS, 7])]
    else:
        rows = [unsq(g.op("Concat", [unsq(v, 1) for v in [*p[6], p[4]]], axis=1), 1) for p in per]
        dets = g.op("Concat", rows, axis=1)
        labels = g.op("Cast", [g.op("Concat", [unsq(g.op("Add", [zero, g.const(np.float32(max(a[1], 0)))]), 1)
                                                for a in anchors], axis=1)], to=TensorProto.INT64)
        outputs = [("dets", dets, TensorProto.FLOAT, ["batch", DET_ANCHORS, 5]),
                   ("labels", labels, TensorProto.INT64, ["batch", DET_ANCHORS])]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, DET_IN, DET_IN])
    outs = []
    for name, t, dtype, shape in outputs:
        g.nodes.append(helper.make_node("Identity", [t], [name]))
        outs.append(helper.make_tensor_value_info(name, dtype, shape))
    graph = helper.make_graph(g.nodes, "g", [inp], outs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="sapiens-stream gen_test_models.py")
    m.ir_version = 8
    m.doc_string = ("Analytic person detector (%s outputs): boxes of marker-colour rectangles; "
                    "not a real detector." % layout)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def analytic_normal(path):
    """Normal model: output (B,3,512,384) = 2x2-averaged (R, G, B) - 128: a region painted in
    colour c has the unit normal (c - 128) / |c - 128|."""
    g = Graph()
    x = g.op("Mul", ["input", g.const(STD.reshape(1, 3, 1, 1))])
    x = g.op("Add", [x, g.const((MEAN - 128.0).reshape(1, 3, 1, 1).astype(np.float32))])
    out = g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    g.save(path, "input", out, 3, "Analytic normal model: n = RGB - 128 (2x2 average).", "normal", (IN_H // 2, IN_W // 2))


# Real Sapiens v1 dimensions (SAPIENS.md section 1, sapiens-data/sapiens_models.json): embed C,
# layers, heads; pose head deconv (768, 768) + conv (768, 768) 1x1 (section 2).
REAL_V1 = {"0.3b": (1024, 24, 16), "0.6b": (1280, 32, 16), "1b": (1536, 40, 24), "2b": (1920, 48, 32)}


def real_size_pose(path, size, k=308):
    """A v1 pose model of the real dimensions (3072 tokens, `size`'s width/depth/heads, the
    official 768-channel heatmap head) with random weights: benchmarks and proving the runtime on
    the real graph. Its keypoints are noise."""
    c, depth, heads = REAL_V1[size]
    sapiens_model(path, "pose", k, width=c, depth=depth, heads=heads, head_ch=768, seed=1)


def main():
    if sys.argv[1:] == ["--check"]:
        check()
    elif sys.argv[1:2] == ["--real-size"]:
        # gen_test_models.py --real-size 0.3b OUT.onnx: Goliath-308 pose, real v1 dimensions.
        size, out = sys.argv[2], sys.argv[3]
        real_size_pose(out, size)
        print(f"wrote {out} (+ .data): Sapiens v1 {size} pose architecture, random weights")
    else:
        generate(sys.argv[1] if len(sys.argv) > 1 else "tests/models")


if __name__ == "__main__":
    main()
