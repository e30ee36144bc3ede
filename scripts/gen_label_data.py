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
print("wrote configs/keypoints and configs/classes")
