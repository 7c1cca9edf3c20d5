"""load_dataset: named datasets under EMOSCOPE_DATA, FER2013-format CSV paths and image folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from emoscope.data import FERPLUS8, data_root, load_dataset
from emoscope.errors import DataError


@pytest.fixture
def data_dir(tmp_path, tiny_fer_csv, monkeypatch):
    """A fake EMOSCOPE_DATA holding the tiny FER2013 and FER+ files."""
    root = tmp_path / "data"
    (root / "fer2013").mkdir(parents=True)
    (root / "ferplus").mkdir()
    shutil.copy(tiny_fer_csv.fer2013, root / "fer2013" / "fer2013_reconstructed.csv.gz")
    shutil.copy(tiny_fer_csv.ferplus, root / "ferplus" / "fer2013new.csv")
    monkeypatch.setenv("EMOSCOPE_DATA", str(root))
    return root


def test_data_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOSCOPE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv("EMOSCOPE_DATA")
    assert data_root().parts[-2:] == ("shared", "data")


def test_named_datasets(data_dir, cache_dir, tiny_fer_csv):
    fer = load_dataset("fer2013", split="val", cache_dir=cache_dir)
    assert len(fer) == 14 and fer.meta["split"] == "val"
    plus = load_dataset("ferplus", split="train", cache_dir=cache_dir)
    assert plus.label_set == FERPLUS8 and len(plus) == 42


def test_missing_named_dataset_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOSCOPE_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"FER2013 not found at .*; set EMOSCOPE_DATA"):
        load_dataset("fer2013", split="train")
    with pytest.raises(DataError, match="Sign MNIST has the splits train and test, not 'val'"):
        load_dataset("sign_mnist", split="val")


def test_csv_path_is_read_as_fer2013(tiny_fer_csv, cache_dir):
    images = load_dataset(str(tiny_fer_csv.fer2013), split="test", cache_dir=cache_dir)
    np.testing.assert_array_equal(images.images, tiny_fer_csv.images[56:])


def test_folder_path_with_and_without_split_subfolders(tmp_path):
    cv2 = pytest.importorskip("cv2")
    for split, count in (("train", 2), ("test", 1)):
        for index in range(count):
            folder = tmp_path / "raf" / split / "happy"
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{index}.png"), np.zeros((5, 5), np.uint8))
    assert len(load_dataset(tmp_path / "raf", split="train")) == 2
    assert len(load_dataset(tmp_path / "raf" / "test")) == 1
    with pytest.raises(DataError, match="no 'val' subfolder"):
        load_dataset(tmp_path / "raf", split="val")


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
