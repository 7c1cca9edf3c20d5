"""Metrics per group of images, with bootstrap intervals, and the largest gap between groups.

Groups come only from metadata the user supplies (a CSV of image id -> group): emoscope never infers
race, ethnicity, gender or any other demographic from a face. Why, and how to read the output:
docs/groups.md.

Each group's accuracy, macro-F1 and per-class recall gets a 95% percentile bootstrap interval,
resampling the group's images with replacement (seeded, vectorised: a few milliseconds per group).
A group smaller than :data:`MIN_GROUP_SIZE` is refused rather than reported: its interval would be
too wide to tell it from any other group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

import numpy as np

from emoscope.data.csvfile import one_line, read_csv
from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError, EmoscopeError
from emoscope.evaluation.metrics import classification_metrics, undefined_as_none

MIN_GROUP_SIZE = 100
"""Fewest images a group may have. At 100 images and an accuracy near FER2013's 0.65, the 95% interval
is about +-9 points wide (1.96 * sqrt(0.65 * 0.35 / 100)), already as wide as the gaps worth finding;
below it, 7 classes leave most classes with a handful of images, and a "gap" is mostly noise."""
MIN_BOOTSTRAP = 100
"""Fewest bootstrap resamples: the 2.5% and 97.5% percentiles of fewer are a few resamples each."""
MAX_BOOTSTRAP = 100_000
CONFIDENCE = 0.95
GAP_METRICS = ("accuracy", "macro_f1")
ID_COLUMNS = ("id", "image", "path")
"""The image-id column of a groups CSV, under any of these names (the first one present is used)."""
_CELLS_PER_CHUNK = 1 << 22  # bootstrap index cells drawn at once: 32 MB of int64, whatever the group size


def check_group_sizes(sizes: Mapping[str, int], min_size: int = MIN_GROUP_SIZE) -> None:
    """Refuse fewer than two groups, or a group below ``min_size`` images (one DataError naming it)."""
    if min_size < 1:
        raise EmoscopeError(f"the minimum group size must be at least 1, got {min_size}")
    if len(sizes) < 2:
        found = f"only {', '.join(repr(g) for g in sizes)}" if sizes else "none"
        raise DataError(f"a group comparison needs at least 2 groups with images; found {found}")
    small = sorted((n, name) for name, n in sizes.items() if n < min_size)
    if small:
        n, name = small[0]
        others = "".join(f"; also {other!r} ({size})" for size, other in small[1:4])
        more = f" and {len(small) - 4} more" if len(small) > 4 else ""
        raise DataError(f"group {name!r} has {n} images, fewer than the minimum of {min_size} for a group "
                        f"comparison (its 95% interval would be too wide to compare){others}{more}")


def _interval(point: float | None, samples: np.ndarray) -> dict:
    """``{"value", "low", "high"}``: the point estimate and the percentile interval of its resamples."""
    samples = samples[np.isfinite(samples)]
    if point is None or not np.isfinite(point) or samples.size == 0:
        return {"value": None, "low": None, "high": None}
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return {"value": float(point), "low": float(low), "high": float(high)}


def _bootstrap(y: np.ndarray, pred: np.ndarray, k: int, present: np.ndarray, n_boot: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy ``(B,)``, macro-F1 over the ``present`` classes ``(B,)`` and recall ``(B, k)`` (nan where
    a resample has no image of a class) of ``n_boot`` resamples of one group's images."""
    n = len(y)
    accuracy = np.empty(n_boot)
    macro_f1 = np.empty(n_boot)
    recall = np.empty((n_boot, k))
    correct = y == pred
    step = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        index = rng.integers(0, n, size=(b, n))
        hits = correct[index]
        offset = np.arange(b)[:, None] * k  # one block of k counters per resample
        true_cells, pred_cells = (offset + y[index]).ravel(), (offset + pred[index]).ravel()
        support = np.bincount(true_cells, minlength=b * k).reshape(b, k).astype(np.float64)
        predicted = np.bincount(pred_cells, minlength=b * k).reshape(b, k).astype(np.float64)
        tp = np.bincount(true_cells[hits.ravel()], minlength=b * k).reshape(b, k).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rec = tp / support  # nan where a resample lacks the class
            prec = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
            rec0 = np.nan_to_num(rec)
            f1 = np.where(prec + rec0 > 0, 2 * prec * rec0 / np.maximum(prec + rec0, 1e-300), 0.0)
        accuracy[start:start + b] = hits.mean(axis=1)
        macro_f1[start:start + b] = f1[:, present].mean(axis=1)
        recall[start:start + b] = rec
    return accuracy, macro_f1, recall


