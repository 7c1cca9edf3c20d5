"""Face detectors on real photos, the Detections container, alignment, crops and image loading."""

import struct
import subprocess
import sys
import zlib
from dataclasses import replace

import cv2
import numpy as np
import pytest

from emoscope.errors import DataError, EmoscopeError
from emoscope.faces import (Detections, as_bgr, create_detector, crop_faces, detector_descriptions,
                            list_detectors, read_image)
from emoscope.faces.align import eye_roll_degrees
from emoscope.faces.detections import CropFraming, nms
from emoscope.runtime.spec import ModelSpec

GRAY48 = ModelSpec(name="t", architecture="fer_fast_net", label_set="fer2013", classes=list("abcdefg"))
BGR_BIG = GRAY48.model_copy(update={"in_chans": 3, "img_size": 256})

# Faces found per photo, measured once (see the media README for MediaPipe and Haar on multi_face.jpg).
EXPECTED = {
    "mediapipe": {"single_face.jpg": 1, "0-f1-su-ph.jpg": 1, "45-m7-di-ph.jpg": 1},
    "mediapipe-full": {"multi_face.jpg": 5, "single_face.jpg": 1, "0-f1-su-ph.jpg": 1},
    "haar": {"multi_face.jpg": 4, "single_face.jpg": 1, "0-f1-su-ph.jpg": 1, "45-m7-di-ph.jpg": 0},
    "mtcnn": {"multi_face.jpg": 5, "single_face.jpg": 1, "0-f1-su-ph.jpg": 1, "45-m7-di-ph.jpg": 1},
}


@pytest.fixture(scope="module")
def media(data_root):
    folder = data_root / "media"
    if not (folder / "multi_face.jpg").is_file():
        pytest.skip(f"{folder}: media photos not found; real-photo tests skipped")
    return folder


@pytest.fixture(scope="module", params=list_detectors())
def detector(request):
    with create_detector(request.param) as instance:
        yield instance


def test_detections_container():
    empty = Detections.empty()
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.keypoints is None
    boxes = [[10, 10, 50, 60], [-5, 20, 30, 900], [700, 700, 800, 800]]
    found = Detections(boxes, [0.9, 0.8, 0.7], np.zeros((3, 5, 2)))
    assert found.boxes.dtype == np.float32 and found.keypoints.shape == (3, 5, 2)
    assert len(found.select(found.scores > 0.75)) == 2
    assert found.select([2, 0]).scores.tolist() == pytest.approx([0.7, 0.9])
    clipped = found.clipped(640, 480)  # the third box lies outside the image: dropped
    assert len(clipped) == 2 and clipped.boxes[1].tolist() == [0, 20, 30, 480]
    with pytest.raises(ValueError):
        Detections(boxes, [0.9])


def test_nms_keeps_best_of_overlapping():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 8, 8]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.5, overlap="min").tolist() == [1, 2]  # the box inside another goes too


def test_unknown_detector_is_a_user_error():
    with pytest.raises(EmoscopeError, match="unknown face detector 'dlib' \\(choose mediapipe, mediapipe-full, haar"):
        create_detector("dlib")


def test_backends_register_names_and_descriptions_once():
    from emoscope.faces.registry import register_detector

    assert list_detectors() == ["mediapipe", "mediapipe-full", "haar", "mtcnn"]  # the default first
    descriptions = detector_descriptions()
    assert list(descriptions) == list_detectors() and all(descriptions.values())
    with pytest.raises(ValueError, match="registered twice"):
        register_detector("haar", object, "a second haar")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_listing_detectors_imports_no_backend_dependency():
    run = _python("import sys; from emoscope.faces import list_detectors, detector_descriptions; "
                  "list_detectors(); detector_descriptions(); "
                  "print(sorted({'mediapipe', 'torch', 'cv2'} & set(sys.modules)))")
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr


@pytest.mark.parametrize("name, missing", [("mediapipe", "mediapipe"), ("mtcnn", "torch")])
def test_a_missing_backend_dependency_is_a_one_line_error(name, missing):
    run = _python(f"import sys; sys.modules[{missing!r}] = None\n"  # None in sys.modules makes the import fail
                  f"from emoscope.faces import create_detector; create_detector({name!r})")
    assert run.returncode != 0
    assert f"EmoscopeError: the {name} face detector needs {missing}, which is not installed" in run.stderr


