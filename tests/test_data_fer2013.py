"""FER2013 CSV loading: parsing, split mapping, the approximate-row filter and every bad-input case."""

from __future__ import annotations

import gzip
import itertools
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoscope.data import FER7, load_fer2013
from emoscope.data.fer2013 import FLAGS_FILE
from emoscope.errors import DataError

HEADER = "emotion,pixels,Usage\n"
VALID_PIXELS = " ".join(["7"] * 2304)


def test_loads_every_row_with_images_labels_and_row_meta(tiny_fer_csv, cache_dir):
    images = load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir)
    assert images.images.shape == (70, 48, 48) and images.images.dtype == np.uint8
    np.testing.assert_array_equal(images.images, tiny_fer_csv.images)
    np.testing.assert_array_equal(images.labels, tiny_fer_csv.labels)
    assert images.label_set == FER7
    np.testing.assert_array_equal(images.meta["rows"], np.arange(70))
    assert images.meta["rows"].dtype == np.int64
    assert images.meta["split"] == "all"
    assert list(images.meta["usage"]) == tiny_fer_csv.usage


@pytest.mark.parametrize(
    ("split", "name", "first_row", "count"),
    [
        ("train", "train", 0, 42),
        ("Training", "train", 0, 42),
        ("val", "val", 42, 14),
        ("PublicTest", "val", 42, 14),
        ("test", "test", 56, 14),
        ("privatetest", "test", 56, 14),
        ("all", "all", 0, 70),
    ],
)
def test_split_names_map_to_usage(tiny_fer_csv, cache_dir, split, name, first_row, count):
    images = load_fer2013(tiny_fer_csv.fer2013, split=split, cache_dir=cache_dir)
    np.testing.assert_array_equal(images.meta["rows"], np.arange(first_row, first_row + count))
    np.testing.assert_array_equal(images.images, tiny_fer_csv.images[first_row : first_row + count])
    assert images.meta["split"] == name
    assert (images.class_counts() == count // 7).all()


def test_unknown_split_is_a_data_error(tiny_fer_csv, cache_dir):
    with pytest.raises(DataError, match="unknown FER2013 split 'holdout'"):
        load_fer2013(tiny_fer_csv.fer2013, split="holdout", cache_dir=cache_dir)


def test_gzipped_csv_loads_like_plain(tiny_fer_csv, fer2013_csv_writer, tmp_path, cache_dir):
    zipped = fer2013_csv_writer(
        tmp_path / "copy.csv.gz", tiny_fer_csv.labels, tiny_fer_csv.usage, tiny_fer_csv.images
    )
    np.testing.assert_array_equal(load_fer2013(zipped, cache_dir=cache_dir).images, tiny_fer_csv.images)


def test_exact_only_drops_rows_flagged_approximate(tiny_fer_csv, cache_dir):
    flags = pd.DataFrame({"row": np.arange(70), "pixel_source": "exact_ferplus_png"})
    flags.loc[[3, 60], "pixel_source"] = "approx_processed_jpg"
    flags.to_csv(tiny_fer_csv.fer2013.parent / FLAGS_FILE, index=False)
    assert len(load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir)) == 70
    exact = load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir, exact_only=True)
    assert len(exact) == 68 and not {3, 60} & set(exact.meta["rows"].tolist())
    test_rows = load_fer2013(tiny_fer_csv.fer2013, split="test", cache_dir=cache_dir, exact_only=True).meta[
        "rows"
    ]
    assert 60 not in test_rows and len(test_rows) == 13


def test_exact_only_without_flags_file_keeps_every_row(tiny_fer_csv, cache_dir):
    assert len(load_fer2013(tiny_fer_csv.fer2013, cache_dir=cache_dir, exact_only=True)) == 70


# --- bad input: each message names the file, and the 1-based data row where there is one -----------


def _write_rows(path, rows: list[str], header: str = HEADER):
    path.write_text(header + "".join(f"{row}\n" for row in rows))
    return path


def _valid_row(emotion="3", pixels=VALID_PIXELS, usage="Training") -> str:
    return f"{emotion},{pixels},{usage}"


def _raises(path, cache_dir, *patterns: str) -> str:
    with pytest.raises(DataError) as caught:
        load_fer2013(path, cache_dir=cache_dir)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for pattern in patterns:
        assert re.search(pattern, message), message
    return message


def test_missing_file(tmp_path, cache_dir):
    _raises(tmp_path / "nowhere.csv", cache_dir, "not found")


def test_empty_file(tmp_path, cache_dir):
    path = tmp_path / "empty.csv"
    path.write_text("")
    _raises(path, cache_dir, "empty file")


def test_header_only(tmp_path, cache_dir):
    _raises(_write_rows(tmp_path / "header.csv", []), cache_dir, "no data rows")


def test_binary_file_is_not_a_csv(tmp_path, cache_dir):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 8)
    _raises(path, cache_dir)


