#!/usr/bin/env python3
"""Compares the dense heads' input tensor (SapiensInputTensorMeta) with the official Sapiens
pre-processing, computed independently here with OpenCV and numpy.

Usage: dense_tensor.py SEG_CONFIG VIDEO MEAN STD CASE...
  MEAN, STD: r,g,b (the config's [input] mean and std, RGB order, 0..255 scale)
  CASE: FORMAT/WIDTHxHEIGHT[/COLORIMETRY[/CHROMA_SITE]], e.g. BGRx/333x777, I420/640x480/bt709/mpeg2

Official (lite/demo/adhoc_image_dataset.py): cv2.resize(bgr, (768, 1024), INTER_LINEAR) on the
uint8 BGR frame, BGR -> RGB, (x - mean) / std. The frame is a frame of VIDEO (people walking)
resized to the case's size; for packed formats, with strips of uniform noise along its borders and
across its middle (the sharpest content there is, where any rounding difference would show).

Packed formats (RGB, BGR, x/A variants) are compared with that directly. YUV formats (I420, NV12)
are compared with "decode to BGR, then pre-process", decoded two ways: exactly here (numpy: chroma
upsampled bilinearly at its caps siting, the caps' matrix and range in float, rounded to 8 bits),
and by GStreamer's videoconvert (what a decodebin ! videoconvert user gets; its 8-bit fast paths
are off by up to 2 levels on their own: limited-range white 235 becomes 253).

Prints JSON: one object per case with the largest, 99th-percentile and mean absolute difference
(normalized units, and 8-bit levels: times std) and the input size; YUV cases add the same
against videoconvert's decoding (fields prefixed videoconvert_).
"""
import json
import sys

import cv2
import numpy as np
from push_one import Gst, GstVideo, pack_planes, push_one, unpack_packed, video_info

# Packed formats: byte order of the four (or three) bytes, as indices into (B, G, R, pad).
PACKED = {
    "RGB": [2, 1, 0],
    "BGR": [0, 1, 2],
    "RGBx": [2, 1, 0, 3],
    "BGRx": [0, 1, 2, 3],
    "xRGB": [3, 2, 1, 0],
    "xBGR": [3, 0, 1, 2],
    "RGBA": [2, 1, 0, 3],
    "BGRA": [0, 1, 2, 3],
    "ARGB": [3, 2, 1, 0],
    "ABGR": [3, 0, 1, 2],
}


