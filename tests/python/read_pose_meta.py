#!/usr/bin/env python3
"""Reads SapiensPoseMeta from Python with the `sapiens_stream` package, as the README shows.

Usage: read_pose_meta.py CONFIG COLOURS_JSON X,Y,K [X,Y,K ...]
Pushes one black 640x360 RGB frame with a disc of colour K (from the analytic model's COLOURS_JSON) at each (X, Y) through
`sapienspose config=CONFIG`, and prints the pose result as JSON. Needs GST_PLUGIN_PATH to hold
libgstsapiens.so.
"""
import json
import sys

import numpy as np
import sapiens_stream
from push_one import push_one

W, H, R = 640, 360, 4


def read_pose(buf):
    """SapiensPoseMeta → the package's Pose (numpy views of the meta) → JSON-able dict."""
    p = sapiens_stream.pose(buf)
    if p is None:
        return None
    return {
        "keypoint_set": p.keypoint_set,
        "names": p.names,
        "untrained": p.untrained,
        "ids": p.ids.tolist(),
        "boxes": p.boxes.tolist(),
        "keypoints": p.keypoints.tolist(),
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
