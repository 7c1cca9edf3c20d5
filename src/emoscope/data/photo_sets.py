"""Labelled photo sets as they are kept outside the repository: a folder, or a ``.tar.gz`` of one folder,
holding the photos and a ``manifest.csv`` (:mod:`emoscope.data.face_photos`, :mod:`emoscope.data.hand_photos`)."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emoscope.errors import DataError


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
