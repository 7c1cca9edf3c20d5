"""FER+ (Barsoum et al., 2016): FER2013 images relabelled by 10 annotators, joined by row position.

Labels follow Microsoft's FERPlus ``majority`` rule: single votes are outliers and removed, the
winning column must hold more than half of the remaining votes (all ten columns, including
``unknown`` and ``NF`` = not a face), and rows won by unknown/NF are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscope.data.csvfile import integer_columns, read_csv
from emoscope.data.fer2013 import fer2013_arrays, row_meta, select_rows, usage_codes
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FERPLUS8, canonical_name
from emoscope.errors import DataError

EMOTION_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
"""FER+'s emotion vote columns, in the file's order (not FERPLUS8's)."""

NON_EMOTION_COLUMNS = ("unknown", "NF")
MAX_VOTES = 1000
"""Sanity bound on one vote count (FER+ has 10 annotators per image); larger means a broken file."""
MODES = ("majority",)


def vote_matrix(ferplus_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """FER+ votes as ``(N, 10)`` int64 in FERPLUS8 order followed by unknown, NF; and int8 usage codes."""
    path = Path(ferplus_path)
    table = read_csv(path, ("Usage", *EMOTION_COLUMNS, *NON_EMOTION_COLUMNS), "FER+ CSV")
    # Map by name, so the file's column order never has to match FERPLUS8's.
    emotion_by_class = {canonical_name(column): column for column in EMOTION_COLUMNS}
    columns = [emotion_by_class[name] for name in FERPLUS8.classes] + list(NON_EMOTION_COLUMNS)
    votes = integer_columns(table, columns, path, 0, MAX_VOTES)
    usage = usage_codes(table["Usage"].astype(str).tolist(), path)
    return votes, usage


def majority_labels(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply FERPlus's majority rule to ``(N, 10)`` votes (8 emotions, unknown, NF).

    Returns ``(keep, labels, soft_labels)`` for all N rows: ``keep`` marks rows with a clear
    emotion winner, ``labels`` the winner's FERPLUS8 index, ``soft_labels`` the 8 emotion votes
    after outlier removal normalised to sum 1 (float32; zeros where no emotion vote is left).
    """
    votes = np.where(votes <= 1, 0, votes)  # one annotator alone is treated as noise
    winner = votes.argmax(axis=1)
    clear_majority = 2 * votes.max(axis=1) > votes.sum(axis=1)
    emotion_votes = votes[:, : len(FERPLUS8)]
    emotion_total = emotion_votes.sum(axis=1)
    keep = clear_majority & (winner < len(FERPLUS8)) & (emotion_total > 0)
    soft = emotion_votes / np.maximum(emotion_total, 1)[:, None]
    return keep, winner, soft.astype(np.float32)


def load_ferplus(
    fer2013_path: str | Path,
    ferplus_path: str | Path,
    split: str | None = None,
    cache_dir: str | Path | None = None,
    mode: str = "majority",
    exact_only: bool = False,
) -> ImageSet:
    """FER2013 images with FER+ labels (FERPLUS8) and vote distributions as ``soft_labels``.

    The two files are joined by row position (FER+'s image names are not row numbers), after
    checking they have the same number of rows and the same Usage on every row. ``split`` and
    ``exact_only`` work as in :func:`~emoscope.data.fer2013.load_fer2013`; ``meta["rows"]`` holds
    the original row of every kept image.
    """
    if mode not in MODES:
        raise DataError(f"unknown FER+ label mode {mode!r} (known: {', '.join(MODES)})")
    fer2013_path, ferplus_path = Path(fer2013_path), Path(ferplus_path)
    arrays = fer2013_arrays(fer2013_path, cache_dir)
    votes, ferplus_usage = vote_matrix(ferplus_path)
    if len(votes) != len(arrays["labels"]):
        raise DataError(
            f"{ferplus_path}: {len(votes)} rows, but {fer2013_path.name} has {len(arrays['labels'])}; "
            "FER+ must be row-aligned with FER2013"
        )
    mismatched = np.flatnonzero(ferplus_usage != arrays["usage"])
    if len(mismatched):
        raise DataError(
            f"{ferplus_path}: row {mismatched[0] + 1}: Usage differs from {fer2013_path.name} "
            f"({len(mismatched)} rows differ); the files are not row-aligned"
        )
    keep, labels, soft = majority_labels(votes)
    rows, usage = select_rows(arrays, split, exact_only, fer2013_path)
    rows = rows[keep[rows]]
    return ImageSet(
        images=arrays["images"][rows],
        labels=labels[rows],
        label_set=FERPLUS8,
        source=f"FER+ {ferplus_path.name} [{usage or 'all'}]",
        soft_labels=soft[rows],
        meta={**row_meta(arrays, rows, usage, fer2013_path), "exact_only": exact_only, "mode": mode},
    )
