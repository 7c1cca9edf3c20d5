"""Datasets: FER2013, FER+, Sign Language MNIST and image folders, all loaded as :class:`ImageSet`.

Named datasets live under :func:`data_root` (``$EMOSCOPE_DATA``, default ``../shared/data``
next to the repository); :func:`load_dataset` turns a name or a path into an ImageSet.
"""

from __future__ import annotations

import os
from pathlib import Path

from emoscope.data.cache import cached_arrays, default_cache_dir
from emoscope.data.face_parts import PART_DATASETS, load_fer2013_part
from emoscope.data.fer2013 import SPLIT_USAGE, USAGES, load_fer2013
from emoscope.data.ferplus import load_ferplus, majority_labels
from emoscope.data.folder import infer_label_set, load_image_folder
from emoscope.data.imageset import ImageSet
from emoscope.data.pack import PACK_SUFFIX, load_pack, write_pack
from emoscope.data.labels import FER7, FERPLUS8, FIVE, LabelSet, canonical_name, get_label_set
from emoscope.data.sign_mnist import GESTURE_LETTERS, SIGN_MNIST, load_sign_mnist
from emoscope.data.splits import (
    limit_per_split,
    stratified_kfold,
    stratified_sample,
    stratified_split,
)
from emoscope.errors import DataError

__all__ = [
    "DATA_ENV",
    "DATASETS",
    "FER7",
    "FERPLUS8",
    "FIVE",
    "GESTURE_LETTERS",
    "SIGN_MNIST",
    "SPLIT_USAGE",
    "USAGES",
    "ImageSet",
    "LabelSet",
    "cached_arrays",
    "canonical_name",
    "data_root",
    "dataset_file",
    "default_cache_dir",
    "get_label_set",
    "infer_label_set",
    "limit_per_split",
    "load_dataset",
    "load_fer2013",
    "load_ferplus",
    "load_image_folder",
    "load_pack",
    "load_sign_mnist",
    "majority_labels",
    "stratified_kfold",
    "stratified_sample",
    "stratified_split",
    "write_pack",
]

DATA_ENV = "EMOSCOPE_DATA"

FER2013_FILES = ("fer2013/fer2013.csv", "fer2013/fer2013.csv.gz", "fer2013/fer2013_reconstructed.csv.gz")
"""Looked for in this order, so an original Kaggle ``fer2013.csv`` wins over the reconstruction."""
FERPLUS_FILES = ("ferplus/fer2013new.csv",)
SIGN_MNIST_SPLITS = ("train", "test")
SIGN_MNIST_HOLDOUT_SPLITS = ("fit", "holdout")
"""``fit`` + ``holdout`` divide Sign MNIST's ``train`` (stratified by letter, fixed seed): it has no
validation split of its own, and choosing epochs on ``test`` would bias the test score."""
SIGN_MNIST_HOLDOUT_FRACTION = 0.1

DATASETS = ("fer2013", "ferplus", "sign_mnist", "asl_gesture")
"""Names :func:`load_dataset` knows; ``asl_gesture`` is Sign MNIST's A/F/L/V versus other."""


def data_root() -> Path:
    """``$EMOSCOPE_DATA``, else ``../shared/data`` from the working directory, else from the repository."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    beside_cwd = Path.cwd() / ".." / "shared" / "data"
    if beside_cwd.is_dir():
        return beside_cwd
    repository = Path(__file__).resolve().parents[3]  # src/emoscope/data/__init__.py -> repository root
    return repository.parent / "shared" / "data"


def dataset_file(what: str, candidates: tuple[str, ...]) -> Path:
    """The first of ``candidates`` (paths relative to :func:`data_root`) that exists."""
    root = data_root()
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    raise DataError(
        f"{what} not found at {root / candidates[-1]}; set {DATA_ENV} to the folder that holds it"
    )


def _sign_mnist_file(split: str | None) -> Path:
    if split not in SIGN_MNIST_SPLITS:
        raise DataError(f"Sign MNIST has the splits {' and '.join(SIGN_MNIST_SPLITS)}, not {split!r} "
                        f"(for validation, train divides into {' and '.join(SIGN_MNIST_HOLDOUT_SPLITS)})")
    names = (f"sign_mnist/sign_mnist_{split}.csv", f"sign_mnist/sign_mnist_{split}.csv.gz")
    return dataset_file(f"Sign MNIST {split} split", names)


def _load_folder_split(root: Path, split: str | None, **kwargs) -> ImageSet:
    # Folder datasets either are one pool of class folders or have train/val/test subfolders.
    if split is None or split == "all":
        return load_image_folder(root, **kwargs)
    if not (root / split).is_dir():
        raise DataError(
            f"{root}: no {split!r} subfolder; use split 'all' to load the class folders as one pool"
        )
    return load_image_folder(root / split, **kwargs)


def load_dataset(name_or_path: str | Path, split: str | None = None, **kwargs) -> ImageSet:
    """Load a named dataset (:data:`DATASETS`; ``PART_DATASETS``: FER2013 cut to one face part), a
    FER2013-format ``.csv``/``.csv.gz``, or an image folder.

    ``split`` is train/val/test (or a raw FER2013 Usage name) for FER2013 and FER+, train/test for
    Sign MNIST (plus fit/holdout, a stratified division of train for model selection), and a
    subfolder name (or "all") for image folders. Other keyword arguments go to the loader
    (``cache_dir``, ``exact_only``, ``letters``, ``image_size``, ...).
    """
    name = str(name_or_path)
    if name == "fer2013":
        return load_fer2013(dataset_file("FER2013", FER2013_FILES), split, **kwargs)
    if name in PART_DATASETS:
        return load_fer2013_part(PART_DATASETS[name], dataset_file("FER2013", FER2013_FILES), split, **kwargs)
    if name == "ferplus":
        return load_ferplus(
            dataset_file("FER2013", FER2013_FILES), dataset_file("FER+", FERPLUS_FILES), split, **kwargs
        )
    if name in ("sign_mnist", "asl_gesture"):
        if name == "asl_gesture":
            kwargs = {"letters": GESTURE_LETTERS, "other": True, **kwargs}
        if split in SIGN_MNIST_HOLDOUT_SPLITS:
            images = load_sign_mnist(_sign_mnist_file("train"), **kwargs)
            fit, holdout = stratified_split(images.meta["letters"], SIGN_MNIST_HOLDOUT_FRACTION, seed=0)
            images = images.subset(fit if split == "fit" else holdout)
        else:
            images = load_sign_mnist(_sign_mnist_file(split), **kwargs)
        images.meta["split"] = split
        return images
    path = Path(name_or_path)
    if path.is_dir():
        return _load_folder_split(path, split, **kwargs)
    if name.lower().endswith((".csv", ".csv.gz")):
        return load_fer2013(path, split, **kwargs)
    if name.endswith(PACK_SUFFIX):
        return load_pack(path, split)
    raise DataError(
        f"unknown dataset {name!r}: expected one of {', '.join((*DATASETS, *PART_DATASETS))}, "
        "a FER2013-format .csv/.csv.gz, "
        f"a {PACK_SUFFIX} pack, or an image folder"
    )
