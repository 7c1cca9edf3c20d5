"""FER2013 in its original CSV form (``emotion,pixels,Usage``), decoded once into a uint8 cache.

Parsing 35,887 rows of 2,304 space-separated numbers takes seconds, so the decoded arrays are
kept by :mod:`emoscope.data.cache`; every later load reads them back in well under a second.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emoscope.data.cache import cached_arrays
from emoscope.data.csvfile import integer_columns, one_line, read_csv, require_file
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7
from emoscope.errors import DataError

log = logging.getLogger(__name__)

SIDE = 48
PIXELS_PER_IMAGE = SIDE * SIDE
COLUMNS = ("emotion", "pixels", "Usage")
FILE_KIND = "FER2013 CSV"

USAGES = ("Training", "PublicTest", "PrivateTest")
"""FER2013's ``Usage`` values; their position is the usage code stored in the cache."""

SPLIT_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
"""Short split names: PublicTest is the customary validation set, PrivateTest the test set."""
USAGE_SPLIT = {usage: split for split, usage in SPLIT_USAGE.items()}

FLAGS_FILE = "fer2013_reconstruction_flags.csv.gz"
"""Per-row provenance that ships beside the reconstructed CSV (see its README)."""

CACHE_NAME = "fer2013-v1"

_PIXEL_TEXT = re.compile(r"[0-9 ]*")


def usage_of_split(split: str | None) -> str | None:
    """``"train"``/``"val"``/``"test"`` or a raw Usage name (any case) -> Usage name; None/"all" -> None."""
    if split is None or split.lower() == "all":
        return None
    by_name = {**SPLIT_USAGE, **{usage.lower(): usage for usage in USAGES}}
    try:
        return by_name[split.lower()]
    except KeyError:
        known = ", ".join([*SPLIT_USAGE, *USAGES])
        raise DataError(f"unknown FER2013 split {split!r} (known: {known}, or None for all rows)") from None


def split_name(usage: str | None) -> str:
    """The short name recorded in ``meta["split"]``: train/val/test, or all."""
    return USAGE_SPLIT[usage] if usage else "all"


def usage_codes(values: Sequence[str], path: Path, column: str = "Usage") -> np.ndarray:
    """Usage strings -> int8 codes (index into :data:`USAGES`); DataError naming the first bad row."""
    lookup = {usage: code for code, usage in enumerate(USAGES)}
    codes = np.array([lookup.get(value, -1) for value in values], dtype=np.int8)
    if (codes < 0).any():
        row = int(np.argmax(codes < 0))
        raise DataError(
            f"{path}: row {row + 1}: {column} is {one_line(repr(values[row]), 40)}, "
            f"expected one of {', '.join(USAGES)}"
        )
    return codes


def decode_pixels(pixel_texts: Sequence[str], path: Path) -> np.ndarray:
    """Space-separated pixel strings -> ``(N, 48, 48)`` uint8; DataError naming the first bad row."""
    images = np.empty((len(pixel_texts), PIXELS_PER_IMAGE), dtype=np.uint8)
    for row, text in enumerate(pixel_texts):
        where = f"{path}: row {row + 1}: pixels"
        # np.fromstring quietly reads "-" or a blank as 0, so allow nothing but digits and spaces.
        if not isinstance(text, str) or not _PIXEL_TEXT.fullmatch(text):
            raise DataError(
                f"{where} must be integers 0..255 separated by spaces, got {one_line(repr(text), 40)}"
            )
        # int64 so that values beyond 255 are seen rather than wrapped around.
        values = np.fromstring(text, dtype=np.int64, sep=" ") if text.strip() else np.empty(0, np.int64)
        if values.size != PIXELS_PER_IMAGE:
            raise DataError(f"{where} has {values.size} values, expected {PIXELS_PER_IMAGE} ({SIDE}x{SIDE})")
        if values.max() > 255:
            raise DataError(f"{where} holds {values.max()}, outside 0..255")
        images[row] = values
    return images.reshape(-1, SIDE, SIDE)


