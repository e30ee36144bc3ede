#!/usr/bin/env python3
"""Reads SapiensSegMeta and SapiensDepthMeta from Python, as the README shows.

Usage: read_seg_meta.py SEG_CONFIG DEPTH_CONFIG R,G,B
Pushes one 640x360 RGB frame, left half colour R,G,B and right half the background colour
(50,50,50), through `sapiensseg ! sapiensdepth`, and prints JSON: the class at (160,180) and
(480,180), the depth there, and the depth meta's foreground range.
"""
import json
import sys

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

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
    Gst.init(None)
    pipe = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={W},height={H},framerate=25/1 "
        f"! sapiensseg config=\"{seg_cfg}\" ! sapiensdepth config=\"{depth_cfg}\" ! appsink name=sink"
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
    labels, depth, rng = read_dense(sample.get_buffer())
    pipe.set_state(Gst.State.NULL)
    print(json.dumps({
        "labels": [int(labels[180, 160]), int(labels[180, 480])],
        "depth": [None if np.isnan(depth[180, 160]) else float(depth[180, 160]),
                  None if np.isnan(depth[180, 480]) else float(depth[180, 480])],
        "range": list(rng),
    }))


if __name__ == "__main__":
    main()
