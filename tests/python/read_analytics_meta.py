#!/usr/bin/env python3
"""Reads SapiensAnalyticsMeta from Python with the `sapiens_stream` package.

Usage: read_analytics_meta.py DETECTOR_CONFIG RULES
Pushes one dark 320x240 RGB frame with a magenta rectangle (the analytic detector's person) at
x 100..140, y 60..180 through `sapiensdetect ! sapienstrack ! sapiensanalytics config=RULES` and
prints the analytics result as JSON. Needs GST_PLUGIN_PATH to hold libgstsapiens.so.
"""
import json
import sys

import numpy as np
import sapiens_stream
from push_one import push_one


def main():
    detector, rules = sys.argv[1], sys.argv[2]
    frame = np.full((240, 320, 3), 30, np.uint8)
    frame[60:180, 100:140] = (255, 0, 255)
    out = push_one(
        frame,
        f'sapiensdetect backend=onnx config="{detector}" ! sapienstrack ! '
        f'sapiensanalytics config="{rules}"',
    )
    a = sapiens_stream.analytics(out)
    print(
        json.dumps(
            {
                "zones": [z._asdict() for z in a.zones],
                "lines": [l._asdict() for l in a.lines],
                "persons": [p._asdict() for p in a.persons],
                "events": a.events,
                "in_results": "analytics" in sapiens_stream.results(out),
            }
        )
    )


if __name__ == "__main__":
    main()
