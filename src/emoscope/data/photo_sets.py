"""Labelled photo sets as they are kept outside the repository: a folder, or a ``.tar.gz`` of one folder,
holding the photos and a ``manifest.csv`` (:mod:`emoscope.data.face_photos`, :mod:`emoscope.data.hand_photos`)."""

from __future__ import annotations

import csv
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emoscope.errors import DataError

PARTS = ("dev", "measure", "all")
"""The part developed on, the part only measured on, or both."""


def decode_photo(image_bytes: bytes, name: str) -> np.ndarray:
    """A photo's bytes as BGR (grayscale expanded; OpenCV decodes by content, so a WEBP file named
    ``.jpg`` is read); a one-line :class:`DataError` naming the photo if it does not decode."""
    import cv2

    image = cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{name}: not a readable image")
    return image


def set_members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(path relative to the set's folder, bytes) for every file of a folder or of a .tar.gz of one folder."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                yield path.relative_to(source).as_posix(), path.read_bytes()
        return
    try:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    yield member.name.split("/", 1)[-1], archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{source}: not a readable folder or tar archive ({exc})") from None


def read_photo_set(source: Path, part: str, what: str, columns: str) -> tuple[list[dict[str, str]], dict[str, bytes]]:
    """The manifest's rows and every file of a photo set, after the checks both kinds of set share: a
    known ``part``, a set that exists and a readable ``manifest.csv`` with at least one row. ``what``
    names the set in errors (e.g. "face-photo set"), ``columns`` the columns its manifest needs."""
    if part not in PARTS:
        raise DataError(f"unknown part {part!r} (choose {', '.join(PARTS)})")
    if not source.exists():
        raise DataError(f"{source}: no such {what} (a folder or .tar.gz with a manifest.csv)")
    files = dict(set_members(source))
    if "manifest.csv" not in files:
        raise DataError(f"{source}: no manifest.csv (columns {columns})")
    try:
        rows = list(csv.DictReader(io.StringIO(files["manifest.csv"].decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{source}: manifest.csv is not a readable UTF-8 CSV ({exc})") from None
    return rows, files
