"""How the crop model and the geometry rules are combined, and how a frame gets one label."""

import numpy as np
import pytest

from emoscope.errors import EmoscopeError
from emoscope.gestures.classifier import GestureFrame, GestureOptions, HandResult, decide, require_hand_sized
from emoscope.gestures.vocabulary import NO_HAND, UNKNOWN

NOTHING = {"A": 0.0, "F": 0.0, "L": 0.0, "V": 0.0}


def probs(**letters) -> dict[str, float]:
    out = {"A": 0.0, "F": 0.0, "L": 0.0, "V": 0.0, **letters}
    out["other"] = 1.0 - sum(out.values())
    return out


def verdict(crop, rules, **options):
    return decide(crop, rules, GestureOptions(**options))[1]


def test_clear_geometry_carries_a_model_that_sees_a_foreign_domain():
    assert verdict(probs(), {**NOTHING, "V": 1.0}) == "V"


def test_a_confident_model_alone_cannot_force_a_letter_the_geometry_rejects():
    assert verdict(probs(V=0.99), NOTHING) is None


def test_on_a_camera_hand_the_model_neither_lifts_nor_sinks_the_geometry():
    assert verdict(probs(L=0.99), {**NOTHING, "L": 0.4}) is None
    assert verdict(probs(A=0.99), {**NOTHING, "L": 0.5}) == "L"


def test_a_crop_without_landmarks_is_the_models_to_judge():
    assert verdict(probs(F=0.9), {}) == "F"


def test_single_routes():
    assert verdict(probs(F=0.9), NOTHING, route="crop") == "F"
    assert verdict(probs(F=0.45, A=0.1), NOTHING, route="crop") is None  # "other" 0.45 ties
    assert verdict(probs(), {**NOTHING, "A": 0.8}, route="landmarks") == "A"


def test_options_are_checked_in_one_line():
    with pytest.raises(EmoscopeError, match="invalid gesture option 'route'"):
        GestureOptions.checked(route="guess")


def hand(letter):
    return HandResult(None, {}, {}, {}, {}, letter, 0.9)


@pytest.mark.parametrize(("letters", "label"), [
    ([], NO_HAND), (["V"], "victory"), ([None], UNKNOWN), (["A", None], "punch"), (["L", "L"], "loser"),
    (["L", "F"], UNKNOWN),  # two hands that disagree: no guess
])
def test_frame_label(letters, label):
    frame = GestureFrame(0, 0.0, [hand(letter) for letter in letters])
    assert frame.label == label
    assert (frame.note != "") == (len(letters) > 1)


def test_tiny_images_are_refused_with_the_file_name():
    with pytest.raises(EmoscopeError, match=r"^tiny\.png: 28x20 is too small.*--crop"):
        require_hand_sized(np.zeros((20, 28, 3), np.uint8), "tiny.png")
    require_hand_sized(np.zeros((64, 64, 3), np.uint8), "ok.png")
