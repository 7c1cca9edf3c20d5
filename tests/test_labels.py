import numpy as np
import pytest

from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7, FERPLUS8, FIVE, canonical_name, get_label_set, panic_targets
from emoscope.errors import DataError


def test_official_orders():
    assert FER7.classes == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert FERPLUS8.classes[:7] == FER7.classes and FERPLUS8.classes[7] == "contempt"
    assert FIVE.classes == ("angry", "disgust", "happy", "neutral", "surprise")


def test_fer7_to_five_mapping_is_explicit():
    assert FER7.mapping_to(FIVE).tolist() == [0, 1, -1, 2, -1, 4, 3]
    assert FIVE.mapping_to(FER7).tolist() == [0, 1, 3, 6, 5]
    assert FER7.mapping_to(FERPLUS8).tolist() == list(range(7))
    assert FERPLUS8.mapping_to(FER7).tolist() == list(range(7)) + [-1]


def test_aliases_resolve():
    for alias, name in [("Happiness", "happy"), ("ANGER", "angry"), ("sadness", "sad"), ("Surprised", "surprise")]:
        assert canonical_name(alias) == name
    assert FER7.index("Happiness") == 3
    with pytest.raises(DataError, match="unknown class 'bored'"):
        FER7.index("bored")


def test_panic_targets_default_and_custom():
    labels = np.arange(7)
    assert panic_targets(labels, FER7).tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert panic_targets(labels, FER7, ("fear", "surprise")).tolist() == [0, 0, 1, 0, 0, 1, 0]
    with pytest.raises(DataError):
        panic_targets(labels, FIVE, ("fear",))


def test_imageset_to_five_classes_drops_and_relabels():
    images = np.zeros((7, 4, 4), dtype=np.uint8)
    soft = np.eye(8, dtype=np.float32)[:7] * 0.5 + np.eye(8, dtype=np.float32)[[6] * 7] * 0.5
    data = ImageSet(images, np.arange(7), FERPLUS8, "t", soft_labels=soft)
    five = data.to_label_set(FIVE)
    assert five.labels.tolist() == [0, 1, 2, 4, 3]  # angry, disgust, happy, surprise, neutral
    np.testing.assert_allclose(five.soft_labels.sum(1), 1.0)


def test_label_set_lookup_and_validation():
    assert get_label_set("fer5") == FIVE
    with pytest.raises(DataError):
        get_label_set("nope")
    with pytest.raises(DataError, match="labels outside"):
        ImageSet(np.zeros((1, 2, 2), np.uint8), np.array([9]), FER7, "t")