def test_corrupt_gzip(tmp_path, cache_dir):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip" * 20)
    _raises(path, cache_dir, "cannot read")


def test_truncated_gzip(tmp_path, cache_dir):
    path = tmp_path / "cut.csv.gz"
    whole = gzip.compress((HEADER + "\n".join([_valid_row()] * 40)).encode())
    path.write_bytes(whole[: len(whole) // 2])
    _raises(path, cache_dir, "cannot read")


def test_missing_columns_named_with_what_was_found(tmp_path, cache_dir):
    path = _write_rows(tmp_path / "cols.csv", ["3,1 2"], header="label,pixels\n")
    _raises(path, cache_dir, r"missing column\(s\) emotion, Usage", r"found: label, pixels")


@pytest.mark.parametrize("count", [0, 2303, 2305])
def test_wrong_pixel_count_names_row(tmp_path, cache_dir, count):
    pixels = " ".join(["1"] * count)
    path = _write_rows(tmp_path / "count.csv", [_valid_row(), _valid_row(pixels=pixels)])
    _raises(path, cache_dir, "row 2: pixels", f"has {count} values, expected 2304")


@pytest.mark.parametrize("token", ["256", "-1", "1.5", "x", "1e2", "0x1"])
def test_bad_pixel_value_names_row(tmp_path, cache_dir, token):
    pixels = " ".join(["1"] * 2303 + [token])
    path = _write_rows(tmp_path / "value.csv", [_valid_row(), _valid_row(), _valid_row(pixels=pixels)])
    _raises(path, cache_dir, "row 3: pixels")


@pytest.mark.parametrize("emotion", ["7", "-1", "x", "", "2.5"])
def test_bad_emotion_names_row(tmp_path, cache_dir, emotion):
    path = _write_rows(tmp_path / "emotion.csv", [_valid_row(), _valid_row(emotion=emotion)])
    _raises(path, cache_dir, "row 2: emotion", r"0\.\.6")


def test_unknown_usage_names_row_and_allowed_values(tmp_path, cache_dir):
    path = _write_rows(tmp_path / "usage.csv", [_valid_row(usage="Validation")])
    _raises(path, cache_dir, "row 1: Usage is 'Validation'", "Training, PublicTest, PrivateTest")


def test_extra_field_on_a_row(tmp_path, cache_dir):
    path = _write_rows(tmp_path / "fields.csv", [_valid_row(), _valid_row() + ",extra"])
    _raises(path, cache_dir, "not a valid CSV")


# --- fuzz: whatever a malformed row holds, the loader answers with a DataError --------------------

# Cell text that cannot change the CSV's structure (no separators, quotes or line breaks) and that UTF-8 can hold.
CELL_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=',"\r\n'), max_size=12)
BAD_PIXEL_TOKEN = st.one_of(
    st.integers(min_value=256).map(str),
    st.integers(max_value=-1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    CELL_TEXT.filter(lambda text: not re.fullmatch(r"[0-9 ]*", text)),
)
BAD_EMOTION = CELL_TEXT.filter(lambda text: not re.fullmatch(r"\s*0*[0-6]\s*", text))
BAD_USAGE = CELL_TEXT.filter(lambda text: text not in ("Training", "PublicTest", "PrivateTest"))


def _with_token(position: int, token: str) -> str:
    values = ["9"] * 2304
    values[position] = token
    return " ".join(values)


MALFORMED_ROW = st.one_of(
    st.integers(0, 3000).filter(lambda n: n != 2304).map(lambda n: _valid_row(pixels=" ".join(["5"] * n))),
    st.builds(_with_token, st.integers(0, 2303), BAD_PIXEL_TOKEN).map(
        lambda pixels: _valid_row(pixels=pixels)
    ),
    BAD_EMOTION.map(lambda emotion: _valid_row(emotion=emotion)),
    BAD_USAGE.map(lambda usage: _valid_row(usage=usage)),
    st.integers(1, len(_valid_row()) - 1).map(lambda cut: _valid_row()[:cut]),
)
_file_numbers = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=MALFORMED_ROW, position=st.integers(0, 3))
def test_fuzz_malformed_row_raises_data_error(tmp_path, row, position):
    rows = [_valid_row()] * 3
    rows.insert(position, row)
    # A fresh file per example: equal size and mtime could otherwise reuse a stale cache entry.
    path = _write_rows(tmp_path / f"fuzz{next(_file_numbers)}.csv", rows)
    with pytest.raises(DataError) as caught:
        load_fer2013(path, cache_dir=tmp_path / "cache")
    assert str(path) in str(caught.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400), gzipped=st.booleans())
def test_fuzz_random_bytes_raise_data_error(tmp_path, content, gzipped):
    path = tmp_path / f"bytes{next(_file_numbers)}.csv"
    path.write_bytes(gzip.compress(content) if gzipped else content)
    with pytest.raises(DataError):
        load_fer2013(path, cache_dir=tmp_path / "cache")
