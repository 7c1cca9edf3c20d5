"""The `fer` package (github.com/justinshenk/fer) as a peer for `emoscope bench faces`.

Run by the peers venv's python (never imported by emoscope). Reads a JSON list of image paths on
stdin; writes JSON to ``--out``: {"classes": [...], "results": [{label: probability} or null per image]}.
``--mode pipeline``: fer's own path as a user calls it, ``FER().detect_emotions(image)`` (its default
Haar detector, its bundled quantised mini-Xception), the biggest face kept; null when no face is found.
``--mode crops``: the whole image given as the face rectangle. Exit status 3 with one line on stderr
when fer cannot be imported, so the bench reports the peer as skipped with that reason.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter would bury real errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("pipeline", "crops"), required=True)
    parser.add_argument("--out", required=True, help="where to write the JSON (stdout carries TensorFlow's logs)")
    args = parser.parse_args()
    mode = args.mode
    try:
        import cv2
        from fer.fer import FER
    except ImportError as exc:
        print(f"fer is not importable here ({exc})", file=sys.stderr)
        return 3
    paths = json.load(sys.stdin)
    detector = FER()
    results = []
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            print(f"{path}: not a readable image", file=sys.stderr)
            return 2
        height, width = image.shape[:2]
        faces = detector.detect_emotions(image, [(0, 0, width, height)] if mode == "crops" else None)
        biggest = max(faces, key=lambda face: face["box"][2] * face["box"][3], default=None)
        results.append(None if biggest is None else biggest["emotions"])
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump({"classes": list(FER._get_labels().values()), "results": results}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
