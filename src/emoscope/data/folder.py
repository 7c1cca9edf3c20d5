"""Image-folder datasets (RAF-DB, AffectNet, CK+ exports): ``root/<class name>/<image file>``.

Folder names are class names in any common spelling (``Happiness``, ``happy``, ``HAPPY``).
Colour images stay in OpenCV's BGR order, as everywhere else in emoscope.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscope.data.csvfile import one_line
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7, FERPLUS8, LabelSet, canonical_name
from emoscope.errors import DataError

IMAGE_EXTENSIONS = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".pgm", ".ppm", ".tif", ".tiff", ".webp"})
"""Files with other extensions (notes, CSVs, thumbnails databases) are skipped silently."""


def _visible_children(folder: Path) -> list[Path]:
    # Sorted for determinism; dot-files are OS or tool litter (.DS_Store, .ipynb_checkpoints).
    return sorted(child for child in folder.iterdir() if not child.name.startswith("."))


def infer_label_set(class_names: list[str]) -> LabelSet:
    """FER7 if every name is a FER2013 class, else FERPLUS8 if they fit, else the sorted names."""
    names = {canonical_name(name) for name in class_names}
    for known in (FER7, FERPLUS8):
        if names <= set(known.classes):
            return known
    return LabelSet("folder", tuple(sorted(names)))


def _class_index(folder: Path, label_set: LabelSet) -> int:
    # Exact names first, so label sets with upper-case classes (ASL letters) match too.
    for name in (folder.name, canonical_name(folder.name)):
        if name in label_set.classes:
            return label_set.classes.index(name)
    raise DataError(
        f"{folder}: folder name {folder.name!r} is not a class of label set {label_set.name!r} "
        f"(known: {', '.join(label_set.classes)})"
    )


def _as_size(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if height < 1 or width < 1:
        raise DataError(f"image_size must be positive, got {image_size}")
    return int(height), int(width)


def _read_image(path: Path, grayscale: bool) -> np.ndarray | None:
    """Decoded uint8 pixels, or None when the file is not a readable image."""
    import cv2  # optional dependency: only image-folder datasets need it

    try:
        # imdecode rather than imread: imread cannot open non-ASCII paths on Windows.
        data = np.fromfile(path, dtype=np.uint8)
        if data.size == 0:
            return None
        return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    except (OSError, cv2.error):
        return None


def load_image_folder(
    root: str | Path,
    label_set: LabelSet | None = None,
    image_size: int | tuple[int, int] | None = None,
    grayscale: bool = True,
) -> ImageSet:
    """Every image under ``root/<class>/`` as uint8 ``(N, H, W)`` (grayscale) or ``(N, H, W, 3)`` BGR.

    ``image_size`` (an int or ``(h, w)``) resizes with area interpolation; without it all images
    must already share one size. ``label_set`` defaults to :func:`infer_label_set` of the folder
    names. ``meta["files"]`` lists each image's path relative to ``root``.
    """
    import cv2

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    class_folders = [child for child in _visible_children(root) if child.is_dir()]
    if not class_folders:
        raise DataError(f"{root}: no class subfolders (expected {root}/<class name>/<images>)")
    if label_set is None:
        label_set = infer_label_set([folder.name for folder in class_folders])
    size = _as_size(image_size)

    images: list[np.ndarray] = []
    labels: list[int] = []
    files: list[Path] = []
    unreadable: list[Path] = []
    for folder in class_folders:
        label = _class_index(folder, label_set)
        for path in _visible_children(folder):
            if path.suffix.lower() not in IMAGE_EXTENSIONS or not path.is_file():
                continue
            image = _read_image(path, grayscale)
            if image is None:
                unreadable.append(path)
                continue
            if size is not None and image.shape[:2] != size:
                image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            elif size is None and images and image.shape != images[0].shape:
                raise DataError(
                    f"{path}: image is {image.shape[1]}x{image.shape[0]} but {files[0]} is "
                    f"{images[0].shape[1]}x{images[0].shape[0]}; pass image_size to resize them"
                )
            images.append(image)
            labels.append(label)
            files.append(path)
    if unreadable:
        raise DataError(
            f"{root}: {len(unreadable)} image file(s) could not be decoded, "
            f"first: {one_line(unreadable[0], 200)}"
        )
    if not images:
        raise DataError(f"{root}: no images found (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return ImageSet(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.int64),
        label_set=label_set,
        source=root.name,
        meta={"files": np.array([str(path.relative_to(root)) for path in files]), "root": str(root)},
    )
