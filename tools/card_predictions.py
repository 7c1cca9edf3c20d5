"""Put each shipped card's test predictions into it, after checking that they give the card's numbers.

    python tools/card_predictions.py                  # every shipped card, every view it claims
    python tools/card_predictions.py fer-fast fer5    # only these

Cards written by `emoscope card` carry them already (the `emoscope evaluate` reports do); this adds them to
cards made before, by evaluating each model on its whole test split once per claimed view (single view and
each test-time augmentation: for the VGGs' ten-crop, minutes). A card whose numbers the evaluation does not
reproduce is left as it is, and the run exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys

import emoscope
from emoscope.data import load_dataset
from emoscope.evaluation.evaluate import evaluate
from emoscope.files import write_text_atomic
from emoscope.runtime.predictor import WEIGHTS_DIR

TOLERANCE = 1e-6


def views_of(card: dict) -> dict[str, dict]:
    """Per view ("none" and each TTA mode), the part of the card that holds its numbers."""
    return {"none": card} | card.get("tta", {})


def add_predictions(name: str) -> bool:
    path = WEIGHTS_DIR / f"{name}.card.json"
    card = json.loads(path.read_text())
    predictor = emoscope.load(name, backend="torch")
    dataset, split = card["test_split"].rsplit(":", 1)
    images = load_dataset(dataset, split=split)
    found = {}
    for mode, claim in views_of(card).items():
        report = evaluate(predictor, images, split=card["test_split"], tta=mode)
        off = {key: (report[key], claim[key]) for key in ("accuracy", "macro_f1")
               if abs(report[key] - claim[key]) > TOLERANCE}
        if off:
            print(f"{name} {mode}: the card says {off}, not reproduced; card left as it is", file=sys.stderr)
            return False
        found[mode] = report["predictions"]
        print(f"{name} {mode}: accuracy {report['accuracy']:.4f} reproduced", flush=True)
    for mode, claim in views_of(card).items():
        claim["predictions"] = found[mode]
    write_text_atomic(path, json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="shipped models (default: all)")
    names = parser.parse_args().names or sorted(p.name.removesuffix(".card.json") for p in WEIGHTS_DIR.glob("*.card.json"))
    return 0 if all([add_predictions(name) for name in names]) else 1


if __name__ == "__main__":
    sys.exit(main())
