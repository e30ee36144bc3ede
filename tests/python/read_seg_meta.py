#!/usr/bin/env python3
"""Reads SapiensSegMeta and SapiensDepthMeta from Python, as the README shows.

Usage: read_seg_meta.py SEG_CONFIG DEPTH_CONFIG R,G,B
Pushes one 640x360 RGB frame, left half colour R,G,B and right half the background colour
(50,50,50), through `sapiensseg ! sapiensdepth`, and prints JSON: the class at (160,180) and
(480,180), the depth there, and the depth meta's foreground range.
"""
import json
import sys

import numpy as np
from push_one import push_one

W, H = 640, 360


def read_dense(buf):
    """The README's snippet: frame-size label map (uint8) and depth (float32, NaN = background)."""
    seg = buf.get_custom_meta("SapiensSegMeta").get_structure()
    h, w = seg.get_value("height"), seg.get_value("width")
    labels = np.frombuffer(seg.get_value("labels").get_data(), np.uint8).reshape(h, w)
    dep = buf.get_custom_meta("SapiensDepthMeta").get_structure()
    depth = np.frombuffer(dep.get_value("depth").get_data(), np.float32).reshape(h, w)
    return labels, depth, (dep.get_value("fg-min"), dep.get_value("fg-max"))


def main():
    seg_cfg, depth_cfg = sys.argv[1], sys.argv[2]
    colour = [int(v) for v in sys.argv[3].split(",")]
    frame = np.full((H, W, 3), 50, np.uint8)
    frame[:, : W // 2] = colour
    out = push_one(frame, f"sapiensseg config=\"{seg_cfg}\" ! sapiensdepth config=\"{depth_cfg}\"")
    labels, depth, rng = read_dense(out)
    print(json.dumps({
        "labels": [int(labels[180, 160]), int(labels[180, 480])],
        "depth": [None if np.isnan(depth[180, 160]) else float(depth[180, 160]),
                  None if np.isnan(depth[180, 480]) else float(depth[180, 480])],
        "range": list(rng),
    }))


if __name__ == "__main__":
    main()