def _decode_csv(path: Path) -> dict[str, np.ndarray]:
    started = time.perf_counter()
    log.info("decoding %s once into the cache (takes a few seconds)", path)
    table = read_csv(path, COLUMNS, FILE_KIND, dtype=str)
    labels = integer_columns(table, ["emotion"], path, 0, len(FER7) - 1)[:, 0]
    usage = usage_codes(table["Usage"].tolist(), path)
    images = decode_pixels(table["pixels"].tolist(), path)
    log.info("decoded %d FER2013 rows in %.1f s", len(images), time.perf_counter() - started)
    return {"images": images, "labels": labels, "usage": usage}


def fer2013_arrays(path: str | Path, cache_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """All rows of a FER2013 CSV as ``images`` (N,48,48) uint8, ``labels`` int64, ``usage`` int8 codes."""
    path = require_file(path, FILE_KIND)
    return cached_arrays([path], CACHE_NAME, lambda: _decode_csv(path), cache_dir)


def approximate_rows(csv_path: str | Path, n_rows: int) -> np.ndarray | None:
    """Boolean mask of rows whose pixels the reconstruction could only approximate.

    Read from the flags file beside the CSV; None when there is no such file (e.g. the original
    Kaggle CSV, where every row is exact).
    """
    flags_path = Path(csv_path).parent / FLAGS_FILE
    if not flags_path.is_file():
        return None
    flags = read_csv(flags_path, ("row", "pixel_source"), "FER2013 flags file", dtype=str)
    rows = integer_columns(flags, ["row"], flags_path, 0, n_rows - 1)[:, 0]
    mask = np.zeros(n_rows, dtype=bool)
    mask[rows[flags["pixel_source"].str.startswith("approx").to_numpy(dtype=bool)]] = True
    return mask


def select_rows(
    arrays: dict[str, np.ndarray], split: str | None, exact_only: bool, path: Path
) -> tuple[np.ndarray, str | None]:
    """Original row indices in the requested split (minus approximate rows), and its Usage name."""
    usage = usage_of_split(split)
    keep = np.ones(len(arrays["labels"]), dtype=bool)
    if usage is not None:
        keep &= arrays["usage"] == USAGES.index(usage)
    if exact_only:
        approximate = approximate_rows(path, len(keep))
        if approximate is not None:
            keep &= ~approximate
    return np.flatnonzero(keep).astype(np.int64), usage


def row_meta(arrays: dict[str, np.ndarray], rows: np.ndarray, usage: str | None, path: Path) -> dict:
    """The per-row bookkeeping every FER2013-based loader attaches, so results trace back to rows."""
    return {
        "rows": rows,
        "split": split_name(usage),
        "usage": np.asarray(USAGES)[arrays["usage"][rows]],
        "path": str(path),
    }


def load_fer2013(
    path: str | Path,
    split: str | None = None,
    cache_dir: str | Path | None = None,
    exact_only: bool = False,
) -> ImageSet:
    """FER2013 from ``fer2013.csv`` (plain or gzipped) as 48x48 grayscale images with FER7 labels.

    ``split``: None (all rows), ``"train"``/``"val"``/``"test"`` or Training/PublicTest/PrivateTest.
    ``exact_only`` drops the rows flagged approximate in a reconstruction flags file beside the CSV.
    ``meta["rows"]`` holds the original 0-based row of every image (to join FER+ or trace results).
    """
    path = Path(path)
    arrays = fer2013_arrays(path, cache_dir)
    rows, usage = select_rows(arrays, split, exact_only, path)
    return ImageSet(
        images=arrays["images"][rows],
        labels=arrays["labels"][rows],
        label_set=FER7,
        source=f"{path.name} [{usage or 'all'}]",
        meta={**row_meta(arrays, rows, usage, path), "exact_only": exact_only},
    )
