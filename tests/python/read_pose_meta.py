#!/usr/bin/env python3
"""Reads SapiensPoseMeta from Python (PyGObject), as the README shows.

Usage: read_pose_meta.py CONFIG COLOURS_JSON X,Y,K [X,Y,K ...]
Pushes one black 640x360 RGB frame with a disc of colour K (from the analytic model's COLOURS_JSON) at each (X, Y) through
`sapienspose config=CONFIG`, and prints the pose result as JSON. Needs GST_PLUGIN_PATH to hold
libgstsapiens.so.
"""
import json
import sys

import numpy as np
from push_one import push_one

W, H, R = 640, 360, 4


def read_pose(buf):
    """The README's snippet: SapiensPoseMeta → numpy arrays (no copy of the arrays)."""
    meta = buf.get_custom_meta("SapiensPoseMeta")
    if meta is None:
        return None
    s = meta.get_structure()
    n, k = s.get_value("num-persons"), s.get_value("num-keypoints")
    boxes = np.frombuffer(s.get_value("boxes").get_data(), np.float32).reshape(n, 4)
    kps = np.frombuffer(s.get_value("keypoints").get_data(), np.float32).reshape(n, k, 3)
    return {
        "keypoint_set": s.get_value("keypoint-set"),
        "untrained": s.get_value("untrained"),
        "boxes": boxes.tolist(),
        "keypoints": kps.tolist(),
    }


def main():
    config, colours_json = sys.argv[1], sys.argv[2]
    dots = [tuple(int(v) for v in d.split(",")) for d in sys.argv[3:]]
    colours = json.load(open(colours_json))["colours_rgb"]
    frame = np.zeros((H, W, 3), np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    for x, y, k in dots:
        frame[(xx - x) ** 2 + (yy - y) ** 2 <= R * R] = colours[k]

    out = push_one(frame, f"sapienspose config=\"{config}\"")
    print(json.dumps(read_pose(out)))


if __name__ == "__main__":
    main()
