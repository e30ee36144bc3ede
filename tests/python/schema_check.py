#!/usr/bin/env python3
"""The `sapiens_stream` package refuses a result meta it cannot read: a SapiensPoseMeta added
here (from Python, so without the elements' `schema-version` and fields) raises SchemaError.
Prints JSON: {"refused": message} or {"accepted": true}."""
import json

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import sapiens_stream  # noqa: E402

Gst.init(None)
Gst.ElementFactory.make("sapienspose")  # loads the plugin, which registers the metas
buf = Gst.Buffer.new()
buf.add_custom_meta("SapiensPoseMeta")
try:
    sapiens_stream.pose(buf)
    print(json.dumps({"accepted": True}))
except sapiens_stream.SchemaError as e:
    print(json.dumps({"refused": str(e)}))
