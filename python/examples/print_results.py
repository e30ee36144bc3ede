#!/usr/bin/env python3
"""A small application on top of the elements: decode a video, run heads, and print each frame's
results (read with `sapiens_stream`) as one line of JSON.

Usage: print_results.py VIDEO 'ELEMENTS' [FRAMES]
  e.g. print_results.py data/vtest.avi \
         'sapiensdetect backend=hog ! sapienstrack ! sapienspose config=configs/pose-tiny-coco17.toml' 10
Needs GST_PLUGIN_PATH to hold libgstsapiens.so (target/release or target/debug).
"""
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import sapiens_stream  # noqa: E402


def summary(buf):
    """What this application cares about: who is where, and what the dense heads saw."""
    out = {}
    r = sapiens_stream.results(buf)
    if "pose" in r:
        p = r["pose"]
        nose = p.names.index("nose") if "nose" in p.names else 0
        out["persons"] = [
            {"id": int(i) if i >= 0 else None, "box": [round(float(v), 1) for v in b],
             "nose": [round(float(v), 1) for v in kps[nose]]}
            for i, b, kps in zip(p.ids, p.boxes, p.keypoints)
        ]
    if "seg" in r:
        s = r["seg"]
        counts = {s.class_names[c]: int(n) for c, n in enumerate(
            __import__("numpy").bincount(s.labels.ravel(), minlength=len(s.class_names))) if n}
        out["seg_pixels"] = counts
    if "depth" in r:
        out["depth_foreground"] = r["depth"].foreground
    return out


def main():
    video, elements = sys.argv[1], sys.argv[2]
    frames = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    Gst.init(None)
    pipe = Gst.parse_launch(
        f'filesrc location="{video}" ! decodebin ! videoconvert ! {elements} ! '
        "appsink name=sink sync=false"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    n = 0
    # FRAMES are counted here, at the end: `identity eos-after` upstream would decide the count
    # by a race (on GStreamer 1.22 it drops the Nth frame and passes whatever the decoder still
    # pushes after being told EOS).
    while frames < 0 or n < frames:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        print(json.dumps({"frame": n, "pts_s": buf.pts / Gst.SECOND, **summary(buf)}), flush=True)
        n += 1
    msg = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is not None:
        err, _ = msg.parse_error()
        sys.exit(f"error: {err.message}")


if __name__ == "__main__":
    main()
