"""Labelled photos of real faces (a folder or a ``.tar.gz`` of one, with a ``manifest.csv``), split by
subject into a part to develop on and a part only measured on.

The manifest needs ``path`` (relative to the folder), ``label`` (one of FER2013's seven expressions, in
any common spelling) and ``identity`` (who is photographed); ``source_family`` (where the photo comes
from, e.g. LFW or IMFDB) is optional and reported by. The set
``../shared/data/faces_wild/faces_muxspace_wild_7expr.tar.gz`` has this form.

The split (:func:`split_by_identity`) never puts one person on both sides, is the same on every machine
(it depends only on the identities' names and labels, not on the row order) and puts every class that
at least two people show on both sides.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.data.labels import FER7
from emoscope.data.photo_sets import decode_photo, read_photo_set
from emoscope.errors import DataError

MEASURE_SHARE = 0.5
"""About this share of each class's photos is only measured on."""
UNKNOWN_SOURCE = "unknown"
REQUIRED_COLUMNS = ("path", "label", "identity")


@dataclass(frozen=True)
class FacePhoto:
    path: str  # as the manifest names it
    label: str  # a FER7 class name
    identity: str
    source_family: str
    image_bytes: bytes

    def image(self) -> np.ndarray:
        """The photo as BGR; a one-line :class:`DataError` if it does not decode."""
        return decode_photo(self.image_bytes, self.path)


def _identity_order(identity: str) -> str:
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def split_by_identity(identities, labels, measure_share: float = MEASURE_SHARE) -> dict[str, str]:
    """``{identity: "dev" | "measure"}``, every identity on one side only.

    Rule: classes are taken rarest first (fewest photos; ties in FER2013 order). For each class, the
    identities with photos of it that are not yet placed are taken in the order of the SHA-256 of
    their name; each goes to the measure part when that part holds less than ``measure_share`` of the
    class's photos placed so far (so the first goes there), else to the development part, and all of
    its photos go with it. So a class shown by two or more people lands on both sides, and rare classes
    (fear: 21 photos of 16 people in the muxspace set) are balanced before common ones fill the rest.
    """
    identities, labels = np.asarray(identities, dtype=str), np.asarray(labels, dtype=str)
    if len(identities) != len(labels) or len(labels) == 0:
        raise DataError(f"need one identity per label, got {len(identities)} identities and {len(labels)} labels")
    if not 0 < measure_share < 1:
        raise DataError(f"measure share must be between 0 and 1 (exclusive), got {measure_share}")
    counts = Counter(labels.tolist())
    per_identity: dict[str, Counter] = {}
    for identity, label in zip(identities.tolist(), labels.tolist()):
        per_identity.setdefault(identity, Counter())[label] += 1
    order = {name: i for i, name in enumerate(FER7.classes)}
    placed: dict[str, Counter] = {"dev": Counter(), "measure": Counter()}  # photos per class on each side
    part: dict[str, str] = {}
    for label in sorted(counts, key=lambda c: (counts[c], order.get(c, len(order)), c)):
        holders = sorted((i for i, shown in per_identity.items() if label in shown and i not in part),
                         key=_identity_order)
        for identity in holders:
            so_far = placed["dev"][label] + placed["measure"][label]
            side = "measure" if so_far == 0 or placed["measure"][label] < measure_share * so_far else "dev"
            part[identity] = side
            placed[side].update(per_identity[identity])
    return part


def _rows(source: Path, part: str) -> tuple[list[dict[str, str]], dict[str, bytes]]:
    rows, files = read_photo_set(source, part, "face-photo set", f"{', '.join(REQUIRED_COLUMNS)}[, source_family]")
    if not rows or any(column not in rows[0] for column in REQUIRED_COLUMNS):
        raise DataError(f"{source}: manifest.csv needs columns {', '.join(REQUIRED_COLUMNS)} and at least one row")
    return rows, files


def load_face_photos(source: str | Path, part: str = "all", measure_share: float = MEASURE_SHARE) -> list[FacePhoto]:
    """The photos of ``part`` (``dev``, ``measure`` or ``all``) in manifest order; the split is
    :func:`split_by_identity` over the whole manifest, so it does not depend on which part is asked for."""
    source = Path(source)
    rows, files = _rows(source, part)
    for row in rows:
        row.update({column: (row[column] or "").strip() for column in REQUIRED_COLUMNS})  # short rows give None
        if row["path"] not in files:
            raise DataError(f"{source}: manifest names {row['path']}, which is not in the set")
        if not row["identity"]:
            raise DataError(f"{source}: {row['path']}: empty identity")
        try:
            row["label"] = FER7.classes[FER7.index(row["label"])]
        except DataError:
            raise DataError(f"{source}: {row['path']}: label {row['label']!r} is not one of "
                            f"{', '.join(FER7.classes)}") from None
    parts = split_by_identity([r["identity"] for r in rows], [r["label"] for r in rows], measure_share)
    return [FacePhoto(row["path"], row["label"], row["identity"], row.get("source_family") or UNKNOWN_SOURCE,
                      files[row["path"]])
            for row in rows if part == "all" or parts[row["identity"]] == part]


def part_of(photos: list[FacePhoto], measure_share: float = MEASURE_SHARE) -> dict[str, str]:
    """``{identity: part}`` for a list of photos (all of a set's photos, as :func:`load_face_photos`
    with ``part="all"`` returns them)."""
    return split_by_identity([p.identity for p in photos], [p.label for p in photos], measure_share)
