#!/usr/bin/env python3
"""Reads SapiensSegMeta and SapiensDepthMeta from Python with the `sapiens_stream` package.

Usage: read_seg_meta.py SEG_CONFIG DEPTH_CONFIG R,G,B
Pushes one 640x360 RGB frame, left half colour R,G,B and right half the background colour
(50,50,50), through `sapiensseg ! sapiensdepth`, and prints JSON: the class at (160,180) and
(480,180), the depth there, and the depth meta's foreground range.
"""
import json
import sys

import numpy as np
import sapiens_stream
from push_one import push_one

W, H = 640, 360


def read_dense(buf):
    """Frame-size label map (uint8), class names, depth (float32, NaN = background), range."""
    seg, dep = sapiens_stream.seg(buf), sapiens_stream.depth(buf)
    return seg.labels, seg.class_names, dep.depth, dep.foreground


def main():
    seg_cfg, depth_cfg = sys.argv[1], sys.argv[2]
    colour = [int(v) for v in sys.argv[3].split(",")]
    frame = np.full((H, W, 3), 50, np.uint8)
    frame[:, : W // 2] = colour
    out = push_one(frame, f"sapiensseg config=\"{seg_cfg}\" ! sapiensdepth config=\"{depth_cfg}\"")
    labels, names, depth, rng = read_dense(out)
    print(json.dumps({
        "labels": [int(labels[180, 160]), int(labels[180, 480])],
        "names": [names[labels[180, 160]], names[labels[180, 480]]],
        "depth": [None if np.isnan(depth[180, 160]) else float(depth[180, 160]),
                  None if np.isnan(depth[180, 480]) else float(depth[180, 480])],
        "range": list(rng),
    }))


if __name__ == "__main__":
    main()