def evaluate_groups(
    y_true: np.ndarray,
    probs: np.ndarray,
    groups: Sequence[str],
    classes: list[str],
    *,
    n_boot: int = 1000,
    min_size: int = MIN_GROUP_SIZE,
    seed: int = 0,
) -> dict:
    """Accuracy, macro-F1 and per-class recall of every group, each with a 95% bootstrap interval, and
    the largest gap between groups; a JSON-ready dict (see docs/groups.md for its fields).

    A group's macro-F1 averages the F1 of the classes it has images of (a group is not marked down for
    lacking a class); with every class present it equals :func:`classification_metrics`' ``macro_f1``.
    Per-class recall is ``None`` for a class the group has no image of. Raises DataError for fewer than
    2 groups or a group below ``min_size`` images.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    missing = [i for i, g in enumerate(groups) if g is None]
    if missing:
        raise DataError(f"image {missing[0]} (and {len(missing) - 1} more) has no group; leave images "
                        "without a group out of a group comparison")
    groups = np.asarray([str(g) for g in groups], dtype=object)
    k = len(classes)
    if probs.ndim != 2 or probs.shape[1] != k:
        raise DataError(f"probabilities have shape {probs.shape}, expected (N, {k}) for classes {', '.join(classes)}")
    if not len(y_true) == len(probs) == len(groups):
        raise DataError(f"{len(y_true)} labels, {len(probs)} probability rows and {len(groups)} groups: "
                        "one of each per image is needed")
    if not MIN_BOOTSTRAP <= n_boot <= MAX_BOOTSTRAP:
        raise EmoscopeError(f"bootstrap resamples must be {MIN_BOOTSTRAP}..{MAX_BOOTSTRAP}, got {n_boot}")
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= k):
        raise DataError(f"labels outside 0..{k - 1}")
    if any(not name.strip() for name in groups):
        raise DataError("a group name is empty")
    names = sorted(set(groups))
    check_group_sizes({name: int((groups == name).sum()) for name in names}, min_size)

    rng = np.random.default_rng(seed)
    pred = probs.argmax(axis=1)
    report: dict = {}
    for name in names:
        rows = np.flatnonzero(groups == name)
        y, p = y_true[rows], pred[rows]
        metrics = classification_metrics(y, probs[rows], classes)
        counts = np.bincount(y, minlength=k)
        present = counts > 0
        f1 = np.array([metrics["per_class"][c]["f1"] for c in classes])
        boot_acc, boot_f1, boot_recall = _bootstrap(y, p, k, present, n_boot, rng)
        report[name] = {
            "n": len(rows),
            "class_counts": {c: int(counts[i]) for i, c in enumerate(classes)},
            "accuracy": _interval(metrics["accuracy"], boot_acc),
            "macro_f1": _interval(float(f1[present].mean()), boot_f1),
            "per_class_recall": {
                c: _interval(metrics["per_class"][c]["recall"], boot_recall[:, i]) if present[i] else None
                for i, c in enumerate(classes)
            },
        }
    gaps = {metric: largest_gap(report, metric) for metric in GAP_METRICS}
    return undefined_as_none({
        "groups": report,
        "largest_gap": gaps["accuracy"],
        "largest_gaps": gaps,
        "n_boot": int(n_boot),
        "min_size": int(min_size),
        "confidence": CONFIDENCE,
        "seed": int(seed),
    })


def largest_gap(groups: Mapping[str, dict], metric: str) -> dict:
    """The best minus the worst group on ``metric``, and whether their intervals overlap (if they do,
    the gap may be resampling noise)."""
    scored = {name: row[metric] for name, row in groups.items() if row[metric]["value"] is not None}
    best = max(scored, key=lambda name: (scored[name]["value"], name))
    worst = min(scored, key=lambda name: (scored[name]["value"], name))
    return {
        "metric": metric,
        "value": scored[best]["value"] - scored[worst]["value"],
        "between": [best, worst],
        "intervals_overlap": scored[worst]["high"] >= scored[best]["low"],
    }


def gap_sentence(gap: dict) -> str:
    """One line for people: ``largest accuracy gap: 0.120 (day 0.700 vs dark 0.580; intervals do not overlap)``."""
    best, worst = gap["between"]
    caveat = "intervals overlap: may be noise" if gap["intervals_overlap"] else "intervals do not overlap"
    return f"largest {gap['metric']} gap: {gap['value']:.3f} ({best} best, {worst} worst; {caveat})"


# -- which image is in which group -------------------------------------------------------------------


def read_groups_csv(path: str | Path) -> dict[str, str]:
    """``{image id: group}`` from a CSV with an ``id`` (or ``image`` / ``path``) and a ``group`` column.

    An id is a FER2013-style dataset's 0-based row in its source CSV, or an image folder's file path
    relative to the folder (or the bare file name). Duplicate ids, empty ids or groups and a missing
    column are one DataError each.
    """
    path = Path(path)
    table = read_csv(path, ["group"], "groups file", dtype=str)
    id_column = next((c for c in ID_COLUMNS if c in table.columns), None)
    if id_column is None:
        found = ", ".join(one_line(c, 30) for c in table.columns[:12])
        raise DataError(f"{path}: missing an image id column ({' or '.join(ID_COLUMNS)}); found: {found}")
    ids = table[id_column].astype(str).str.strip()
    names = table["group"].astype(str).str.strip()
    for column, values in ((id_column, ids), ("group", names)):
        empty = np.flatnonzero((values == "").to_numpy())
        if empty.size:
            raise DataError(f"{path}: row {empty[0] + 1}: empty {column}")
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if duplicated.size:
        raise DataError(f"{path}: row {duplicated[0] + 1}: {id_column} {one_line(ids.iat[duplicated[0]], 60)!r} "
                        "appears more than once")
    return dict(zip(ids.tolist(), names.tolist()))


@dataclass
class GroupAssignment:
    """The images that have a group (``images``, with ``groups`` their names, in order) and those left
    out: ``without_group`` images of the set have no row, ``other_ids`` rows name images of other splits."""

    images: ImageSet
    groups: list[str]
    index: np.ndarray
    without_group: int
    other_ids: int

    def sizes(self) -> dict[str, int]:
        names, counts = np.unique(np.asarray(self.groups, dtype=object), return_counts=True)
        return {str(name): int(count) for name, count in zip(names, counts)}

    def summary(self) -> dict:
        return {"images_with_group": len(self.groups), "images_without_group": self.without_group,
                "ids_not_in_split": self.other_ids}


def _row_number(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def assign_groups(images: ImageSet, mapping: Mapping[str, str], source: str = "groups file") -> GroupAssignment:
    """Match ``mapping``'s ids to ``images``: rows (``meta["rows"]``) for FER2013/FER+/Sign MNIST/CSV
    datasets, relative paths or file names (``meta["files"]``) for image folders.

    Ids of images in other splits are left aside and counted (one groups file can cover train, val and
    test); an id that cannot be an image of the dataset at all (not a row number, no such file) is a
    DataError, as is a set with no per-image ids (a pack) or no image with a group.
    """
    if "rows" in images.meta:
        keys = [str(int(row)) for row in images.meta["rows"]]
        for value in mapping:
            if _row_number(value) is None:
                raise DataError(f"{source}: unknown id {one_line(value, 60)!r}: {images.source} is indexed by "
                                "its 0-based row number in the source CSV")
        known = {_row_number(value): group for value, group in mapping.items()}
        groups = [known.get(int(key)) for key in keys]
        matched = sum(group is not None for group in groups)
    elif "files" in images.meta:
        files = [PurePath(str(f)).as_posix() for f in images.meta["files"]]
        by_name: dict[str, list[int]] = {}
        for i, f in enumerate(files):
            by_name.setdefault(PurePath(f).name, []).append(i)
        by_path = {f: i for i, f in enumerate(files)}
        root = Path(str(images.meta.get("root", "")))
        groups: list[str | None] = [None] * len(files)
        matched = 0
        for value, group in mapping.items():
            key = PurePath(value.replace("\\", "/")).as_posix()
            if key in by_path:
                hits = [by_path[key]]
            elif "/" not in key and key in by_name:
                hits = by_name[key]
                if len(hits) > 1:
                    raise DataError(f"{source}: id {one_line(value, 60)!r} names {len(hits)} images of "
                                    f"{images.source} ({files[hits[0]]}, {files[hits[1]]}); give the relative path")
            else:
                if not _file_beside(root, key):
                    raise DataError(f"{source}: unknown id {one_line(value, 60)!r}: no such image in {root}")
                continue  # an image of another split (root/train beside root/test)
            for i in hits:
                groups[i] = group
            matched += 1
    else:
        raise DataError(f"{images.source}: images carry no ids (rows or file names) to match a groups file "
                        "to; use the dataset's CSV or image folder")
    index = np.flatnonzero([group is not None for group in groups])
    if index.size == 0:
        raise DataError(f"{source}: no id matches an image of {images.source}")
    return GroupAssignment(
        images=images.subset(index),
        groups=[groups[i] for i in index],
        index=index,
        without_group=len(groups) - int(index.size),
        other_ids=len(mapping) - matched,
    )


def _file_beside(root: Path, key: str) -> bool:
    """Whether ``key`` is a file of the image folder ``root``, of the dataset folder above it, or of one
    of its sibling split folders (``root/../train/<key>`` for ``root`` = ``.../test``)."""
    try:
        folders = [root, root.parent, *(child for child in root.parent.iterdir() if child.is_dir())]
        return any((folder / key).is_file() for folder in folders)
    except OSError:
        return False


def select_group(images: ImageSet, mapping: Mapping[str, str], group: str, source: str = "groups file") -> ImageSet:
    """Only the images of ``group`` (for a group-specific fine-tune); DataError when the file has no
    such group or none of its images is in this set."""
    known = sorted(set(mapping.values()))
    if group not in known:
        raise DataError(f"{source}: no group {group!r} (groups: {', '.join(known[:12])})")
    assignment = assign_groups(images, mapping, source)
    chosen = np.flatnonzero(np.asarray(assignment.groups, dtype=object) == group)
    if chosen.size == 0:
        raise DataError(f"{source}: no image of {images.source} is in group {group!r}")
    picked = assignment.images.subset(chosen)
    return replace(picked, source=f"{picked.source}, group {group}")