def test_no_face_inputs_never_raise(detector):
    rng = np.random.default_rng(0)
    for image in (np.zeros((360, 640, 3), np.uint8), rng.integers(0, 256, (240, 320), dtype=np.uint8),
                  np.full((100, 80, 4), 255, np.uint8), np.zeros((3, 3, 3), np.uint8), np.zeros((0, 0, 3), np.uint8)):
        found = detector.detect(image)
        assert isinstance(found, Detections) and len(found) == 0


def test_counts_on_real_photos(detector, media):
    for name, count in EXPECTED[detector.name].items():
        found = detector.detect(read_image(media / name))
        assert len(found) == count, (detector.name, name)
    assert len(detector.detect(read_image(media / "free-mountain-vector-01.jpg"))) == 0


def test_boxes_and_keypoints_are_consistent(detector, media):
    image = read_image(media / "multi_face.jpg")
    found = detector.detect(image)
    h, w = image.shape[:2]
    assert ((found.boxes >= 0) & (found.boxes <= [w, h, w, h])).all()
    assert ((found.scores > 0) & (found.scores <= 1)).all()
    if found.keypoints is None:
        assert detector.name == "haar"
        return
    kp = found.keypoints
    # Subject's right eye (index 0) is on the image left; eyes above nose above mouth.
    assert (kp[:, 0, 0] < kp[:, 1, 0]).all() and (kp[:, 3, 0] < kp[:, 4, 0]).all()
    assert (kp[:, :2, 1].max(1) < kp[:, 2, 1]).all() and (kp[:, 2, 1] < kp[:, 3:, 1].min(1)).all()
    centres = kp.mean(axis=1)
    assert ((centres > found.boxes[:, :2]) & (centres < found.boxes[:, 2:])).all()


def _rotate(image, degrees):
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_alignment_levels_the_eyes(media):
    with create_detector("mediapipe") as detector:
        tilted = _rotate(read_image(media / "0-f1-su-ph.jpg"), 25)
        found = detector.detect(tilted)
        assert abs(eye_roll_degrees(found.keypoints[0])) > 20
        found = replace(found, framing=CropFraming(scale=1.6))  # room to re-detect the face in the crop
        aligned = crop_faces(tilted, found, BGR_BIG, align=True)[0]
        as_found = crop_faces(tilted, found, BGR_BIG, align=False)[0]
        assert abs(eye_roll_degrees(detector.detect(aligned).keypoints[0])) < 6
        assert abs(eye_roll_degrees(detector.detect(as_found).keypoints[0])) > 20


@pytest.mark.parametrize("height, width", [(720, 1280), (480, 640), (1280, 720), (100, 100), (1, 3)])
def test_the_tiles_cover_the_frame_overlapping(height, width):
    from emoscope.faces.base import tile_origins

    side, origins = tile_origins(height, width)
    covered = np.zeros((height, width), int)
    for x, y in origins:
        assert 0 <= x <= width - side and 0 <= y <= height - side
        covered[y : y + side, x : x + side] += 1
    assert covered.min() >= 1
    if len(origins) > 1:
        assert covered.max() >= 2  # a face on a tile's edge is whole in its neighbour


