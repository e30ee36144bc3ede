"""Keypoint and class names (the official Sapiens label data, CC BY-NC 4.0), from the JSON files
installed with the package (copied from the repository's configs/ when it is built)."""
import functools
import json
from pathlib import Path

_DATA = Path(__file__).parent / "data"

_KEYPOINT_FILES = {
    "goliath-308": "goliath-308.json",
    "coco-wholebody-133": "coco-wholebody-133.json",
    "coco-17": "coco-17.json",
    "mpii-16": "mpii-16.json",
}
_CLASS_FILES = {
    "goliath-seg-28": "goliath-seg-28.json",
    "dome-seg-29": "dome-seg-29.json",
    "person-2": "person-2.json",
}


def _load(name):
    path = _DATA / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the package's label data is missing (install the package with `make setup`, which "
            "copies configs/keypoints and configs/classes into it)"
        )
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=None)
def keypoint_names(keypoint_set):
    """Names of a keypoint set's keypoints, in channel order."""
    if keypoint_set not in _KEYPOINT_FILES:
        raise ValueError(f"unknown keypoint set {keypoint_set!r}")
    return [k["name"] for k in _load(_KEYPOINT_FILES[keypoint_set])["keypoints"]]


@functools.lru_cache(maxsize=None)
def class_names(class_set):
    """Names of a seg class set's classes, by class id."""
    if class_set not in _CLASS_FILES:
        raise ValueError(f"unknown class set {class_set!r}")
    return [c["name"] for c in _load(_CLASS_FILES[class_set])["classes"]]
