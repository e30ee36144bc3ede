"""Post-processing appended to an exported model's graph, so that little leaves the device.

pose: heatmaps [N, K, H, W] -> keypoints [N, K, 228] float32, per keypoint
  [x, y, max, h(-7,-7) .. h(7,7)]: the argmax position (heatmap px, first maximum as np.argmax),
  the heatmap maximum (the score), and the raw heatmap values at the 15x15 positions around the
  argmax, row by row, 0 off the map: all that DARK-UDP reads (its Gaussian blur, k=11, at the 5x5
  positions around the argmax). sapienspose recognizes the form by its output shape [N, K, 228]
  and finishes DARK-UDP on those values exactly as on the heatmaps (the same floats, the same
  arithmetic): 308 x 228 x 4 = 281 KB leave the model per person instead of 60.5 MB, and the
  argmax over 49,152 values per keypoint runs next to the model.

seg: logits [N, C, h, w] -> labels [N, 1, h, w] int32, the first maximum over classes at the
  model's resolution (np.argmax): 4 bytes a pixel leave the model instead of 4 x C (28x fewer for
  Goliath's 28 classes). sapiensseg recognizes it by its [N, 1, h, w] output: `mode=fast`
  (argmax at model resolution, nearest upsample) gives the same labels; `mode=exact` (argmax
  of the upsampled logits) needs the logits and is refused with such a model.

    python scripts/postprocess_graph.py pose|seg IN.onnx OUT.onnx

Only onnx and numpy are needed (gen_test_models.py and both export scripts use it).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The decoder reads the blur (radius 5) at +-2 around the argmax: raw values at +-7.
PATCH = 2 + 5
DECODED_LEN = 3 + (2 * PATCH + 1) ** 2


class Builder:
    def __init__(self, graph, prefix):
        self.graph, self.prefix, self.n = graph, prefix, 0

    def name(self):
        self.n += 1
        return f"{self.prefix}{self.n}"

    def const(self, value):
        name = self.name()
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, output=None, **attrs):
        out = output or self.name()
        self.graph.node.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def first_output_nchw(output, expected):
    """The batch dimension and the three fixed dimensions of a 4-D output; exits naming the
    output and what was `expected` otherwise."""
    dims = [d.dim_value if d.HasField("dim_value") else None for d in output.type.tensor_type.shape.dim]
    if len(dims) != 4 or None in dims[1:]:
        raise SystemExit(f"output '{output.name}': expected {expected}, got {dims}")
    return output.type.tensor_type.shape.dim[0], dims[1:]


def append_pose_decode(model, output_name="keypoints"):
    """Replaces the model's heatmap output (its first, [N, K, H, W] with K, H, W fixed) by the
    decoded form. Returns the model."""
    g = model.graph
    hm = g.output[0]
    batch, (k, h, w) = first_output_nchw(hm, "heatmaps [N, K, H, W] with K, H, W fixed")
    b = Builder(g, "sapiens_decode/")
    i64 = lambda v: b.const(np.array(v, np.int64))
    flat = b.op("Reshape", [hm.name, i64([0, k, h * w])])
    idx = b.op("ArgMax", [flat], axis=2, keepdims=1)  # [N, K, 1], first maximum
    peak = b.op("GatherElements", [flat, idx], axis=2)  # [N, K, 1], the maximum itself
    py = b.op("Div", [idx, i64(w)])
    px = b.op("Sub", [idx, b.op("Mul", [py, i64(w)])])
    off = np.arange(-PATCH, PATCH + 1, dtype=np.int64)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    yy = b.op("Add", [py, i64(oy.reshape(1, 1, -1))])
    xx = b.op("Add", [px, i64(ox.reshape(1, 1, -1))])
    inside = b.op("And", [
        b.op("And", [b.op("GreaterOrEqual", [yy, i64(0)]), b.op("Less", [yy, i64(h)])]),
        b.op("And", [b.op("GreaterOrEqual", [xx, i64(0)]), b.op("Less", [xx, i64(w)])]),
    ])
    yc = b.op("Clip", [yy, i64(0), i64(h - 1)])
    xc = b.op("Clip", [xx, i64(0), i64(w - 1)])
    gather = b.op("Add", [b.op("Mul", [yc, i64(w)]), xc])
    patch = b.op("GatherElements", [flat, gather], axis=2)
    # Zero padding: values off the map count as 0, as in the decoder's blur.
    patch = b.op("Mul", [patch, b.op("Cast", [inside], to=TensorProto.FLOAT)])
    fx = b.op("Cast", [px], to=TensorProto.FLOAT)
    fy = b.op("Cast", [py], to=TensorProto.FLOAT)
    b.op("Concat", [fx, fy, peak, patch], output=output_name, axis=2)
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [None, k, DECODED_LEN])
    out.type.tensor_type.shape.dim[0].CopyFrom(batch)
    g.output.remove(hm)
    g.output.insert(0, out)
    model.doc_string = (model.doc_string + " " if model.doc_string else "") + (
        f"Pose decoding in the graph: '{output_name}' [N,{k},{DECODED_LEN}] = x, y, max, "
        f"15x15 values around the argmax of each {h}x{w} heatmap (scripts/postprocess_graph.py).")
    onnx.checker.check_model(model)
    return model


def append_seg_argmax(model, output_name="labels"):
    """Replaces the model's logits output (its first, [N, C, h, w] with C, h, w fixed) by the
    class labels. Returns the model."""
    g = model.graph
    logits = g.output[0]
    batch, (c, h, w) = first_output_nchw(logits, "logits [N, C, h, w] with C, h, w fixed")
    b = Builder(g, "sapiens_argmax/")
    idx = b.op("ArgMax", [logits.name], axis=1, keepdims=1)  # [N, 1, h, w], first maximum
    b.op("Cast", [idx], output=output_name, to=TensorProto.INT32)
    out = helper.make_tensor_value_info(output_name, TensorProto.INT32, [None, 1, h, w])
    out.type.tensor_type.shape.dim[0].CopyFrom(batch)
    g.output.remove(logits)
    g.output.insert(0, out)
    model.doc_string = (model.doc_string + " " if model.doc_string else "") + (
        f"Seg argmax in the graph: '{output_name}' [N,1,{h},{w}] int32 = the first of the {c} classes' "
        "maximum (scripts/postprocess_graph.py).")
    onnx.checker.check_model(model)
    return model


def main():
    heads = {"pose": append_pose_decode, "seg": append_seg_argmax}
    if len(sys.argv) != 4 or sys.argv[1] not in heads:
        sys.exit(__doc__)
    model = onnx.load(sys.argv[2])
    onnx.save(heads[sys.argv[1]](model), sys.argv[3])
    print(f"{sys.argv[3]}: {sys.argv[1]} post-processing in the graph")


if __name__ == "__main__":
    main()
