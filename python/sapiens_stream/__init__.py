"""Results of the sapiens-stream GStreamer elements, read from a ``Gst.Buffer`` as numpy arrays
and plain objects.

Each head leaves a ``GstCustomMeta`` holding a structure (see the project README, "Reading
results"); these functions turn one into a named tuple, or ``None`` when the buffer has none::

    import sapiens_stream as ss
    pose = ss.pose(buf)        # Pose(keypoint_set, names, boxes N×4, ids N, keypoints N×K×3, ...)
    seg = ss.seg(buf)          # Seg(labels H×W uint8, class_names, ...)
    depth = ss.depth(buf)      # Depth(depth H×W float32, NaN = background, foreground range, ...)
    normal = ss.normal(buf)    # Normal(normals H×W×3 float32, ...)
    pm = ss.pointmap(buf)      # Pointmap(points H×W×3 float32 metric, scale, focal_px, z range, ...)
    dets = ss.detections(buf)  # Detections(boxes N×4, scores N, backend, carried)
    a = ss.analytics(buf)      # Analytics(zones, lines, persons, events) of sapiensanalytics

Arrays are views of the meta's bytes (no copy) and read-only. Coordinates are pixels of the
frame the buffer holds. Every structure carries ``schema-version``; a version this package does
not know raises ``SchemaError`` rather than misreading the fields.
"""
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from .labels import class_names, keypoint_names

__all__ = [
    "SCHEMA_VERSION",
    "SchemaError",
    "Pose",
    "Seg",
    "Depth",
    "Normal",
    "Detections",
    "Analytics",
    "pose",
    "seg",
    "depth",
    "normal",
    "detections",
    "analytics",
    "results",
]

#: The structure layout this package reads (the elements' ``schema-version``).
SCHEMA_VERSION = 1


class SchemaError(ValueError):
    """A result meta of another schema version, or missing a field this version has."""


class Pose(NamedTuple):
    keypoint_set: str
    #: Keypoint names in channel order (official names).
    names: List[str]
    #: N×4 float32: x1, y1, x2, y2.
    boxes: np.ndarray
    #: N int32 track ids, -1 where untracked.
    ids: np.ndarray
    #: N×K×3 float32: x, y, score.
    keypoints: np.ndarray
    score_threshold: float
    untrained: bool
    carried: bool


class Seg(NamedTuple):
    #: H×W uint8 class ids (0 = background).
    labels: np.ndarray
    #: Class names by id.
    class_names: List[str]
    mode: str
    untrained: bool
    carried: bool


class Depth(NamedTuple):
    #: H×W float32, NaN = background.
    depth: np.ndarray
    #: (nearest, farthest) foreground depth, or None without foreground.
    foreground: Optional[Tuple[float, float]]
    masked: bool
    untrained: bool
    carried: bool


class Normal(NamedTuple):
    #: H×W×3 float32 unit vectors, NaN = background.
    normals: np.ndarray
    masked: bool
    untrained: bool
    carried: bool


class Pointmap(NamedTuple):
    #: H×W×3 float32 metric (x, y, z), NaN = background.
    points: np.ndarray
    #: The model's scale (metric = pointmap / scale).
    scale: float
    #: Implied horizontal focal length, frame pixels.
    focal_px: float
    #: (1st, 99th) percentile of foreground Z, or None without foreground.
    z_range: Optional[Tuple[float, float]]
    masked: bool
    untrained: bool
    carried: bool


class Detections(NamedTuple):
    #: N×4 float32: x1, y1, x2, y2.
    boxes: np.ndarray
    #: N float32.
    scores: np.ndarray
    backend: str
    carried: bool


class Zone(NamedTuple):
    name: str
    #: Persons inside on this frame.
    occupancy: int
    crowded: bool
    #: Track ids inside, ascending.
    ids: List[int]
    #: The outline, frame pixels: [(x, y), ...].
    points: List[Tuple[float, float]]


