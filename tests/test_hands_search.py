"""The video hand tracker's search for further hands on request (issue 39): MediaPipe's graph with its
palm-detection gate taken over, on the sample clip, whose person raises one hand to the face and, for a
moment, the other."""

from pathlib import Path

import pytest

from emoscope.faces.hands import HandDetector

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="module")
def hand_frames():
    pytest.importorskip("mediapipe")
    import cv2

    capture = cv2.VideoCapture(str(SAMPLE))
    frames = []
    while len(frames) < 30 * 4:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames[::4]  # the runs of the video loop's hand tracker (hands_every 4)


def hands_per_run(frames, search_every: int) -> list[int]:
    with HandDetector(still=False, complexity=0, search_every=search_every) as detector:
        return [len(detector(frame)) for frame in frames]


@pytest.fixture(scope="module")
def stock(hand_frames) -> list[int]:
    """Hands per run with MediaPipe's own graph, which searches whenever it follows fewer than two."""
    return hands_per_run(hand_frames, 1)


def test_a_search_on_every_other_run_finds_what_the_stock_graph_finds(hand_frames, stock):
    assert max(stock) == 2, "the sample shows both hands for a moment"
    assert hands_per_run(hand_frames, 2) == stock


def test_a_followed_hand_is_tracked_without_searches_and_an_empty_frame_is_always_searched(hand_frames, stock):
    never_again = hands_per_run(hand_frames, 10_000)  # searches only while no hand is followed
    first = stock.index(1)
    assert never_again[:first + 1] == stock[:first + 1]  # the first hand is found on the same run
    assert max(never_again) == 1  # the second hand is never looked for while the first is followed
    assert sum(never_again) >= sum(stock) - stock.count(2)  # the first hand stays followed
