"""Choose an ensemble's members on the selection split, then report the choice on the test split.

Every candidate (a shipped name or a bundle) predicts FER2013 PublicTest (selection) and PrivateTest (test)
once; the probabilities are cached in ``--cache`` (an .npz keyed by candidate), so adding a candidate costs
only its own passes. Every subset of two or more candidates is scored on PublicTest alone; the best subset
(ties: fewer members, then fewer parameters) is the choice, and only then is PrivateTest read: for each
candidate alone and for the chosen subset. Predictions come from
`emoscope.load(...).predict_proba`, the fp32 path of `emoscope evaluate` and the model cards.

    python tools/choose_ensemble.py fer-best runs/gpu34/vggkd4.safetensors ... --cache runs/members.npz
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

import emoscope
from emoscope.data import load_dataset

SPLITS = ("val", "test")


def candidate_key(candidate: str) -> str:
    return Path(candidate).name.removesuffix(".safetensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="+", help="shipped names or .safetensors bundles (7 FER2013 classes)")
    parser.add_argument("--cache", type=Path, required=True, help="the .npz of probabilities, read and extended")
    parser.add_argument("--max-members", type=int, default=6)
    parser.add_argument("--out", type=Path, help="write the choice and the numbers as JSON here")
    args = parser.parse_args()
    cache = dict(np.load(args.cache)) if args.cache.is_file() else {}
    data = {split: load_dataset("fer2013", split=split) for split in SPLITS}
    params = {}
    for candidate in args.candidates:
        key = candidate_key(candidate)
        predictor = emoscope.load(candidate)
        params[key] = sum(p.numel() for p in predictor.model.parameters())  # the tie-breaker after size
        if all(f"{key}_{split}" in cache for split in SPLITS):
            continue
        for split, images in data.items():
            cache[f"{key}_{split}"] = predictor.predict_proba(images.images)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.cache, **cache)  # after each candidate: an interrupted run keeps what it computed
    keys = [candidate_key(c) for c in args.candidates]
    labels = {split: data[split].labels for split in SPLITS}

    def accuracy(members, split):
        mean = np.mean([cache[f"{key}_{split}"] for key in members], axis=0)
        return float((mean.argmax(1) == labels[split]).mean())

    subsets = [combo for size in range(2, min(args.max_members, len(keys)) + 1)
               for combo in itertools.combinations(keys, size)]
    chosen = max(subsets, key=lambda combo: (accuracy(combo, "val"), -len(combo), -sum(params[k] for k in combo)))
    result = {
        "candidates": {key: {"val_accuracy": accuracy([key], "val"), "test_accuracy": accuracy([key], "test")}
                       for key in keys},
        "chosen": list(chosen), "chosen_val_accuracy": accuracy(chosen, "val"),
        "chosen_test_accuracy": accuracy(chosen, "test"),
        "all_val_accuracy": accuracy(keys, "val"), "all_test_accuracy": accuracy(keys, "test"),
        "subsets_scored_on_val": len(subsets),
    }
    print("| candidate | PublicTest (selection) | PrivateTest (test) |\n| --- | --- | --- |")
    for key, row in result["candidates"].items():
        print(f"| {key} | {row['val_accuracy']:.4f} | {row['test_accuracy']:.4f} |")
    print(f"| **chosen on PublicTest:** {' + '.join(chosen)} | {result['chosen_val_accuracy']:.4f} | "
          f"{result['chosen_test_accuracy']:.4f} |")
    print(f"| all {len(keys)} | {result['all_val_accuracy']:.4f} | {result['all_test_accuracy']:.4f} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