class Line(NamedTuple):
    name: str
    #: Crossings since the start (or the last seek), each way.
    count_in: int
    count_out: int
    #: Its two ends, frame pixels.
    points: List[Tuple[float, float]]


class Person(NamedTuple):
    id: int
    #: x1, y1, x2, y2, frame pixels.
    box: Tuple[float, float, float, float]
    lying: bool
    #: Zone name → seconds inside so far.
    zones: dict


class Analytics(NamedTuple):
    zones: List[Zone]
    lines: List[Line]
    persons: List[Person]
    #: One dict per event: type, rule, pts_s and, where they apply, id, anchor, x, y,
    #: direction, dwell_s, occupancy, reason, drop (README, "Analytics and events").
    events: List[dict]


def _structure(buf, meta_name):
    meta = buf.get_custom_meta(meta_name)
    if meta is None:
        return None
    s = meta.get_structure()
    ok, version = s.get_uint("schema-version")
    if not ok:
        raise SchemaError(f"{meta_name} has no schema-version (written by an older sapiens-stream)")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{meta_name} has schema-version {version}; this package reads {SCHEMA_VERSION}"
        )
    return s


def _field(s, meta_name, name):
    if not s.has_field(name):
        raise SchemaError(f"{meta_name}: no field {name!r}")
    return s.get_value(name)


def _array(s, meta_name, name, dtype, shape):
    data = _field(s, meta_name, name).get_data()
    a = np.frombuffer(data, dtype)
    want = int(np.prod(shape))
    if a.size != want:
        raise SchemaError(f"{meta_name}.{name}: {a.size} values, expected {want} ({shape})")
    return a.reshape(shape)


def _carried(s):
    return bool(s.get_value("carried")) if s.has_field("carried") else False


def _flags(s, meta_name, *names):
    """The boolean fields `names` (as Python names) and `carried` of a structure."""
    flags = {n.replace("-", "_"): bool(_field(s, meta_name, n)) for n in names}
    flags["carried"] = _carried(s)
    return flags


def pose(buf) -> Optional[Pose]:
    """``SapiensPoseMeta`` of ``buf``."""
    m = "SapiensPoseMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    n, k = _field(s, m, "num-persons"), _field(s, m, "num-keypoints")
    kset = _field(s, m, "keypoint-set")
    names = keypoint_names(kset)
    if len(names) != k:
        raise SchemaError(f"{m}: {k} keypoints for {kset}, which has {len(names)}")
    ids = (
        _array(s, m, "ids", np.int32, (n,))
        if s.has_field("ids")
        else np.full(n, -1, np.int32)
    )
    return Pose(
        keypoint_set=kset,
        names=names,
        boxes=_array(s, m, "boxes", np.float32, (n, 4)),
        ids=ids,
        keypoints=_array(s, m, "keypoints", np.float32, (n, k, 3)),
        score_threshold=float(_field(s, m, "score-threshold")),
        untrained=bool(_field(s, m, "untrained")),
        carried=_carried(s),
    )


def _size(s, m):
    return _field(s, m, "height"), _field(s, m, "width")


def seg(buf) -> Optional[Seg]:
    """``SapiensSegMeta`` of ``buf``."""
    m = "SapiensSegMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    return Seg(
        labels=_array(s, m, "labels", np.uint8, _size(s, m)),
        class_names=class_names(_field(s, m, "class-set")),
        mode=_field(s, m, "mode"),
        **_flags(s, m, "untrained"),
    )


def _range(s, m, lo_field, hi_field):
    """A (low, high) pair of float fields, None when the meta wrote NaN (no foreground)."""
    lo, hi = float(_field(s, m, lo_field)), float(_field(s, m, hi_field))
    return None if np.isnan(lo) else (lo, hi)


def depth(buf) -> Optional[Depth]:
    """``SapiensDepthMeta`` of ``buf``."""
    m = "SapiensDepthMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    return Depth(
        depth=_array(s, m, "depth", np.float32, _size(s, m)),
        foreground=_range(s, m, "fg-min", "fg-max"),
        **_flags(s, m, "masked", "untrained"),
    )


