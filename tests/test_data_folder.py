"""Image-folder datasets: class names by alias, gray and colour, resizing, and bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emoscope.data import FER7, FERPLUS8, LabelSet, load_image_folder
from emoscope.errors import DataError

cv2 = pytest.importorskip("cv2")


def _image(folder: Path, name: str, shape=(10, 12), value: int = 100, colour=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.full(shape, value, dtype=np.uint8)
    if colour is not None:
        pixels = np.zeros((*shape, 3), dtype=np.uint8) + np.array(colour, dtype=np.uint8)
    path = folder / name
    assert cv2.imwrite(str(path), pixels)
    return path


@pytest.fixture
def faces(tmp_path) -> Path:
    """Three classes in RAF-DB-like spellings, two images each, plus a stray text file."""
    root = tmp_path / "faces"
    for folder, value in (("Happiness", 200), ("angry", 50), ("Neutral", 120)):
        _image(root / folder, "b.png", value=value)
        _image(root / folder, "a.jpg", value=value)
    (root / "angry" / "notes.txt").write_text("not an image")
    return root


def test_gray_images_labelled_through_aliases(faces):
    images = load_image_folder(faces)
    assert images.label_set == FER7
    assert images.images.shape == (6, 10, 12) and images.images.dtype == np.uint8
    # Folders and files in sorted order: Happiness, Neutral, angry; a.jpg before b.png.
    assert list(images.meta["files"]) == [
        "Happiness/a.jpg",
        "Happiness/b.png",
        "Neutral/a.jpg",
        "Neutral/b.png",
        "angry/a.jpg",
        "angry/b.png",
    ]
    names = [FER7.classes[label] for label in images.labels]
    assert names == ["happy", "happy", "neutral", "neutral", "angry", "angry"]
    assert images.images[1].mean() == 200  # PNG is lossless


def test_colour_images_keep_bgr_order(tmp_path):
    root = tmp_path / "colour"
    _image(root / "surprise", "blue.png", colour=(255, 0, 0))
    images = load_image_folder(root, grayscale=False)
    assert images.images.shape == (1, 10, 12, 3) and images.channels == 3
    np.testing.assert_array_equal(images.images[0, 0, 0], [255, 0, 0])


def test_mixed_sizes_need_image_size(tmp_path):
    root = tmp_path / "mixed"
    _image(root / "sad", "small.png", shape=(10, 10))
    _image(root / "sad", "wide.png", shape=(20, 30))
    with pytest.raises(DataError, match="pass image_size") as caught:
        load_image_folder(root)
    assert "wide.png" in str(caught.value)
    assert load_image_folder(root, image_size=8).images.shape == (2, 8, 8)
    assert load_image_folder(root, image_size=(6, 9), grayscale=False).images.shape == (2, 6, 9, 3)


def test_label_set_inference():
    from emoscope.data import infer_label_set

    assert infer_label_set(["Happy", "fearful"]) == FER7
    assert infer_label_set(["happy", "Contempt"]) == FERPLUS8
    assert infer_label_set(["dog", "Cat"]) == LabelSet("folder", ("cat", "dog"))


def test_explicit_label_set_rejects_unknown_folder(faces):
    (faces / "Bored").mkdir()
    with pytest.raises(DataError, match="'Bored' is not a class of label set 'fer5'") as caught:
        load_image_folder(
            faces, label_set=LabelSet("fer5", ("angry", "disgust", "happy", "neutral", "surprise"))
        )
    assert str(faces / "Bored") in str(caught.value)


def test_explicit_label_set_with_upper_case_classes(tmp_path):
    root = tmp_path / "signs"
    _image(root / "A", "1.png")
    _image(root / "other", "2.png")
    images = load_image_folder(root, label_set=LabelSet("asl_gesture", ("A", "F", "other")))
    assert images.labels.tolist() == [0, 2]


def test_corrupt_image_is_reported_with_count_and_first_file(faces):
    (faces / "angry" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (faces / "angry" / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="2 image file") as caught:
        load_image_folder(faces)
    assert str(faces / "angry" / "broken.png") in str(caught.value)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="image folder not found"):
        load_image_folder(tmp_path / "absent")


def test_root_without_class_folders(tmp_path):
    root = tmp_path / "flat"
    _image(root, "loose.png")
    with pytest.raises(DataError, match="no class subfolders"):
        load_image_folder(root)


def test_class_folders_without_images(tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "readme.md").write_text("nothing here")
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(tmp_path)
