#!/usr/bin/env python3
"""Writes configs/keypoints/*.json and configs/classes/*.json from ../shared/sapiens-data/.

The files it writes are small, committed and compiled into the library (include_str!), so the
elements need no data path at run time. Each carries its source and licence (CC BY-NC 4.0).

Usage: gen_label_data.py [SAPIENS_DATA_DIR]   (default ../shared/sapiens-data)
"""
import json
import os
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "sapiens-data")
root = os.path.join(os.path.dirname(__file__), "..", "configs")


def load(name):
    with open(os.path.join(src, name)) as f:
        return json.load(f)


def write(sub, name, obj):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, sub, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def attribution(d):
    s = d["source"]
    return {"repo": s["repo"], "commit": s["commit"], "path": s.get("path", ""),
            "license": "CC BY-NC 4.0 (Meta / Sapiens authors); non-commercial use only"}


def kpset(name, src_doc, kps, links, kp_colours=None):
    return {
        "name": name,
        "source": attribution(src_doc),
        # flip: the horizontal-flip partner's index (itself when it has none): the flip test.
        "keypoints": [{"name": k["name"], "color_rgb": (kp_colours[i] if kp_colours else k["color_rgb"]),
                       "flip": k["swap_id"] if k.get("swap_id") is not None else i}
                      for i, k in enumerate(kps)],
        "skeleton": [{"link": l["link"], "color_rgb": l["color_rgb"]} for l in links],
    }


coco = load("coco17_keypoints_skeleton.json")
write("keypoints", "coco-17.json", kpset("coco-17", coco, coco["keypoints"], coco["skeleton"]))
wb = load("coco_wholebody133_keypoints_skeleton.json")
# Drawing follows the lite demo (its skeleton and keypoint colours), as the overlay should match it.
write("keypoints", "coco-wholebody-133.json",
      kpset("coco-wholebody-133", wb, wb["keypoints"], wb["lite_demo_skeleton"], wb["lite_demo_keypoint_colors_rgb"]))
gk = load("goliath308_keypoints.json")
gs = load("goliath308_skeleton.json")
write("keypoints", "goliath-308.json", kpset("goliath-308", gk, gk["keypoints"], gs["links"]))
seg = load("goliath_seg28_classes.json")
write("classes", "goliath-seg-28.json", {
    "name": "goliath-seg-28", "source": attribution(seg),
    "classes": [{"name": c["name"], "color_rgb": c["palette_rgb"]} for c in seg["classes"]],
})
# Sapiens2's 29 classes (DOME_CLASSES_29): v1's 28 with Eyeglass inserted at id 2, every other
# name and colour unchanged (checked against the official list by a unit test in src/labels.rs).
v1 = [{"name": c["name"], "color_rgb": c["palette_rgb"]} for c in seg["classes"]]
write("classes", "dome-seg-29.json", {
    "name": "dome-seg-29",
    "source": {"repo": "facebookresearch/sapiens2", "commit": "3098c14",
               "path": "sapiens/dense/src/datasets/seg/seg_utils.py (DOME_CLASSES_29)",
               "license": "Sapiens2 License (Meta): see its prohibited uses"},
    "classes": v1[:2] + [{"name": "Eyeglass", "color_rgb": [14, 204, 182]}] + v1[2:],
})
# A person mask (MediaPipe selfie segmentation): background in v1's background grey, the person
# in v1's Torso colour.
write("classes", "person-2.json", {
    "name": "person-2",
    "source": {"repo": "google/mediapipe", "commit": "", "path": "selfie segmentation (one person-probability plane)",
               "license": "Apache-2.0"},
    "classes": [{"name": "Background", "color_rgb": v1[0]["color_rgb"]},
                {"name": "Person", "color_rgb": next(c["color_rgb"] for c in v1 if c["name"] == "Torso")}],
})
# MPII-16 in EfficientPose's channel order (daniegr/EfficientPose utils/helpers.py `body_parts`),
# its limbs as EfficientPose draws them; colours: the left side green and the right orange, as
# the COCO sets, the head and trunk blue.
MPII = ["head_top", "upper_neck", "right_shoulder", "right_elbow", "right_wrist", "thorax",
        "left_shoulder", "left_elbow", "left_wrist", "pelvis", "right_hip", "right_knee",
        "right_ankle", "left_hip", "left_knee", "left_ankle"]
MPII_LINKS = [(0, 1), (1, 5), (5, 2), (5, 6), (5, 9), (2, 3), (3, 4), (6, 7), (7, 8), (9, 10),
              (9, 13), (10, 11), (11, 12), (13, 14), (14, 15)]


def side_colour(*names):
    if all(n.startswith("left_") for n in names):
        return [0, 255, 0]
    if all(n.startswith("right_") for n in names):
        return [255, 128, 0]
    return [51, 153, 255]


def flip_partner(i, name):
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return MPII.index(b + name[len(a):])
    return i


write("keypoints", "mpii-16.json", {
    "name": "mpii-16",
    "source": {"repo": "daniegr/EfficientPose", "commit": "", "path": "utils/helpers.py (body_parts)",
               "license": "Apache-2.0 (EfficientPose); MPII Human Pose keypoint definitions"},
    "keypoints": [{"name": n, "color_rgb": side_colour(n), "flip": flip_partner(i, n)}
                  for i, n in enumerate(MPII)],
    "skeleton": [{"link": [a, b], "color_rgb": side_colour(MPII[a], MPII[b])} for a, b in MPII_LINKS],
})
print("wrote configs/keypoints and configs/classes")