def test_the_tile_pass_finds_a_face_too_small_for_the_whole_frame(media):
    """MediaPipe's short-range model sees a 1280x720 frame as 128x128: an 80 px face becomes 8 px."""
    photo = read_image(media / "single_face.jpg")
    with create_detector("mediapipe", tiles=False) as whole_frame_only, create_detector("mediapipe") as detector:
        (box,) = whole_frame_only.detect(photo).boxes
        shrink = 80 / (box[2] - box[0])
        small = cv2.resize(photo, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        frame = np.full((720, 1280, 3), 128, np.uint8)
        frame[100 : 100 + small.shape[0], 500 : 500 + small.shape[1]] = small
        assert len(whole_frame_only.detect(frame)) == 0
        (found,) = detector.detect(frame).boxes  # once, though several tiles hold it
        expected = box * shrink + [500, 100, 500, 100]
        assert np.abs(found - expected).max() < 10
        assert len(detector.detect(np.full((720, 1280, 3), 128, np.uint8))) == 0


def test_crop_layouts_follow_the_spec():
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    found = Detections([[20, 10, 80, 90], [100, 50, 200, 140]], [0.9, 0.8])  # the second leaves the image
    gray = crop_faces(image, found, GRAY48, clahe=True)
    assert [c.shape for c in gray] == [(48, 48), (48, 48)] and gray[0].dtype == np.uint8
    assert crop_faces(image[:, :, 0], found, BGR_BIG)[0].shape == (256, 256, 3)
    assert crop_faces(image, Detections.empty(), GRAY48) == []


def test_as_bgr_layouts():
    gray = np.full((4, 5), 7, np.uint8)
    assert as_bgr(gray).shape == (4, 5, 3)
    bgra = np.zeros((4, 5, 4), np.uint8)  # fully transparent: shows the white background
    assert (as_bgr(bgra) == 255).all()
    assert as_bgr(np.full((2, 2, 3), 0x1234, np.uint16)).max() == 0x12
    with pytest.raises(EmoscopeError):
        as_bgr(np.zeros((4, 5, 2), np.uint8))


def _png_header(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` (the pixel data is never read)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


def test_read_image_refuses_bad_files(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a picture")
    _png_header(tmp_path / "huge.png", 20000, 20000)
    for name, message in (("missing.jpg", "no such image"), ("empty.jpg", "0 bytes"), ("notes.jpg", "not an image"),
                          ("huge.png", "too large")):
        with pytest.raises(DataError, match=message) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_read_image_layouts_and_unicode_path(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[:, :20] = (0, 0, 255, 255)  # opaque red left half, transparent right half
    path = tmp_path / "visage été.png"
    assert cv2.imencode(".png", rgba)[1].tofile(path) is None
    image = read_image(path)
    assert image.shape == (30, 40, 3) and image[0, 0].tolist() == [0, 0, 255] and image[0, -1].tolist() == [255] * 3
    cv2.imencode(".jpg", np.full((20, 10), 128, np.uint8))[1].tofile(tmp_path / "gray.jpg")
    assert read_image(tmp_path / "gray.jpg").shape == (20, 10, 3)


@pytest.mark.parametrize("box, roll", [((100, 50, 300, 260), 25), ((-20, -30, 150, 120), -40),
                                       ((500, 250, 660, 380), 45), ((10.5, 3.2, 90.7, 88.1), 0)])
def test_region_crop_equals_warping_the_whole_frame(box, roll):
    """square_crop converts and warps only the region the square can reach; the result must not change."""
    import cv2

    from emoscope.faces.align import square_crop

    image = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 1.2
    out = max(1, round(side))
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    matrix = cv2.getRotationMatrix2D(centre, roll, 1.0)
    matrix[:, 2] += (out / 2 - centre[0], out / 2 - centre[1])
    whole = cv2.warpAffine(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), matrix, (out, out), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(square_crop(image, centre, side, roll, gray=True), whole)


def test_stderr_silencing_from_many_threads_always_restores_stderr():
    """Overlapping silenced sections on several threads (graphs warming up together) must leave
    file descriptor 2 where it was."""
    import os
    import threading
    import time

    from emoscope.faces.mediapipe_solutions import WarmupSilencer, native_stderr_silenced

    before = os.fstat(2)
    start = threading.Barrier(4)
    leaks = []

    def overlap():
        start.wait()
        for _ in range(200):
            with native_stderr_silenced():
                time.sleep(0.0002)  # let the other threads in while this one is silenced
                if os.fstat(2).st_rdev != os.stat(os.devnull).st_rdev:
                    leaks.append(1)  # another thread restored stderr while this one still needs silence

    threads = [threading.Thread(target=overlap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not leaks
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino, after.st_rdev) == (before.st_dev, before.st_ino, before.st_rdev)

    warmup = WarmupSilencer(frames=2)
    silenced = []
    for found in (False, True, False, True, False):  # silent until two calls have found something
        with warmup():
            silenced.append(os.fstat(2).st_rdev == os.stat(os.devnull).st_rdev)
        warmup.record(found)
    assert silenced == [True, True, True, True, False]


def test_a_face_mesh_reset_as_faces_come_and_go_prints_nothing():
    """Each reset restarts MediaPipe's graph, whose models log again as they load, on threads of their own:
    an analysis whose face count changes once printed a warning line to the user's terminal."""
    from pathlib import Path

    clip = Path(__file__).parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"
    run = _python("import cv2\n"
                  "from emoscope.video.landmarks import FaceMeshRunner\n"
                  f"video = cv2.VideoCapture({str(clip)!r})\n"
                  "frames = [video.read()[1] for _ in range(8)]\n"
                  "mesh = FaceMeshRunner()\n"
                  "found = [len(mesh(frame, 1)) for frame in frames[:5]]\n"
                  "for frame in frames[5:]:\n"
                  "    mesh(frame, 0)\n"
                  "    found.append(len(mesh(frame, 1)))\n"
                  "print(found)\n")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.strip() == str([1] * 8)
