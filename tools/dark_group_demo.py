"""The synthetic-group demonstration of docs/groups.md: 400 FER2013 PrivateTest faces (stratified,
seed 0), every second one darkened to 15% of its brightness, written as a FER2013-format CSV plus the
groups file that names the two groups ("dark", "original"):

    python tools/dark_group_demo.py runs/groups-demo
    emoscope evaluate fer-fast --dataset runs/groups-demo/fer-dark.csv --split test \\
        --groups runs/groups-demo/groups.csv --out runs/groups-demo/eval

``--darkening 1`` leaves both halves as they are: the control, where any gap is resampling noise.

The darkening stands in for a recording condition the model was not trained on; it is a group the
user defines, as every group in emoscope is (no group is ever inferred from a face).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from emoscope.data import limit_per_split, load_dataset

DARKENING = 0.15
SIZE = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for fer-dark.csv and groups.csv")
    parser.add_argument("--darkening", type=float, default=DARKENING,
                        help="brightness factor of the dark group; 1 = unchanged (a control: any gap is noise)")
    args = parser.parse_args()
    out, factor = args.out, args.darkening
    if not 0 <= factor <= 1:
        parser.error("--darkening must be in 0..1")
    out.mkdir(parents=True, exist_ok=True)
    images = limit_per_split(load_dataset("fer2013", split="test"), SIZE, seed=0)
    dark = np.arange(len(images)) % 2 == 1
    pixels = images.images.copy()
    pixels[dark] = (pixels[dark] * factor).astype(np.uint8)
    pd.DataFrame({"emotion": images.labels, "pixels": [" ".join(map(str, p.ravel())) for p in pixels],
                  "Usage": "PrivateTest"}).to_csv(out / "fer-dark.csv", index=False)
    # ids are rows of the new CSV; the original rows stay traceable in the `source_row` column
    pd.DataFrame({"id": np.arange(len(images)), "group": np.where(dark, "dark", "original"),
                  "source_row": images.meta["rows"]}).to_csv(out / "groups.csv", index=False)
    print(f"{out / 'fer-dark.csv'}: {len(images)} faces, {int(dark.sum())} darkened to {factor:.0%}; "
          f"groups: {out / 'groups.csv'}")


if __name__ == "__main__":
    main()
