"""Sign Language MNIST: letter indices, letters-versus-other subsets and header/value checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoscope.data import SIGN_MNIST, load_sign_mnist
from emoscope.errors import DataError

# Alphabet positions: A, F, L, V, B, Y, K, A.
LABELS = [0, 5, 11, 21, 1, 24, 10, 0]


def _write(path, labels=LABELS, pixels=None, columns=None):
    pixels = (
        np.arange(len(labels))[:, None] + np.zeros((1, 784), dtype=np.int64) if pixels is None else pixels
    )
    frame = pd.DataFrame(pixels, columns=columns or [f"pixel{i}" for i in range(1, 785)])
    frame.insert(0, "label", labels)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def signs(tmp_path):
    return _write(tmp_path / "sign_mnist_test.csv.gz")


def test_all_letters_skip_j(signs, cache_dir):
    images = load_sign_mnist(signs, cache_dir=cache_dir)
    assert images.label_set == SIGN_MNIST and len(SIGN_MNIST) == 24 and "J" not in SIGN_MNIST.classes
    assert images.images.shape == (8, 28, 28) and images.images.dtype == np.uint8
    assert [SIGN_MNIST.classes[label] for label in images.labels] == list("AFLVBYKA")
    assert (images.images[3] == 3).all()


def test_chosen_letters_with_other(signs, cache_dir):
    images = load_sign_mnist(signs, letters=("A", "F", "L", "V"), cache_dir=cache_dir)
    assert images.label_set.name == "asl_gesture"
    assert images.label_set.classes == ("A", "F", "L", "V", "other")
    assert images.labels.tolist() == [0, 1, 2, 3, 4, 4, 4, 0]
    assert list(images.meta["letters"]) == list("AFLVBYKA")


def test_chosen_letters_without_other_drops_the_rest(signs, cache_dir):
    images = load_sign_mnist(signs, letters="vl", other=False, cache_dir=cache_dir)
    assert images.label_set.classes == ("V", "L")
    assert images.labels.tolist() == [1, 0]
    assert images.meta["rows"].tolist() == [2, 3]
    assert (images.images[0] == 2).all()


@pytest.mark.parametrize("letters", [("A", "J"), ("Z",), ("A", "a"), ()])
def test_bad_letters(signs, cache_dir, letters):
    with pytest.raises(DataError, match="letters"):
        load_sign_mnist(signs, letters=letters, cache_dir=cache_dir)


def test_motion_letter_label_names_row(tmp_path, cache_dir):
    path = _write(tmp_path / "j.csv", labels=[0, 9])
    with pytest.raises(DataError, match=r"row 2: label 9 is J") as caught:
        load_sign_mnist(path, cache_dir=cache_dir)
    assert str(path) in str(caught.value)


def test_label_out_of_range(tmp_path, cache_dir):
    with pytest.raises(DataError, match=r"row 1: label is 25"):
        load_sign_mnist(_write(tmp_path / "z.csv", labels=[25]), cache_dir=cache_dir)


def test_pixel_out_of_range_names_row_and_column(tmp_path, cache_dir):
    pixels = np.zeros((3, 784), dtype=np.int64)
    pixels[2, 99] = 300
    with pytest.raises(DataError, match=r"row 3: pixel100 is 300"):
        load_sign_mnist(_write(tmp_path / "p.csv", labels=[0, 1, 2], pixels=pixels), cache_dir=cache_dir)


def test_header_must_be_label_and_784_pixels(tmp_path, cache_dir):
    short = _write(
        tmp_path / "short.csv",
        labels=[0],
        pixels=np.zeros((1, 783)),
        columns=[f"pixel{i}" for i in range(1, 784)],
    )
    with pytest.raises(DataError, match=r"missing column\(s\) pixel784"):
        load_sign_mnist(short, cache_dir=cache_dir)
    extra = _write(
        tmp_path / "extra.csv",
        labels=[0],
        pixels=np.zeros((1, 785)),
        columns=[f"pixel{i}" for i in range(1, 786)],
    )
    with pytest.raises(DataError, match="unexpected column"):
        load_sign_mnist(extra, cache_dir=cache_dir)


def test_missing_and_empty_files(tmp_path, cache_dir):
    with pytest.raises(DataError, match="not found"):
        load_sign_mnist(tmp_path / "absent.csv", cache_dir=cache_dir)
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(["label", *(f"pixel{i}" for i in range(1, 785))]) + "\n")
    with pytest.raises(DataError, match="no data rows"):
        load_sign_mnist(header_only, cache_dir=cache_dir)
