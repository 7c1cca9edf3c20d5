"""FER+: Microsoft's majority rule on hand-made vote rows, and the row-position join with FER2013."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emoscope.data import FERPLUS8, load_ferplus, majority_labels
from emoscope.errors import DataError

# Vote rows in FERPLUS8 order followed by unknown, NF:
#       angry disgust fear happy sad surprise neutral contempt unknown NF
HAPPY = FERPLUS8.classes.index("happy")
NEUTRAL = FERPLUS8.classes.index("neutral")
CONTEMPT = FERPLUS8.classes.index("contempt")


def _rule(*rows: list[int]):
    return majority_labels(np.array(rows, dtype=np.int64))


def test_clear_winner_keeps_row_with_vote_distribution():
    keep, labels, soft = _rule([0, 0, 0, 8, 0, 0, 2, 0, 0, 0])
    assert keep[0] and labels[0] == HAPPY
    np.testing.assert_allclose(soft[0], [0, 0, 0, 0.8, 0, 0, 0.2, 0])
    assert soft.dtype == np.float32


def test_single_votes_are_outliers_removed_before_counting():
    # 4 of 10 is no majority, but after dropping the three lone votes 4 of 7 is.
    keep, labels, soft = _rule([1, 1, 1, 4, 0, 0, 3, 0, 0, 0])
    assert keep[0] and labels[0] == HAPPY
    np.testing.assert_allclose(soft[0], [0, 0, 0, 4 / 7, 0, 0, 3 / 7, 0], rtol=1e-6)


@pytest.mark.parametrize(
    "votes",
    [
        [0, 0, 0, 5, 0, 0, 5, 0, 0, 0],  # tie: exactly half is not a majority
        [0, 0, 0, 4, 0, 0, 2, 0, 2, 2],  # plurality only
        [0, 0, 0, 5, 0, 0, 0, 0, 3, 2],  # unknown and NF votes count in the total
        [0, 0, 0, 2, 0, 0, 0, 0, 8, 0],  # unknown wins
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # nothing left after outlier removal
        [0] * 10,
    ],
)
def test_rows_without_a_clear_emotion_majority_are_dropped(votes):
    keep, _, _ = _rule(votes)
    assert not keep[0]


def test_soft_labels_count_only_emotion_votes():
    keep, labels, soft = _rule([0, 0, 0, 6, 0, 0, 0, 0, 2, 2], [0, 0, 0, 0, 0, 0, 3, 7, 0, 0])
    assert keep.all() and labels.tolist() == [HAPPY, CONTEMPT]
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(soft[0, HAPPY], 1.0)


def test_join_gives_ferplus_labels_and_soft_labels(tiny_fer_csv, cache_dir):
    images = load_ferplus(tiny_fer_csv.fer2013, tiny_fer_csv.ferplus, cache_dir=cache_dir)
    assert images.label_set == FERPLUS8 and len(images) == 70
    # FERPLUS8 extends FER7, so a clear FER+ winner equal to the FER2013 class has the same index.
    np.testing.assert_array_equal(images.labels, tiny_fer_csv.labels)
    np.testing.assert_array_equal(images.images, tiny_fer_csv.images)
    np.testing.assert_allclose(images.soft_labels.sum(axis=1), 1.0, rtol=1e-6)
    assert (images.soft_labels[:, CONTEMPT] == 0).all()  # the stray single contempt vote is gone
    np.testing.assert_allclose(images.soft_labels[np.arange(70), images.labels], 7 / 9, rtol=1e-6)


def test_dropped_rows_and_splits_keep_original_row_numbers(tiny_fer_csv, ferplus_csv_writer, cache_dir):
    votes = tiny_fer_csv.votes.copy()
    votes[[5, 60]] = 0
    votes[5, -1] = 10  # NF
    votes[60, -2] = 10  # unknown
    ferplus_csv_writer(tiny_fer_csv.ferplus, tiny_fer_csv.usage, votes)
    everything = load_ferplus(tiny_fer_csv.fer2013, tiny_fer_csv.ferplus, cache_dir=cache_dir)
    assert len(everything) == 68 and not {5, 60} & set(everything.meta["rows"].tolist())
    test = load_ferplus(tiny_fer_csv.fer2013, tiny_fer_csv.ferplus, split="test", cache_dir=cache_dir)
    np.testing.assert_array_equal(test.meta["rows"], [row for row in range(56, 70) if row != 60])
    np.testing.assert_array_equal(test.images, tiny_fer_csv.images[test.meta["rows"]])
    assert test.meta["split"] == "test"


def test_vote_columns_are_mapped_by_name_not_position(tiny_fer_csv, cache_dir):
    table = pd.read_csv(tiny_fer_csv.ferplus)
    table[list(reversed(table.columns))].to_csv(tiny_fer_csv.ferplus, index=False)
    images = load_ferplus(tiny_fer_csv.fer2013, tiny_fer_csv.ferplus, cache_dir=cache_dir)
    np.testing.assert_array_equal(images.labels, tiny_fer_csv.labels)


def _ferplus_error(tiny_fer_csv, cache_dir, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        load_ferplus(tiny_fer_csv.fer2013, tiny_fer_csv.ferplus, cache_dir=cache_dir, **kwargs)
    return str(caught.value)


def test_usage_mismatch_names_first_row(tiny_fer_csv, ferplus_csv_writer, cache_dir):
    usage = list(tiny_fer_csv.usage)
    usage[44], usage[50] = "PrivateTest", "Training"
    ferplus_csv_writer(tiny_fer_csv.ferplus, usage, tiny_fer_csv.votes)
    message = _ferplus_error(tiny_fer_csv, cache_dir)
    assert str(tiny_fer_csv.ferplus) in message and "row 45: Usage differs" in message and "2 rows" in message


def test_row_count_mismatch(tiny_fer_csv, ferplus_csv_writer, cache_dir):
    ferplus_csv_writer(tiny_fer_csv.ferplus, tiny_fer_csv.usage[:-1], tiny_fer_csv.votes[:-1])
    message = _ferplus_error(tiny_fer_csv, cache_dir)
    assert str(tiny_fer_csv.ferplus) in message and "69 rows" in message and "70" in message


def test_bad_vote_names_row_and_column(tiny_fer_csv, cache_dir):
    table = pd.read_csv(tiny_fer_csv.ferplus, dtype=str)
    table.loc[9, "sadness"] = "three"
    table.to_csv(tiny_fer_csv.ferplus, index=False)
    message = _ferplus_error(tiny_fer_csv, cache_dir)
    assert str(tiny_fer_csv.ferplus) in message and "row 10: sadness is 'three'" in message


def test_missing_vote_column(tiny_fer_csv, cache_dir):
    pd.read_csv(tiny_fer_csv.ferplus).drop(columns="NF").to_csv(tiny_fer_csv.ferplus, index=False)
    assert "missing column(s) NF" in _ferplus_error(tiny_fer_csv, cache_dir)


def test_unknown_mode(tiny_fer_csv, cache_dir):
    assert "unknown FER+ label mode 'vote'" in _ferplus_error(tiny_fer_csv, cache_dir, mode="vote")
