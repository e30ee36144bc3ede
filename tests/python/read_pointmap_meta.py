#!/usr/bin/env python3
"""Reads Sapiens2 results (29-class SapiensSegMeta, SapiensPointmapMeta) from Python with the
`sapiens_stream` package.

Usage: read_pointmap_meta.py SEG29_CONFIG POINTMAP_CONFIG R,G,B
Pushes one 640x360 RGB frame, the left three quarters colour R,G,B and the rest the background
colour (50,50,50), through `sapiensseg ! sapienspointmap`, and prints JSON: the class names at
(160,180) and (560,180), the points there (null for NaN), scale, focal length, Z range.
"""
import json
import sys

import numpy as np
import sapiens_stream
from push_one import push_one

W, H = 640, 360


def point(p):
    return None if np.isnan(p).any() else [float(v) for v in p]


def main():
    seg_cfg, pm_cfg = sys.argv[1], sys.argv[2]
    colour = [int(v) for v in sys.argv[3].split(",")]
    frame = np.full((H, W, 3), 50, np.uint8)
    frame[:, : 3 * W // 4] = colour
    out = push_one(frame, f"sapiensseg config=\"{seg_cfg}\" ! sapienspointmap config=\"{pm_cfg}\"")
    seg, pm = sapiens_stream.seg(out), sapiens_stream.pointmap(out)
    print(json.dumps({
        "names": [seg.class_names[seg.labels[180, 160]], seg.class_names[seg.labels[180, 560]]],
        "num_classes": len(seg.class_names),
        "points": [point(pm.points[180, 160]), point(pm.points[180, 560])],
        "scale": pm.scale,
        "focal_px": pm.focal_px,
        "z_range": list(pm.z_range),
        "masked": pm.masked,
    }))


if __name__ == "__main__":
    main()
