"""Fit the shipped landmark model (src/emoscope/weights/gestures/asl-landmarks.safetensors) on the
development part of a real hand-photo set plus generated hands; see docs/gestures.md.

    python tools/fit_gesture_landmarks.py ../shared/data/hands/asl_massey_aflv.tar.gz

Deterministic: the same set gives the same weights. Only the part developed on is read; the
measure-only people are never seen here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoscope.benchmarks.hand_photos import HANDEDNESS_VIEWS, fit_on_readings, read_photos
from emoscope.data.hand_photos import load_hand_photos
from emoscope.files import sha256_of
from emoscope.gestures.landmark_model import SHIPPED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo_set", type=Path, help="a hand-photo set (folder or .tar.gz with manifest.csv)")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args()
    photos = load_hand_photos(args.photo_set, part="dev")
    readings = read_photos(photos, HANDEDNESS_VIEWS, landmark_model=None)
    source = args.photo_set.name + (f" sha256 {sha256_of(args.photo_set)}" if args.photo_set.is_file() else "")
    model, selection = fit_on_readings(readings, {"photo_set": source, "part": "dev", "views": list(HANDEDNESS_VIEWS)})
    for choice, scores in selection.items():
        print(f"C={choice}: held-out person balanced recall {scores['held_out_person']:.4f}, "
              f"generated hands (another seed) {scores['generated_other_seed']:.4f}")
    print(f"chose C={model.provenance['regularisation']}; {model.provenance['real_hands']} real hands; "
          f"wrote {model.save(args.out)}")


if __name__ == "__main__":
    main()
