#!/usr/bin/env python3
"""Reads a recording with FFmpeg (through OpenCV's videoio, not GStreamer) as a player would.

Usage: read_video.py PATH
Prints JSON: frames, width, height, fps, and per frame its time (s), the mean grey level and the
mean absolute grey difference to the first frame. A file FFmpeg cannot open gives frames = 0.
"""
import json
import sys

import cv2
import numpy as np

cap = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
means, diffs, times, first = [], [], [], None
width = height = 0
while True:
    ok, frame = cap.read()
    if not ok:
        break
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if first is None:
        first = grey
        height, width = grey.shape
    times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    means.append(float(grey.mean()))
    diffs.append(float(np.abs(grey - first).mean()))
print(json.dumps({
    "frames": len(means),
    "width": width,
    "height": height,
    "fps": float(cap.get(cv2.CAP_PROP_FPS)),
    "time_s": times,
    "mean": means,
    "diff_to_first": diffs,
}))
