"""The real datasets under EMOSCOPE_DATA: official FER2013 counts, FER+ coverage, Sign MNIST shapes.

Loads through the user's cache (``$EMOSCOPE_CACHE`` or ``~/.cache/emoscope``): the first run
decodes FER2013 once (about 10 s), later runs read the cache.
"""

from __future__ import annotations

import numpy as np
import pytest

from emoscope.data import FER7, load_dataset

OFFICIAL_SPLIT_SIZES = {"train": 28709, "val": 3589, "test": 3589}
OFFICIAL_TRAINING_COUNTS = [3995, 436, 4097, 7215, 4830, 3171, 4965]


@pytest.mark.data
def test_real_datasets_have_the_official_counts(data_root):
    everything = load_dataset("fer2013")
    assert everything.images.shape == (35887, 48, 48) and everything.label_set == FER7
    for split, size in OFFICIAL_SPLIT_SIZES.items():
        assert len(load_dataset("fer2013", split=split)) == size
    assert load_dataset("fer2013", split="train").class_counts().tolist() == OFFICIAL_TRAINING_COUNTS

    ferplus_test = load_dataset("ferplus", split="test")
    assert 3000 <= len(ferplus_test) <= 3300
    np.testing.assert_allclose(ferplus_test.soft_labels.sum(axis=1), 1.0, rtol=1e-5)

    for split, rows in (("train", 27455), ("test", 7172)):
        signs = load_dataset("sign_mnist", split=split)
        assert signs.images.shape == (rows, 28, 28) and len(signs.label_set) == 24
