#!/usr/bin/env python3
"""Person detectors side by side on the same frames of a video: how many people each finds, how
many boxes are not person-sized, ms a frame, and a picture of chosen frames with every box drawn
(to look at by eye: a number cannot tell a box on a person from one on the background).

Usage: detector_quality.py VIDEO FRAMES OUT.png NAME='ELEMENTS' [NAME='ELEMENTS' ...]
  e.g. detector_quality.py data/vtest.avi 200 out/detectors.png \
         hog='sapiensdetect backend=hog' \
         nanodet='sapiensdetect backend=onnx config=configs/detector-nanodet.toml'
Prints one JSON line per detector. "Person-sized" is an upright box (at least 1.2 times as tall as
wide) at most 220 px tall: vtest.avi's walkers are up to 130 px tall near the camera and 20 px
far away; a wide or huge box is background, a merged group or an object. Needs GST_PLUGIN_PATH (target/release)
and runs in .venv-gi (PyGObject, numpy, OpenCV from Debian).
"""
import json
import sys
import time

import cv2
import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import sapiens_stream  # noqa: E402

SHOWN = (0, 40, 100, 199)
COLOURS = [(0, 255, 0), (0, 128, 255), (255, 0, 255), (255, 255, 0)]


def run(video, frames, elements):
    """(boxes per frame, BGR images of the SHOWN frames, seconds for all frames)."""
    pipe = Gst.parse_launch(
        f'filesrc location="{video}" ! decodebin ! videoconvert ! video/x-raw,format=BGRx ! '
        f"{elements} ! appsink name=sink sync=false"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    boxes, shown = [], {}
    t0 = time.monotonic()
    while len(boxes) < frames:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        d = sapiens_stream.detections(buf)
        boxes.append(np.array(d.boxes) if d is not None else np.zeros((0, 4)))
        if len(boxes) - 1 in SHOWN:
            s = sample.get_caps().get_structure(0)
            w, h = s.get_value("width"), s.get_value("height")
            ok, info = buf.map(Gst.MapFlags.READ)
            img = np.frombuffer(info.data, np.uint8).reshape(h, w, 4)[:, :, :3].copy()
            buf.unmap(info)
            shown[len(boxes) - 1] = img
    seconds = time.monotonic() - t0
    pipe.set_state(Gst.State.NULL)
    return boxes, shown, seconds


def person_sized(b):
    w, h = b[2] - b[0], b[3] - b[1]
    return 8 <= h <= 220 and w > 2 and h / w >= 1.2


def main():
    video, frames, out_png = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    detectors = [a.split("=", 1) for a in sys.argv[4:]]
    Gst.init(None)
    rows = []
    for name, elements in detectors:
        boxes, shown, seconds = run(video, frames, elements)
        n = len(boxes)
        total = sum(len(b) for b in boxes)
        print(json.dumps({
            "detector": name,
            "frames": n,
            "frames_with_2_or_more": sum(len(b) >= 2 for b in boxes),
            "persons_per_frame": round(total / max(n, 1), 2),
            "not_person_sized": int(sum(not person_sized(x) for b in boxes for x in b)),
            "ms_per_frame": round(1000 * seconds / max(n, 1), 1),
        }))
        tiles = []
        for k in SHOWN:
            img = shown.get(k)
            if img is None:
                continue
            for x1, y1, x2, y2 in boxes[k]:
                cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), COLOURS[0], 2)
            cv2.putText(img, f"{name} frame {k}: {len(boxes[k])}", (10, 30),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 255), 2)
            tiles.append(img)
        if tiles:
            rows.append(np.hstack(tiles))
    if rows:
        sheet = np.vstack(rows)
        cv2.imwrite(out_png, cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2)))


if __name__ == "__main__":
    main()
