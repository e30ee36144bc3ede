"""Shared by the metadata-reading test scripts: one frame through a launch line."""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402


def video_info(caps):
    """GstVideo.VideoInfo of a caps string (strides and plane offsets as GStreamer lays them out)."""
    Gst.init(None)
    return GstVideo.VideoInfo.new_from_caps(Gst.Caps.from_string(caps))


def pack_planes(planes, caps):
    """Lays out `planes` (2-D or 3-D uint8 numpy arrays, one per GStreamer plane, unpadded) at the
    strides and offsets GStreamer uses for `caps`; returns the buffer bytes."""
    info = video_info(caps)
    out = bytearray(info.size)
    for i, p in enumerate(planes):
        rows = p.reshape(p.shape[0], -1)
        stride, offset = info.stride[i], info.offset[i]
        for r, row in enumerate(rows):
            start = offset + r * stride
            out[start : start + row.nbytes] = row.tobytes()
    return bytes(out)


def unpack_packed(data, caps, channels):
    """The H×W×channels pixels of a packed frame's bytes (stride padding removed)."""
    import numpy as np

    info = video_info(caps)
    w, h, stride = info.width, info.height, info.stride[0]
    rows = np.frombuffer(data, np.uint8)[: stride * h].reshape(h, stride)
    return rows[:, : w * channels].reshape(h, w, channels).copy()


def push_one(frame, elements, caps=None, timeout_s=30):
    """Pushes one frame through `appsrc ! {elements} ! appsink` and returns the output buffer (exits
    with the pipeline's error message when there is none within `timeout_s`). `frame` is an H×W×3
    uint8 RGB numpy array, or the buffer bytes for `caps` (a raw video caps string)."""
    if caps is None:
        h, w = frame.shape[:2]
        caps = f"video/x-raw,format=RGB,width={w},height={h}"
        frame = pack_planes([frame], caps + ",framerate=25/1")
    Gst.init(None)
    pipe = Gst.parse_launch(
        f'appsrc name=src format=time caps="{caps},framerate=25/1" '
        f"! {elements} ! appsink name=sink"
    )
    pipe.set_state(Gst.State.PLAYING)
    src, sink = pipe.get_by_name("src"), pipe.get_by_name("sink")
    buf = Gst.Buffer.new_wrapped(bytes(frame))
    buf.pts, buf.duration = 0, Gst.SECOND // 25
    src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    sample = sink.emit("try-pull-sample", timeout_s * Gst.SECOND)
    if sample is None:
        msg = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
        pipe.set_state(Gst.State.NULL)
        sys.exit(f"no output: {msg.parse_error()[0].message if msg else f'timeout ({timeout_s} s)'}")
    out = sample.get_buffer()
    pipe.set_state(Gst.State.NULL)
    return out
