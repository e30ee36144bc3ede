"""Pre-processing as an ONNX graph, so the host uploads frame bytes instead of a float tensor per
crop (a 1024x768 float32 crop is 9.4 MB; the BGRx frame it comes from 1.8 MB at 768x576).

pose_warp: inputs `frames` uint8 [F, H, W, C] (packed pixels, C = 3 or 4; the frames of one
  batch, all one size), `affine` float64 [N, 2, 3] (frame px -> crop px per person, the map the
  Rust side builds: Crop::udp_warp) and `frame_index` int64 [N] (which frame each crop is cut
  from); output `input` float32 [N, 3, out_h, out_w], normalized, RGB planes. It is OpenCV's
  `warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)` on 8-bit pixels to the integer, as the CPU path
  (and the official code) runs it: the map inverted in float64, source positions in OpenCV's
  fixed point (1/1024, rounded half to even, then 1/32 px), bilinear weights in 1/32768 and the
  sum rounded to an 8-bit value; then RGB order and (v - mean) / std.

    python scripts/preprocess_graph.py pose-warp OUT.onnx [--rgb] [--height 1024 --width 768]
        [--mean R G B --std R G B]
    python scripts/preprocess_graph.py prepend PREFIX.onnx MODEL.onnx OUT.onnx

`prepend` feeds the prefix's `input` into the model's first input: the result takes frames,
maps and frame indices (inputs `frames`, `affine`, `frame_index`: the "pixel form" sapienspose
recognizes). Both carry the pre-processing record in the model's metadata (`sapiens.pixel_form`:
crop size, mean, std, channels), which sapienspose checks against the config's [input]. Only onnx
and numpy are needed.
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Model metadata key of the pre-processing record (JSON: height, width, mean, std, channels).
PIXEL_FORM_KEY = "sapiens.pixel_form"
MEAN = [123.5, 116.5, 103.5]
STD = [58.5, 57.0, 57.5]
OPSET = 17


def pose_warp(out_h=1024, out_w=768, rgb=(2, 1, 0), mean=MEAN, std=STD, channels=4):
    nodes, inits = [], []
    n = [0]

    def const(v, dtype):
        n[0] += 1
        name = f"c{n[0]}"
        inits.append(numpy_helper.from_array(np.asarray(v, dtype), name))
        return name

    def op(t, ins, **kw):
        n[0] += 1
        out = f"t{n[0]}"
        nodes.append(helper.make_node(t, ins, [out], **kw))
        return out

    f64 = lambda v: const(v, np.float64)
    i64 = lambda v: const(v, np.int64)
    # The map's inverse (crop -> frame), as warpAffine computes it when not given WARP_INVERSE_MAP.
    m = [op("Gather", [op("Reshape", ["affine", i64([-1, 6])]), i64([k])], axis=1) for k in range(6)]  # [N,1]
    d = op("Sub", [op("Mul", [m[0], m[4]]), op("Mul", [m[1], m[3]])])
    d = op("Div", [f64(1.0), d])
    a11, a22 = op("Mul", [m[4], d]), op("Mul", [m[0], d])
    a12, a21 = op("Mul", [m[1], op("Neg", [d])]), op("Mul", [m[3], op("Neg", [d])])
    b1 = op("Sub", [op("Mul", [op("Neg", [a11]), m[2]]), op("Mul", [a12, m[5]])])
    b2 = op("Sub", [op("Mul", [op("Neg", [a21]), m[2]]), op("Mul", [a22, m[5]])])
    # Fixed-point source positions: X = (round((a12*y + b1)*1024) + 16 + round(a11*x*1024)) >> 5.
    un = lambda v: op("Unsqueeze", [v, i64([2])])  # [N,1] -> [N,1,1]
    xs = f64(np.arange(out_w, dtype=np.float64).reshape(1, 1, out_w))
    ys = f64(np.arange(out_h, dtype=np.float64).reshape(1, out_h, 1))
    scale = f64(1024.0)
    adelta = op("Round", [op("Mul", [op("Mul", [un(a11), xs]), scale])])
    bdelta = op("Round", [op("Mul", [op("Mul", [un(a21), xs]), scale])])
    x0 = op("Add", [op("Round", [op("Mul", [op("Add", [op("Mul", [un(a12), ys]), un(b1)]), scale])]), f64(16.0)])
    y0 = op("Add", [op("Round", [op("Mul", [op("Add", [op("Mul", [un(a22), ys]), un(b2)]), scale])]), f64(16.0)])
    fixed_x = op("Floor", [op("Div", [op("Add", [x0, adelta]), f64(32.0)])])  # [N,H,W], 1/32 px
    fixed_y = op("Floor", [op("Div", [op("Add", [y0, bdelta]), f64(32.0)])])
    sx = op("Floor", [op("Div", [fixed_x, f64(32.0)])])
    sy = op("Floor", [op("Div", [fixed_y, f64(32.0)])])
    fx = op("Sub", [fixed_x, op("Mul", [sx, f64(32.0)])])
    fy = op("Sub", [fixed_y, op("Mul", [sy, f64(32.0)])])
    gx, gy = op("Sub", [f64(32.0), fx]), op("Sub", [f64(32.0), fy])
    weights = [op("Mul", [op("Mul", [wx, wy]), f64(32.0)]) for wy, wx in [(gy, gx), (gy, fx), (fy, gx), (fy, fx)]]
    # The frames as float64 [F*H*W, C]; each neighbour gathered from its crop's frame, 0 outside.
    shape = op("Shape", ["frames"])
    h = op("Cast", [op("Gather", [shape, i64([1])])], to=TensorProto.DOUBLE)  # [1]
    w = op("Cast", [op("Gather", [shape, i64([2])])], to=TensorProto.DOUBLE)
    flat = op("Cast", [op("Reshape", ["frames", i64([-1, channels])])], to=TensorProto.DOUBLE)
    base = op("Mul", [un(op("Unsqueeze", [op("Cast", ["frame_index"], to=TensorProto.DOUBLE), i64([1])])),
                      op("Mul", [h, w])])  # [N,1,1]: first pixel of each crop's frame
    acc = None
    for (dy, dx), wgt in zip([(0, 0), (0, 1), (1, 0), (1, 1)], weights):
        yy = op("Add", [sy, f64(float(dy))]) if dy else sy
        xx = op("Add", [sx, f64(float(dx))]) if dx else sx
        inside = op("And", [
            op("And", [op("GreaterOrEqual", [yy, f64(0.0)]), op("Less", [yy, h])]),
            op("And", [op("GreaterOrEqual", [xx, f64(0.0)]), op("Less", [xx, w])]),
        ])
        yc = op("Min", [op("Max", [yy, f64(0.0)]), op("Sub", [h, f64(1.0)])])
        xc = op("Min", [op("Max", [xx, f64(0.0)]), op("Sub", [w, f64(1.0)])])
        index = op("Cast", [op("Add", [op("Add", [op("Mul", [yc, w]), xc]), base])], to=TensorProto.INT64)
        px = op("Gather", [flat, index], axis=0)  # [N,H,W,C]
        term = op("Mul", [px, op("Unsqueeze", [op("Mul", [wgt, op("Cast", [inside], to=TensorProto.DOUBLE)]), i64([3])])])
        acc = term if acc is None else op("Add", [acc, term])
    v = op("Floor", [op("Div", [op("Add", [acc, f64(16384.0)]), f64(32768.0)])])  # the 8-bit value
    v = op("Gather", [v, i64(list(rgb))], axis=3)  # RGB
    v = op("Cast", [v], to=TensorProto.FLOAT)
    v = op("Div", [op("Sub", [v, const(np.array(mean, np.float32), np.float32)]), const(np.array(std, np.float32), np.float32)])
    nodes.append(helper.make_node("Transpose", [v], ["input"], perm=[0, 3, 1, 2]))
    graph = helper.make_graph(
        nodes, "sapiens_pose_warp",
        [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["frames", "height", "width", channels]),
         helper.make_tensor_value_info("affine", TensorProto.DOUBLE, ["persons", 2, 3]),
         helper.make_tensor_value_info("frame_index", TensorProto.INT64, ["persons"])],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["persons", 3, out_h, out_w])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="sapiens-stream preprocess_graph.py")
    model.ir_version = 8
    model.doc_string = (f"Pose crop pre-processing in the graph: frames uint8 [F,H,W,{channels}] + affine [N,2,3] + frame_index [N] -> "
                        f"input [N,3,{out_h},{out_w}] (OpenCV warpAffine INTER_LINEAR fixed point, RGB {list(rgb)}, "
                        f"mean {list(mean)}, std {list(std)}).")
    # What sapienspose checks against the config's [input] (crop size, normalization): the
    # graph has them baked in.
    record = {"height": out_h, "width": out_w, "mean": list(map(float, mean)), "std": list(map(float, std)),
              "channels": channels}
    helper.set_model_props(model, {PIXEL_FORM_KEY: json.dumps(record)})
    onnx.checker.check_model(model)
    return model


def prepend(prefix, model):
    """`model` fed by `prefix`'s `input`."""
    from onnx import compose

    from onnx import version_converter

    target = model.graph.input[0].name
    # merge_models needs one IR version and one opset: the prefix takes the model's.
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    if opset != OPSET:
        prefix = version_converter.convert_version(prefix, opset)
    prefix.ir_version = model.ir_version
    prefix = compose.add_prefix(prefix, "pre/", rename_inputs=False)
    merged = compose.merge_models(prefix, model, io_map=[("pre/input", target)])
    merged.doc_string = f"{prefix.doc_string}\nThen: {model.doc_string}"
    props = {p.key: p.value for p in model.metadata_props}
    props.update({p.key: p.value for p in prefix.metadata_props})
    helper.set_model_props(merged, props)
    return merged


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("pose-warp")
    w.add_argument("out")
    w.add_argument("--rgb", action="store_true", help="frames are RGB (default BGRx)")
    w.add_argument("--height", type=int, default=1024)
    w.add_argument("--width", type=int, default=768)
    w.add_argument("--mean", type=float, nargs=3, default=MEAN, metavar=("R", "G", "B"),
                   help="the model's normalization, 0..255 scale (Sapiens2: its config's [input])")
    w.add_argument("--std", type=float, nargs=3, default=STD, metavar=("R", "G", "B"))
    p = sub.add_parser("prepend")
    p.add_argument("prefix")
    p.add_argument("model")
    p.add_argument("out")
    a = ap.parse_args()
    if a.cmd == "pose-warp":
        rgb, ch = ((0, 1, 2), 3) if a.rgb else ((2, 1, 0), 4)
        onnx.save(pose_warp(a.height, a.width, rgb, a.mean, a.std, channels=ch), a.out)
    else:
        merged = prepend(onnx.load(a.prefix), onnx.load(a.model))
        # Real-size models (0.3B: 1.3 GB) keep their weights beside the graph, as exported.
        big = sum(len(t.raw_data) for t in merged.graph.initializer) > 512 << 20
        onnx.save(merged, a.out, save_as_external_data=big, all_tensors_to_one_file=True,
                  location=os.path.basename(a.out) + ".data")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