def test_frame(video, w, h, noise):
    """A BGR uint8 frame of `video`, resized to w×h, with noise strips if `noise`."""
    cap = cv2.VideoCapture(video)
    for _ in range(30):
        ok, bgr = cap.read()
    if not ok:
        sys.exit(f"cannot read {video}")
    bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(w * 7919 + h)
    band = max(2, min(w, h) // 16)
    for sl in [] if not noise else [np.s_[:band, :], np.s_[-band:, :], np.s_[:, :band], np.s_[:, -band:],
               np.s_[h // 2 - band // 2 : h // 2 + band // 2, :]]:
        region = bgr[sl]
        region[...] = rng.integers(0, 256, region.shape, np.uint8)
    return bgr


def official(bgr, size, mean, std):
    """The official dense pre-processing: CHW float32 RGB tensor."""
    w, h = size
    resized = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
    rgb = resized[..., ::-1].astype(np.float64)
    return ((rgb - mean) / std).transpose(2, 0, 1)


def yuv_planes(bgr, fmt):
    """I420 / NV12 planes of a BGR frame (any size; chroma ceil(w/2) × ceil(h/2))."""
    h, w = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    y = yuv[..., 0]
    v, u = (cv2.resize(yuv[..., i], (cw, ch), interpolation=cv2.INTER_AREA) for i in (1, 2))
    if fmt == "I420":
        return [y, u, v]
    return [y, np.dstack([u, v])]


def upsample_axis(c, n, origin, axis):
    """Bilinear chroma → luma resolution along `axis` (n luma samples; chroma sample j sits at luma
    position 2j + origin), edges clamped."""
    pos = np.clip((np.arange(n) - origin) / 2.0, 0, c.shape[axis] - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, c.shape[axis] - 1)
    f = pos - i0
    a, b = np.take(c, i0, axis), np.take(c, i1, axis)
    f = f[:, None] if axis == 0 else f[None, :]
    return a * (1 - f) + b * f


def decode_exactly(planes, fmt, caps, site):
    """BGR uint8 from YUV planes under the caps' matrix and range, chroma at `site` (GStreamer
    chroma-site name, centred when absent)."""
    info = video_info(caps)
    ok, kr, kb = GstVideo.video_color_matrix_get_Kr_Kb(info.colorimetry.matrix)
    full = info.colorimetry.range == getattr(GstVideo.VideoColorRange, "0_255")
    y = planes[0].astype(np.float64)
    u, v = (planes[1], planes[2]) if fmt == "I420" else (planes[1][..., 0], planes[1][..., 1])
    h, w = y.shape
    ox = 0.0 if site in ("mpeg2", "cosited", "dv") else 0.5
    oy = 0.0 if site in ("cosited", "dv") else 0.5
    u, v = (upsample_axis(upsample_axis(c.astype(np.float64), h, oy, 0), w, ox, 1) for c in (u, v))
    if full:
        yy, cb, cr = y, u - 128, v - 128
    else:
        yy, cb, cr = (y - 16) * 255 / 219, (u - 128) * 255 / 224, (v - 128) * 255 / 224
    kg = 1 - kr - kb
    r = yy + 2 * (1 - kr) * cr
    g = yy - 2 * kb * (1 - kb) / kg * cb - 2 * kr * (1 - kr) / kg * cr
    b = yy + 2 * (1 - kb) * cb
    return np.clip(np.rint(np.dstack([b, g, r])), 0, 255).astype(np.uint8)


def decode_to_bgr(data, caps, w, h):
    """GStreamer's own conversion of a raw frame to BGR (what a decode-then-convert user gets)."""
    out = push_one(data, "videoconvert ! video/x-raw,format=BGR", caps)
    ok, m = out.map(Gst.MapFlags.READ)
    try:
        return unpack_packed(bytes(m.data), f"video/x-raw,format=BGR,width={w},height={h}", 3)
    finally:
        out.unmap(m)


def read_tensor(buf):
    s = buf.get_custom_meta("SapiensInputTensorMeta").get_structure()
    w, h = s.get_value("width"), s.get_value("height")
    t = np.frombuffer(s.get_value("tensor").get_data(), np.float32).reshape(3, h, w)
    return t, (w, h)


def main():
    cfg, video = sys.argv[1], sys.argv[2]
    mean = np.array([float(v) for v in sys.argv[3].split(",")])
    std = np.array([float(v) for v in sys.argv[4].split(",")])
    results = []
    for case in sys.argv[5:]:
        parts = case.split("/")
        fmt, (w, h) = parts[0], (int(v) for v in parts[1].split("x"))
        caps = f"video/x-raw,format={fmt},width={w},height={h}"
        if len(parts) > 2:
            caps += f",colorimetry={parts[2]}"
        if len(parts) > 3:
            caps += f",chroma-site={parts[3]}"
        bgr = test_frame(video, w, h, noise=fmt in PACKED)
        references = {}
        if fmt in PACKED:
            order = PACKED[fmt]
            bgra = np.dstack([bgr, np.full((h, w), 77, np.uint8)])
            data = pack_planes([bgra[..., order]], caps)
            references[""] = bgr
        else:
            planes = yuv_planes(bgr, fmt)
            data = pack_planes(planes, caps)
            site = parts[3] if len(parts) > 3 else None
            references[""] = decode_exactly(planes, fmt, caps, site)
            references["videoconvert_"] = decode_to_bgr(data, caps, w, h)
        out = push_one(data, f'sapiensseg config="{cfg}"', caps)
        tensor, size = read_tensor(out)
        result = {"case": case, "input": list(size)}
        for name, reference in references.items():
            want = official(reference, size, mean, std)
            diff = np.abs(tensor.astype(np.float64) - want)
            result[name + "max_diff"] = float(diff.max())
            result[name + "mean_diff"] = float(diff.mean())
            result[name + "p99_diff"] = float(np.percentile(diff, 99))
            levels = diff * std[:, None, None]
            result[name + "mean_levels"] = float(levels.mean())
            result[name + "p99_levels"] = float(np.percentile(levels, 99))
            result[name + "max_levels"] = float(levels.max())
        results.append(result)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
