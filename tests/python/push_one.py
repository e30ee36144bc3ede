"""Shared by the metadata-reading test scripts: one RGB frame through a launch line."""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def push_one(frame, elements):
    """Pushes `frame` (H×W×3 uint8 RGB numpy array) through `appsrc ! {elements} ! appsink` and
    returns the output buffer (exits with the pipeline's error message when there is none)."""
    h, w = frame.shape[:2]
    Gst.init(None)
    pipe = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=25/1 "
        f"! {elements} ! appsink name=sink"
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
    out = sample.get_buffer()
    pipe.set_state(Gst.State.NULL)
    return out
