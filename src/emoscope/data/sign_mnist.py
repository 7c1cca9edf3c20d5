"""Sign Language MNIST (``label,pixel1..pixel784``): 28x28 hand-sign letters, optionally a few vs other.

Labels 0..24 are letters by alphabet position (A=0, ..., Y=24). J (9) and Z (25) need motion, so
they never occur; the 24 static letters keep their alphabetical order in :data:`SIGN_MNIST`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emoscope.data.cache import cached_arrays
from emoscope.data.csvfile import integer_columns, read_csv, require_file
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import LabelSet
from emoscope.errors import DataError

SIDE = 28
COLUMNS = ("label", *(f"pixel{i}" for i in range(1, SIDE * SIDE + 1)))
FILE_KIND = "Sign Language MNIST CSV"
MOTION_LABELS = {9: "J", 25: "Z"}
LETTERS = tuple(chr(ord("A") + label) for label in range(25) if label not in MOTION_LABELS)
SIGN_MNIST = LabelSet("sign_mnist", LETTERS)
OTHER = "other"
GESTURE_LETTERS = ("A", "F", "L", "V")
"""The hand signs the project recognises: punch, super, loser, victory."""
CACHE_NAME = "sign_mnist-v1"


def _decode_csv(path: Path) -> dict[str, np.ndarray]:
    table = read_csv(path, COLUMNS, FILE_KIND)
    unexpected = [str(column) for column in table.columns if column not in COLUMNS]
    if unexpected:
        raise DataError(
            f"{path}: unexpected column(s) {', '.join(unexpected[:5])}; expected label, pixel1..pixel784"
        )
    alphabet_positions = integer_columns(table, ["label"], path, 0, 24)[:, 0]
    motion_rows = np.flatnonzero(np.isin(alphabet_positions, list(MOTION_LABELS)))
    if len(motion_rows):
        row = motion_rows[0]
        label = int(alphabet_positions[row])
        raise DataError(
            f"{path}: row {row + 1}: label {label} is {MOTION_LABELS[label]}, "
            "a motion letter that Sign MNIST lacks"
        )
    pixels = integer_columns(table, COLUMNS[1:], path, 0, 255).astype(np.uint8)
    # Skip J's slot: alphabet position -> index in LETTERS.
    labels = alphabet_positions - (alphabet_positions > 9)
    return {"images": pixels.reshape(-1, SIDE, SIDE), "labels": labels}


def _checked_letters(letters: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(letter.strip().upper() for letter in letters)
    unknown = [letter for letter in chosen if letter not in LETTERS]
    if unknown:
        raise DataError(f"letters {unknown} are not Sign MNIST letters (A..Y without J)")
    if len(set(chosen)) != len(chosen) or not chosen:
        raise DataError(f"letters must be distinct and non-empty, got {list(letters)}")
    return chosen


def load_sign_mnist(
    path: str | Path,
    letters: Sequence[str] | None = None,
    other: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageSet:
    """Sign MNIST as 28x28 uint8 images.

    ``letters=None``: all 24 letters, label set :data:`SIGN_MNIST`. With ``letters`` (e.g.
    ``("A", "F", "L", "V")``) the label set is ``asl_gesture`` with those classes, plus ``other``
    for every remaining letter when ``other`` is True; with ``other=False`` those rows are
    dropped. ``meta["rows"]`` holds original row indices, ``meta["letters"]`` each row's letter.
    """
    path = require_file(path, FILE_KIND)
    arrays = cached_arrays([path], CACHE_NAME, lambda: _decode_csv(path), cache_dir)
    letter_index = arrays["labels"]
    if letters is None:
        label_set, new_index = SIGN_MNIST, np.arange(len(LETTERS))
    else:
        chosen = _checked_letters(letters)
        label_set = LabelSet("asl_gesture", chosen + ((OTHER,) if other else ()))
        # -1 marks letters that are dropped (other=False).
        new_index = np.full(len(LETTERS), len(chosen) if other else -1, dtype=np.int64)
        new_index[[LETTERS.index(letter) for letter in chosen]] = np.arange(len(chosen))
    labels = new_index[letter_index]
    rows = np.flatnonzero(labels >= 0).astype(np.int64)
    return ImageSet(
        images=arrays["images"][rows],
        labels=labels[rows],
        label_set=label_set,
        source=path.name,
        meta={"rows": rows, "letters": np.asarray(LETTERS)[letter_index[rows]], "path": str(path)},
    )
