"""Photos whose face fills the frame (a portrait, a face already cropped): the photo detectors look
again inside a border, the video loop's do not."""

import cv2
import numpy as np
import pytest

import emoscope
from emoscope.faces import create_detector, create_photo_detector

SAMPLE = "samples/WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="module")
def close_up():
    """A frame of the sample clip cut to the face and 5% around it, as a cropped face photo is."""
    capture = cv2.VideoCapture(SAMPLE)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = capture.read()
    capture.release()
    assert ok
    with create_detector("mediapipe-full") as detector:
        x1, y1, x2, y2 = detector.detect(frame).boxes[0]
    margin = 0.05 * (x2 - x1)
    return frame[int(max(0, y1 - margin)):int(y2 + margin), int(max(0, x1 - margin)):int(x2 + margin)].copy()


@pytest.mark.parametrize("name", ["mediapipe-full", "haar"])
def test_a_face_filling_the_photo_is_found_whole_by_the_photo_detector(close_up, name):
    """The video detectors miss it (Haar) or find a part of it in a tile (MediaPipe full range)."""
    with create_detector(name) as video_detector, create_photo_detector(name) as photo_detector:
        missed = video_detector.detect(close_up)
        found = photo_detector.detect(close_up)
    assert len(missed) == 0 or (missed.boxes[:, 2] - missed.boxes[:, 0]).max() < 0.5 * close_up.shape[1]
    assert len(found) == 1
    height, width = close_up.shape[:2]
    x1, y1, x2, y2 = found.boxes[0]
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height  # back in the photo's own pixels
    assert (x2 - x1) > 0.5 * width  # the face, not a speck in the border


def test_predict_image_reads_a_close_up(close_up):
    faces = emoscope.predict_image(close_up, detector="mediapipe-full")
    assert len(faces) == 1 and faces[0].label


def test_a_photo_without_a_face_stays_without_one():
    blank = np.full((300, 300, 3), 128, np.uint8)
    with create_photo_detector("mediapipe-full") as detector:
        assert len(detector.detect(blank)) == 0
