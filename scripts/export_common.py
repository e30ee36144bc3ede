"""Shared by export_sapiens.py (v1) and export_sapiens2.py: saving an exported graph with its
weights in one `.data` file beside it, checking ONNX Runtime against the framework, and the fp16
copy."""
import os

import numpy as np


def save_with_data(tmp, output, doc):
    """Moves the graph torch wrote to `tmp` to `output`, every weight in `output.data` (one file,
    whatever the size: protobuf stops at 2 GB), and checks it."""
    import onnx

    m = onnx.load(tmp)
    m.doc_string = doc
    data = os.path.basename(output) + ".data"
    if os.path.exists(output + ".data"):
        os.remove(output + ".data")
    onnx.save_model(m, output, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)
    folder = os.path.dirname(os.path.abspath(tmp))
    os.remove(tmp)
    # The exporter may have written one file per tensor next to the temporary graph.
    for t in m.graph.initializer:
        p = os.path.join(folder, t.name)
        if os.path.isfile(p):
            os.remove(p)
    onnx.checker.check_model(output)


def compare(names, reference, got):
    """Per output: shape, max |got − reference| and that over max |reference|."""
    out = {}
    for n, r, g in zip(names, reference, got):
        r = np.asarray(r)
        diff = float(np.abs(r - g).max())
        out[n] = {"shape": list(g.shape), "max_abs_diff": diff,
                  "relative": diff / max(float(np.abs(r).max()), 1e-12),
                  "same_shape": list(g.shape) == list(r.shape)}
        print(f"{n}: shape {list(g.shape)}, max |onnx - reference| = {diff:.3g} "
              f"({out[n]['relative']:.3g} of max |reference|)")
    return out


def run_onnx(path, names, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(names, {"input": x})


def _shape_casts_to_fp16(m16):
    """Casts to float32 of values computed from shapes only (the attention scale
    1/sqrt(head_dim) the TorchScript exporter builds from Shape): onnxconverter-common turns the
    constants they meet into fp16 but leaves these casts, so the graph would mix the types. They
    become casts to fp16. Returns how many."""
    from onnx import TensorProto

    prod = {o: n for n in m16.graph.node for o in n.output}
    int_inits = {t.name for t in m16.graph.initializer
                 if t.data_type in (TensorProto.INT64, TensorProto.INT32)}
    memo = {}

    def shape_derived(t):
        if t not in memo:
            memo[t] = False
            p = prod.get(t)
            if p is None:
                memo[t] = t in int_inits
            elif p.op_type in ("Shape", "Constant"):
                memo[t] = True
            else:
                memo[t] = all(shape_derived(i) for i in p.input if i)
        return memo[t]

    fixed = 0
    for n in m16.graph.node:
        if n.op_type == "Cast" and n.attribute[0].i == TensorProto.FLOAT and shape_derived(n.input[0]):
            n.attribute[0].i = TensorProto.FLOAT16
            fixed += 1
    return fixed


def fp16_copy(output, output16, names, x, fp32_outputs):
    """An fp16 copy of `output` (weights and compute fp16, inputs and outputs kept float32 so the
    elements read it as they read the fp32 model; onnxconverter-common), and how far its outputs
    are from the fp32 model's on `x`."""
    import onnx
    from onnxconverter_common import float16

    m = onnx.load(output)
    m16 = float16.convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=True)
    _shape_casts_to_fp16(m16)
    data = os.path.basename(output16) + ".data"
    if os.path.exists(output16 + ".data"):
        os.remove(output16 + ".data")
    onnx.save_model(m16, output16, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)
    onnx.checker.check_model(output16)
    return compare(names, fp32_outputs, run_onnx(output16, names, x))


def decoded_copy(output, output_decoded, x, heatmaps):
    """A copy of the pose model `output` that decodes in its graph (scripts/postprocess_graph.py:
    keypoints [N, K, 228] instead of heatmaps), checked on `x` against the fp32 model's
    `heatmaps`: the argmax positions, the maxima and the 15x15 patches must be those of the
    heatmaps. Returns the figures (bytes per person before and after)."""
    import onnx
    from postprocess_graph import DECODED_LEN, PATCH, append_pose_decode

    m = append_pose_decode(onnx.load(output))
    data = os.path.basename(output_decoded) + ".data"
    if os.path.exists(output_decoded + ".data"):
        os.remove(output_decoded + ".data")
    onnx.save_model(m, output_decoded, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)
    onnx.checker.check_model(output_decoded)
    (rows,) = run_onnx(output_decoded, ["keypoints"], x)
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = flat.argmax(axis=2)
    xs, ys = idx % w, idx // w
    # The graph recomputes the model: allow its own run-to-run float differences.
    peaks_equal = bool((rows[..., 0] == xs).all() and (rows[..., 1] == ys).all())
    max_diff = float(np.abs(rows[..., 2] - flat.max(axis=2)).max())
    padded = np.pad(heatmaps, ((0, 0), (0, 0), (PATCH, PATCH), (PATCH, PATCH)))
    side = 2 * PATCH + 1
    patch_diff = max(
        float(np.abs(rows[b, c, 3:] - padded[b, c, ys[b, c]:ys[b, c] + side, xs[b, c]:xs[b, c] + side].ravel()).max())
        for b in range(n) for c in range(k))
    report = {"peaks_equal": peaks_equal, "max_abs_diff": max_diff, "patch_abs_diff": patch_diff,
              "bytes_per_person": k * DECODED_LEN * 4, "heatmap_bytes_per_person": k * h * w * 4}
    print(f"decoded in the graph: argmax equal {peaks_equal}, max |diff| {max_diff:.3g}, patch |diff| "
          f"{patch_diff:.3g}; {report['bytes_per_person']} bytes a person instead of "
          f"{report['heatmap_bytes_per_person']}")
    return report


def add_decode_flag(parser):
    """The export scripts' `--decode-in-graph` flag."""
    parser.add_argument("--decode-in-graph", action="store_true",
                        help="pose: also write OUTPUT-decoded.onnx, decoding next to the model "
                             "(scripts/postprocess_graph.py: 228 floats a keypoint leave it, not heatmaps)")


def write_decoded(args, x, heatmaps):
    """With `--decode-in-graph`, the decoded copy of the pose export `args.output` beside it
    (see `decoded_copy`); its figures, or None without the flag."""
    import sys

    if not args.decode_in_graph:
        return None
    if args.task != "pose":
        sys.exit("--decode-in-graph is for pose models")
    out_dec = os.path.splitext(args.output)[0] + "-decoded.onnx"
    report = decoded_copy(args.output, out_dec, x, heatmaps)
    print(f"wrote {out_dec} (sapienspose recognizes its [N,K,228] output)")
    return report
