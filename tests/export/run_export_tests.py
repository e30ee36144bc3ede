#!/usr/bin/env python3
"""`make test-export`: the export paths proven on the real architectures with random weights
(official weights cannot be fetched here), then run through the elements.

Sapiens v1: a TorchScript checkpoint of the real 0.3B architecture for each task
(tests/export/v1_torchscript.py, as Meta's `*_torchscript.pt2`) → scripts/export_sapiens.py (fp32
and fp16 ONNX, ONNX Runtime vs TorchScript) → `sapienspose`, `sapiensseg`, `sapiensdepth`,
`sapiensnormal`; the pose network also as an original `.pth` and a `*_bfloat16.pt2`
ExportedProgram (the same weights), each exported and checked, and two bad files refused.
Sapiens2: each task at 0.4B built from its config by Transformers (random weights) →
scripts/export_sapiens2.py (ONNX Runtime vs PyTorch, fp32 vs bf16 RoPE) → `sapienspose`,
`sapiensseg`, `sapiensnormal`, `sapienspointmap`.

Element checks use a 768x1024 frame (the model's input size: the stretch, and the letterbox at
scale 1 without padding, are the identity), so the element's input equals the normalized frame
and its results can be compared with PyTorch's on that same tensor: seg labels with the argmax of
the logits (v1: upsampled bilinearly, as the official demo), normals with the unit-length model
output, points with pointmap / scale; pose runs through the element (308 keypoints per person, in
the frame) and its heatmaps are compared through the export check.

Needs: .venv-export (scripts/setup-export.sh), a built plugin (target/debug). Prints one table and
writes OUT/report.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
os.environ.setdefault("GST_PLUGIN_PATH", os.path.join(ROOT, "target", "debug"))

V1_MEAN, V1_STD = np.array([123.5, 116.5, 103.5]), np.array([58.5, 57.0, 57.5])
V2_MEAN, V2_STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    t = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.time() - t


def frame():
    """A 768x1024 RGB frame: vtest.avi's first frame stretched (people walking), uint8."""
    import cv2

    cap = cv2.VideoCapture(os.path.join(ROOT, "data", "vtest.avi"))
    ok, bgr = cap.read()
    if not ok:
        sys.exit("data/vtest.avi unreadable: run make setup")
    return cv2.resize(bgr, (768, 1024), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].copy()


def tensor(rgb, mean, std):
    return ((rgb.astype(np.float64) - mean) / std).astype(np.float32).transpose(2, 0, 1)[None]


def config(path, model, body):
    with open(path, "w") as f:
        f.write(f'schema_version = 1\n[model]\npath = "{os.path.abspath(model)}"\nweights = "untrained"\n{body}')
    return path


def ort_run(model, x, names):
    import onnxruntime as ort

    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return s.run(names, {"input": x})


def through(rgb, elements):
    from push_one import push_one

    return push_one(rgb, elements, timeout_s=900)  # real-size models on a CPU: minutes