def normal(buf) -> Optional[Normal]:
    """``SapiensNormalMeta`` of ``buf``."""
    m = "SapiensNormalMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    h, w = _size(s, m)
    return Normal(
        normals=_array(s, m, "normals", np.float32, (h, w, 3)),
        **_flags(s, m, "masked", "untrained"),
    )


def pointmap(buf) -> Optional[Pointmap]:
    """``SapiensPointmapMeta`` of ``buf`` (Sapiens2)."""
    m = "SapiensPointmapMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    h, w = _size(s, m)
    return Pointmap(
        points=_array(s, m, "points", np.float32, (h, w, 3)),
        scale=float(_field(s, m, "scale")),
        focal_px=float(_field(s, m, "focal-px")),
        z_range=_range(s, m, "z-p1", "z-p99"),
        **_flags(s, m, "masked", "untrained"),
    )


def detections(buf) -> Optional[Detections]:
    """``SapiensDetectionsMeta`` of ``buf`` (the detector's boxes, before tracking)."""
    m = "SapiensDetectionsMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    n = _field(s, m, "num-boxes")
    return Detections(
        boxes=_array(s, m, "boxes", np.float32, (n, 4)),
        scores=_array(s, m, "scores", np.float32, (n,)),
        backend=_field(s, m, "backend"),
        carried=_carried(s),
    )


def _values(s, meta_name, name):
    """The items of the array field `name` (GstValueArray: structures, numbers)."""
    import warnings

    if not s.has_field(name):
        raise SchemaError(f"{meta_name}: no field {name!r}")
    ok, arr = s.get_array(name)
    if not ok:
        raise SchemaError(f"{meta_name}.{name} is not an array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        items = [arr.get_nth(i) for i in range(arr.n_values)]
    # A structure item points into `arr`, freed with it: keep copies.
    return [v.copy() if hasattr(v, "nth_field_name") else v for v in items]


def _points(s, meta_name):
    v = _values(s, meta_name, "points")
    return list(zip(v[0::2], v[1::2]))


def _event(e):
    """An event structure as a dict of its fields (dashes → underscores)."""
    out = {}
    for i in range(e.n_fields()):
        name = e.nth_field_name(i)
        out[name.replace("-", "_")] = e.get_value(name)
    return out


def analytics(buf) -> Optional[Analytics]:
    """``SapiensAnalyticsMeta`` of ``buf`` (``sapiensanalytics``)."""
    m = "SapiensAnalyticsMeta"
    s = _structure(buf, m)
    if s is None:
        return None
    zones = [
        Zone(
            name=z.get_value("name"),
            occupancy=z.get_value("occupancy"),
            crowded=bool(z.get_value("crowded")),
            ids=_values(z, m, "ids"),
            points=_points(z, m),
        )
        for z in _values(s, m, "zones")
    ]
    lines = [
        Line(
            name=l.get_value("name"),
            count_in=l.get_value("in"),
            count_out=l.get_value("out"),
            points=_points(l, m),
        )
        for l in _values(s, m, "lines")
    ]
    persons = [
        Person(
            id=p.get_value("id"),
            box=tuple(p.get_value(k) for k in ("x1", "y1", "x2", "y2")),
            lying=bool(p.get_value("lying")),
            zones={st.get_value("zone"): st.get_value("dwell-s") for st in _values(p, m, "zones")},
        )
        for p in _values(s, m, "persons")
    ]
    return Analytics(zones, lines, persons, [_event(e) for e in _values(s, m, "events")])


def results(buf) -> dict:
    """Every result on ``buf``, by head name (heads without a meta are absent)."""
    found = {
        "pose": pose(buf),
        "seg": seg(buf),
        "depth": depth(buf),
        "normal": normal(buf),
        "pointmap": pointmap(buf),
        "detections": detections(buf),
        "analytics": analytics(buf),
    }
    return {k: v for k, v in found.items() if v is not None}
