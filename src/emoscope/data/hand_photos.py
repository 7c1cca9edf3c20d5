"""Labelled photos of real hands (a folder or a ``.tar.gz`` of one, with a ``manifest.csv``), split by
person into a part to develop on and a part only measured on.

The manifest needs ``path`` (relative to the folder), ``label`` (A, F, L, V or other) and the person
(``person``, or ``hand_id`` as in the Massey set ``../shared/data/hands/asl_massey_aflv``). Near-
duplicate shots of one person must never straddle the split, so it is made by person, never by image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.data.photo_sets import decode_photo, read_photo_set
from emoscope.data.sign_mnist import GESTURE_LETTERS
from emoscope.errors import DataError

HAND_LABELS = (*GESTURE_LETTERS, "other")
MASSEY_MEASURE_PEOPLE = ("3", "4", "5")
"""The Massey set's people 1 and 2 were photographed under all five lightings (50 photos per letter):
they are developed on. People 3, 4 and 5 (20 photos per letter, 3 lightings) are only measured on."""
PERSON_COLUMNS = ("person", "hand_id")


@dataclass(frozen=True)
class HandPhoto:
    path: str  # as the manifest names it
    label: str
    person: str
    image_bytes: bytes

    def image(self) -> np.ndarray:
        """The photo as BGR; a one-line :class:`DataError` if it does not decode."""
        return decode_photo(self.image_bytes, self.path)


def load_hand_photos(source: str | Path, part: str = "all",
                     measure_people: tuple[str, ...] = MASSEY_MEASURE_PEOPLE) -> list[HandPhoto]:
    """The photos of ``part``: ``dev`` (people not in ``measure_people``), ``measure`` or ``all``."""
    source = Path(source)
    rows, files = read_photo_set(source, part, "hand-photo set", "path, label, person")
    person_column = next((c for c in PERSON_COLUMNS if rows and c in rows[0]), None)
    if not rows or "path" not in rows[0] or "label" not in rows[0] or person_column is None:
        raise DataError(f"{source}: manifest.csv needs columns path, label and person (or hand_id)")
    photos = []
    for row in rows:
        if row["label"] not in HAND_LABELS:
            raise DataError(f"{source}: {row['path']}: label {row['label']!r} is not one of {', '.join(HAND_LABELS)}")
        if row["path"] not in files:
            raise DataError(f"{source}: manifest names {row['path']}, which is not in the set")
        measured = row[person_column] in measure_people
        if part == "all" or (part == "measure") == measured:
            photos.append(HandPhoto(row["path"], row["label"], row[person_column], files[row["path"]]))
    return photos