def other_forms(args, r, x, ts_onnx, check, py):
    """The v1 pose network (same seed, same weights) in the two other forms Meta ships, the
    original `.pth` and the `*_bfloat16.pt2` ExportedProgram, through export_sapiens.py: the first
    must give the TorchScript export's heatmaps, the second those of the network with its weights
    rounded to bf16 (computed here in float32 PyTorch); a wrong task and a missing tensor must stop
    the export naming them."""
    import torch

    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from sapiens_v1_arch import SapiensV1

    want_ts = ort_run(ts_onnx, x, ["heatmaps"])[0]
    torch.manual_seed(0)
    net = SapiensV1("pose", args.v1_size).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.to(torch.bfloat16).float())
        want_bf16 = net(torch.from_numpy(x)).numpy()
    for form, name, want, bound in [("pth", "pth", want_ts, 1e-5), ("bf16", "bfloat16.pt2", want_bf16, 1e-3)]:
        ck = os.path.join(args.out, f"v1_{args.v1_size}_pose.{name}")
        out = os.path.join(args.out, f"sapiens_{args.v1_size}_pose_from_{form}.onnx")
        rep = os.path.join(args.out, f"v1_pose_{form}.json")
        if not (args.reuse and os.path.exists(rep)):
            run([py, "tests/export/v1_torchscript.py", "--task", "pose", "--size", args.v1_size, "--form", form, ck])
            run([py, "scripts/export_sapiens.py", ck, out, "--task", "pose", "--report", rep]
                + (["--bf16-check"] if form == "bf16" else []))
        with open(rep) as f:
            fr = json.load(f)
        got = ort_run(out, x, ["heatmaps"])[0]
        rel = float(np.abs(got - want).max() / np.abs(want).max())
        r[f"from_{form}"] = dict(fr, frame_relative=rel)
        check(rel <= bound, f"v1 pose from the {form} form ({fr['form']}): heatmaps on the frame within {rel:.2e} "
                            f"of {'the TorchScript export' if form == 'pth' else 'the bf16-rounded network'}")
        if "vs_bf16_program" in fr:
            v = fr["vs_bf16_program"]["relative"]
            check(v <= 5e-2, f"v1 pose from bf16: float32 ONNX vs the bf16 program run on the CPU {v:.2e} relative")
    pth = os.path.join(args.out, f"v1_{args.v1_size}_pose.pth")
    bad = subprocess.run([py, "scripts/export_sapiens.py", pth, os.path.join(args.out, "wrong.onnx"), "--task", "seg"],
                         cwd=ROOT, capture_output=True, text=True)
    check(bad.returncode != 0 and "holds a Sapiens pose network, not --task seg" in bad.stderr,
          f"v1 .pth exported as the wrong task is refused: {bad.stderr.strip().splitlines()[-1:]}")
    ck = torch.load(pth, map_location="cpu", weights_only=True)
    del ck["state_dict"]["backbone.layers.3.attn.proj.weight"]
    cut = os.path.join(args.out, "v1_cut.pth")
    torch.save(ck, cut)
    bad = subprocess.run([py, "scripts/export_sapiens.py", cut, os.path.join(args.out, "cut.onnx"), "--task", "pose"],
                         cwd=ROOT, capture_output=True, text=True)
    os.remove(cut)
    check(bad.returncode != 0 and "missing 1: backbone.layers.3.attn.proj.weight" in bad.stderr,
          f"v1 .pth with a tensor missing is refused naming it: {bad.stderr.strip().splitlines()[-1:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "export"))
    ap.add_argument("--v1-size", default="0.3b")
    ap.add_argument("--v2-size", default="0.4b")
    ap.add_argument("--reuse", action="store_true", help="keep models (and their export reports) already in OUT")
    ap.add_argument("--families", default="v1,v2", help="v1, v2 or v1,v2")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    import sapiens_stream as ss
    import torch

    py = sys.executable
    rgb = frame()
    report, failures = {"v1": {}, "v2": {}}, []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    # ---- Sapiens v1: TorchScript of the real architecture → export_sapiens.py → elements ----
    for task in ["pose", "seg", "depth", "normal"] if "v1" in args.families else []:
        ts = os.path.join(args.out, f"v1_{args.v1_size}_{task}.pt2")
        onnx_path = os.path.join(args.out, f"sapiens_{args.v1_size}_{task}_random.onnx")
        rep = os.path.join(args.out, f"v1_{task}.json")
        build_s = export_s = 0.0
        if not (args.reuse and os.path.exists(rep)):
            build_s = run([py, "tests/export/v1_torchscript.py", "--task", task, "--size", args.v1_size, ts])
            # fp16 copies for pose and seg: checking the full-resolution depth/normal heads' fp16
            # copy on ONNX Runtime's CPU took over 19 GB here (it runs fp16 convolutions via casts).
            fp16 = ["--fp16"] if task in ("pose", "seg") else []
            if task == "pose":
                fp16.append("--decode-in-graph")
            export_s = run([py, "scripts/export_sapiens.py", ts, onnx_path, "--task", task, *fp16,
                            "--report", rep])
        with open(rep) as f:
            r = json.load(f)
        if build_s:
            r.update(build_s=round(build_s, 1), export_s=round(export_s, 1))
        check(r["relative"] <= 1e-3, f"v1 {task}: ONNX Runtime vs TorchScript {r['max_abs_diff']:.2e} "
                                     f"({r['relative']:.2e} relative)")
        if "fp16" in r:
            check(r["fp16"]["relative"] <= 5e-2, f"v1 {task}: fp16 ONNX vs fp32 {r['fp16']['relative']:.2e} relative")
        x = tensor(rgb, V1_MEAN, V1_STD)
        model = torch.jit.load(ts).eval()
        with torch.no_grad():
            ref = model(torch.from_numpy(x))
        if task == "pose":
            cfg = config(os.path.join(args.out, "v1_pose.toml"), onnx_path, '[pose]\nkeypoint_set = "goliath-308"\n')
            t = time.time()
            p = ss.pose(through(rgb, f'sapienspose config="{cfg}"'))
            r["element_s"] = round(time.time() - t, 1)
            # The whole-frame box padded x1.25: the crop spans 1.25x the frame around its centre.
            kx, ky = p.keypoints[0, :, 0], p.keypoints[0, :, 1]
            inside = np.all((kx >= -0.125 * 768 - 8) & (kx <= 1.125 * 768 + 8)
                            & (ky >= -0.125 * 1024 - 8) & (ky <= 1.125 * 1024 + 8))
            check(p.keypoints.shape == (1, 308, 3) and bool(inside),
                  "v1 pose through sapienspose: 308 keypoints inside the person crop")
            if "decoded" in r:
                d = r["decoded"]
                check(d["peaks_equal"] and d["patch_abs_diff"] <= 1e-5 * max(1.0, float(ref.abs().max())),
                      f"v1 pose decoded in the graph: argmax equal, patch |diff| {d['patch_abs_diff']:.2e}")
                dec_path = os.path.splitext(onnx_path)[0] + "-decoded.onnx"
                cfg_d = config(os.path.join(args.out, "v1_pose_decoded.toml"), dec_path,
                               '[pose]\nkeypoint_set = "goliath-308"\n')
                pd = ss.pose(through(rgb, f'sapienspose config="{cfg_d}"'))
                dist = float(np.abs(pd.keypoints[..., :2] - p.keypoints[..., :2]).max())
                r["decoded"]["element_max_px"] = dist
                check(dist <= 0.01, f"v1 pose decoded in the graph through sapienspose: keypoints within {dist:.2e} px")
            other_forms(args, r, x, onnx_path, check, py)
        elif task == "depth":
            cfg = config(os.path.join(args.out, "v1_depth.toml"), onnx_path, "[depth]\n")
            d = ss.depth(through(rgb, f'sapiensdepth config="{cfg}"')).depth
            rel = float(np.abs(d - ref[0, 0].numpy()).max() / np.abs(ref.numpy()).max())
            r["element_relative_diff"] = rel
            check(rel <= 1e-3, f"v1 depth through sapiensdepth: within {rel:.2e} of torch's depth")
        elif task == "normal":
            cfg = config(os.path.join(args.out, "v1_normal.toml"), onnx_path, "[normal]\n")
            n = ss.normal(through(rgb, f'sapiensnormal config="{cfg}"')).normals
            up = torch.nn.functional.interpolate(ref, size=(1024, 768), mode="bilinear", align_corners=False)
            want = up[0].numpy().transpose(1, 2, 0)
            want = want / (np.linalg.norm(want, axis=-1, keepdims=True) + 1e-5)
            diff = float(np.abs(n - want).max())
            r["element_max_abs_diff"] = diff
            check(diff <= 1e-3, f"v1 normal through sapiensnormal: max |element - torch unit normals| = {diff:.2e}")
        else:
            cfg = config(os.path.join(args.out, "v1_seg.toml"), onnx_path, "[seg]\n")
            s = ss.seg(through(rgb, f'sapiensseg config="{cfg}" mode=exact'))
            up = torch.nn.functional.interpolate(ref, size=(1024, 768), mode="bilinear", align_corners=False)
            want = up.argmax(1)[0].numpy()
            agree = float((s.labels == want).mean())
            r["element_label_agreement"] = agree
            check(agree >= 0.999, f"v1 seg through sapiensseg: {agree:.5f} of pixels = argmax of upsampled torch logits")
        report["v1"][task] = r

    # ---- Sapiens2: Transformers model from its config → export_sapiens2.py → elements ----
    import transformers

    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import export_sapiens2 as e2

    bodies = {
        "pose": '[input]\nmean = [123.675, 116.28, 103.53]\nstd = [58.395, 57.12, 57.375]\n[pose]\nkeypoint_set = "goliath-308"\n',
        "seg": '[input]\nmean = [123.675, 116.28, 103.53]\nstd = [58.395, 57.12, 57.375]\n'
               '[seg]\nclasses = "dome-seg-29"\noutput_stride = 1\n',
        "normal": '[input]\nmean = [123.675, 116.28, 103.53]\nstd = [58.395, 57.12, 57.375]\nresize = "letterbox"\n'
                  '[normal]\noutput_stride = 1\n',
        "pointmap": '[input]\nmean = [123.675, 116.28, 103.53]\nstd = [58.395, 57.12, 57.375]\nresize = "letterbox"\n'
                    '[pointmap]\noutput_stride = 1\n',
    }
    element = {"pose": "sapienspose", "seg": "sapiensseg", "normal": "sapiensnormal", "pointmap": "sapienspointmap"}
    for task in ["pose", "seg", "normal", "pointmap"] if "v2" in args.families else []:
        onnx_path = os.path.join(args.out, f"sapiens2_{args.v2_size}_{task}_random.onnx")
        rep = os.path.join(args.out, f"v2_{task}.json")
        if not (args.reuse and os.path.exists(rep)):
            run([py, "scripts/export_sapiens2.py", "--task", task, "--size", args.v2_size, "--random",
                 "--seed", "0", "--rope-check", "--report", rep, onnx_path])
        with open(rep) as f:
            r = json.load(f)
        for n, o in r["outputs"].items():
            check(o["relative"] <= 1e-3, f"v2 {task} {n}: ONNX Runtime vs PyTorch {o['max_abs_diff']:.2e} "
                                         f"({o['relative']:.2e} relative)")
        x = tensor(rgb, V2_MEAN, V2_STD)
        names = e2.OUTPUTS[task]
        ref = ort_run(onnx_path, x, names)  # = PyTorch within the export check above
        torch.manual_seed(0)
        model = e2.build(task, args.v2_size, None)
        with torch.no_grad():
            tref = [t.numpy() for t in e2.Exported.reference(model, task, torch.from_numpy(x))]
        check(all(np.abs(a - b).max() <= 1e-3 * max(np.abs(b).max(), 1e-12) for a, b in zip(ref, tref)),
              f"v2 {task}: the same seed rebuilds the exported model (ONNX Runtime = PyTorch on the frame)")
        cfg = config(os.path.join(args.out, f"v2_{task}.toml"), onnx_path, bodies[task])
        t = time.time()
        out = through(rgb, f'{element[task]} config="{cfg}"')
        r["element_s"] = round(time.time() - t, 1)
        if task == "pose":
            p = ss.pose(out)
            check(p.keypoints.shape == (1, 308, 3) and np.isfinite(p.keypoints).all(),
                  "v2 pose through sapienspose: 308 keypoints")
        elif task == "seg":
            s = ss.seg(out)
            agree = float((s.labels == tref[0].argmax(1)[0]).mean())
            r["element_label_agreement"] = agree
            check(s.class_names[2] == "Eyeglass" and agree >= 0.999,
                  f"v2 seg through sapiensseg: {agree:.5f} of pixels = argmax of torch's 29 logits")
        elif task == "normal":
            n = ss.normal(out).normals
            want = tref[0][0].transpose(1, 2, 0)
            want = want / (np.linalg.norm(want, axis=-1, keepdims=True) + 1e-5)
            diff = float(np.abs(n - want).max())
            r["element_max_abs_diff"] = diff
            check(diff <= 1e-3, f"v2 normal through sapiensnormal: max |element - torch unit normals| = {diff:.2e}")
        else:
            m = ss.pointmap(out)
            scale = float(tref[1][0, 0])
            want = tref[0][0].transpose(1, 2, 0) / scale
            rel = float(np.abs(m.points - want).max() / np.abs(want).max())
            r["element_relative_diff"] = rel
            check(abs(m.scale - scale) <= 1e-3 * abs(scale) and rel <= 1e-3,
                  f"v2 pointmap through sapienspointmap: scale {m.scale:.4f} vs {scale:.4f}, points within {rel:.2e}")
        report["v2"][task] = r

    report["torch"] = torch.__version__
    report["transformers"] = transformers.__version__
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\n| model | params | export s | ONNX vs torch (rel) | RoPE bf16 vs fp32 (rel) | element s |")
    print("|---|---|---|---|---|---|")
    for fam, rows in report.items():
        if not isinstance(rows, dict):
            continue
        for task, r in rows.items():
            rel = r.get("relative") if "relative" in r else max(o["relative"] for o in r["outputs"].values())
            rope = r.get("rope_bf16_vs_fp32")
            rope = "-" if not rope else "%.2e" % max(o["relative"] for o in rope.values())
            params = r.get("params")
            print(f"| {fam} {task} | {params / 1e9:.3f} B | {r.get('export_s', '-')} | {rel:.2e} | {rope} | "
                  f"{r.get('element_s', '-')} |")
    if failures:
        sys.exit("failed: " + "; ".join(failures))
    print("export tests: all passed")


if __name__ == "__main__":
    main()
