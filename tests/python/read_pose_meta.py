#!/usr/bin/env python3
"""Reads SapiensPoseMeta from Python (PyGObject), as the README shows.

Usage: read_pose_meta.py CONFIG COLOURS_JSON X,Y,K [X,Y,K ...]
Pushes one black 640x360 RGB frame with a disc of colour K (from the analytic model's COLOURS_JSON) at each (X, Y) through
`sapienspose config=CONFIG`, and prints the pose result as JSON. Needs GST_PLUGIN_PATH to hold
libgstsapiens.so.
"""
import json
import sys

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

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

    Gst.init(None)
    pipe = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={W},height={H},framerate=25/1 "
        f"! sapienspose config=\"{config}\" ! appsink name=sink"
    )
    pipe.set_state(Gst.State.PLAYING)
    src, sink = pipe.get_by_name("src"), pipe.get_by_name("sink")
    buf = Gst.Buffer.new_wrapped(frame.tobytes())
    buf.pts, buf.duration = 0, Gst.SECOND // 25
    src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
    if sample is None:
        msg = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
        sys.exit(f"no output: {msg.parse_error()[0].message if msg else 'timeout'}")
    print(json.dumps(read_pose(sample.get_buffer())))
    pipe.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
