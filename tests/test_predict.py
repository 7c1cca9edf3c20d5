"""`emoscope predict`: faces of photos batched through a classifier, per-file errors, exit codes."""

import json

import cv2
import numpy as np
import pytest

import emoscope
from emoscope.jobs.predict import iter_predictions, predict_images
from emoscope.faces import create_detector
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.spec import ModelSpec
from helpers import run_emoscope

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained classifier: the tests check plumbing, not accuracy."""
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    spec = ModelSpec(name="tiny", architecture="fer_fast_net", label_set="fer2013", classes=CLASSES)
    return save_bundle(model, spec, tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def media(data_root):
    folder = data_root / "media"
    if not (folder / "multi_face.jpg").is_file():
        pytest.skip(f"{folder}: media photos not found; real-photo tests skipped")
    return folder


class CountingPredictor:
    """Wraps a predictor and counts its predict_proba calls."""

    def __init__(self, predictor):
        self.inner, self.spec, self.classes, self.calls = predictor, predictor.spec, predictor.classes, 0

    def predict_proba(self, faces, tta="none"):
        self.calls += 1
        return self.inner.predict_proba(faces, tta=tta)


def run_cli(*args, env=None):
    run = run_emoscope("predict", *args, env=env)
    return run.returncode, run.stdout, run.stderr


def write_gray(path, size=(64, 48)):
    cv2.imencode(path.suffix, np.full(size, 128, np.uint8))[1].tofile(path)
    return path


def test_faces_of_a_chunk_share_one_classifier_call(bundle, media):
    predictor = CountingPredictor(emoscope.load(str(bundle)))
    paths = [media / "multi_face.jpg", media / "free-mountain-vector-01.jpg", media / "single_face.jpg"]
    with create_detector("mediapipe-full") as detector:
        results = [prediction for prediction, _ in iter_predictions(paths, predictor, detector, chunk_size=8)]
    assert predictor.calls == 1
    assert [len(r.faces) for r in results] == [5, 0, 1] and all(r.error is None for r in results)
    face = results[0].faces[0]
    assert face.label in CLASSES and sum(face.probabilities.values()) == pytest.approx(1, abs=1e-3)
    # an untrained model's probabilities nearly tie, so compare values, not which key wins the rounding
    assert face.probabilities[face.label] == pytest.approx(max(face.probabilities.values()), abs=1e-4)


def test_framing_views_average_three_crops_of_each_face_in_the_same_call(media):
    """Each face's probabilities are the mean of the model on its 0.9, 1.0 and 1.1x crops, and
    the report says the views were used (a resumed log made without them is not reused)."""
    from emoscope.faces import FRAMING_VIEWS, crop_faces

    predictor = CountingPredictor(emoscope.load("fer-fast"))
    path = media / "multi_face.jpg"
    image = cv2.imread(str(path))
    with create_detector("mediapipe-full") as detector:
        (viewed, _), = iter_predictions([path], predictor, detector, framing_views=True)
        detections = detector.detect(image)
    assert predictor.calls == 1 and len(viewed.faces) == len(detections) == 5
    per_zoom = [predictor.inner.predict_proba(crop_faces(image, detections, predictor.spec, zooms=(zoom,)))
                for zoom in FRAMING_VIEWS]
    expected = np.mean(per_zoom, axis=0)
    got = np.array([list(face.probabilities.values()) for face in viewed.faces])
    assert np.abs(got - expected).max() < 1e-3
    assert np.abs(per_zoom[1] - per_zoom[2]).max() > 0.01  # the zooms do give the model other crops
    report = predict_images([path], predictor.inner, framing_views=True)
    assert report.framing_views and report.images[0].faces == viewed.faces


def test_library_report_keeps_errors_per_file(bundle, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    paths = [write_gray(tmp_path / "plain.png"), tmp_path / "broken.png"]
    report = predict_images(paths, emoscope.load(str(bundle)), detector="haar", tta="hflip", clahe=True)
    assert report.analysed == 1 and report.images[0].faces == [] and report.images[0].width == 48
    assert "broken.png" in report.images[1].error


def test_cli_photo_to_csv_and_annotated_image(bundle, media, tmp_path):
    code, out, _ = run_cli(media / "multi_face.jpg", "--model", bundle, "--out", tmp_path,
                           "--format", "csv", "--annotate", "--tta", "hflip")
    assert code == 0 and "5 faces" in out
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert len(rows) == 1 + 5 and rows[0].startswith("path,width,height,face,x1")
    assert cv2.imread(str(tmp_path / "annotated" / "multi_face.jpg")).shape == (667, 1000, 3)


def test_cli_landscape_is_zero_faces_not_an_error(bundle, media):
    code, out, err = run_cli(media / "free-mountain-vector-01.jpg", "--model", bundle)
    assert code == 0 and "no face" in out and err == ""


def test_cli_mixed_folder_keeps_good_results(bundle, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_gray(folder / "plain.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("hello")
    code, out, err = run_cli(folder, "--model", bundle, "--out", tmp_path / "out",
                             "--detector", "haar")
    assert code == 0 and "1 of 3 images analysed" in out
    report = json.loads((tmp_path / "out" / "predictions.json").read_text())
    errors = {image["path"].rsplit("/", 1)[-1]: image["error"] for image in report["images"]}
    assert errors["plain.jpg"] is None and "0 bytes" in errors["empty.jpg"] and "not an image" in errors["notes.txt"]
    assert err.count("skipped:") == 2


def test_cli_fails_only_when_nothing_was_analysed(bundle, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    code, _, err = run_cli(tmp_path / "empty.jpg", "--model", bundle, "--annotate", "--out",
                           tmp_path / "out")
    assert code == 2 and err == f"error: {tmp_path / 'empty.jpg'}: empty file (0 bytes)\n"
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run_cli(tmp_path, "--model", bundle)
    assert code == 2 and err.splitlines()[-1] == f"error: {tmp_path}: none of the 2 files could be analysed"


def test_cli_refuses_a_huge_image_from_its_header(bundle, tmp_path):
    from tests.test_faces import _png_header

    code, _, err = run_cli(_png_header(tmp_path / "huge.png", 20000, 20000), "--model", bundle)
    assert code == 2 and "huge.png: image too large" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--annotate"], "--annotate needs --out"),
    (["--format", "xml"], "unknown --format"),
    (["--tta", "flip"], "unknown --tta"),
    (["--detector", "dlib"], "unknown face detector"),
])
def test_cli_option_errors_are_one_line(bundle, tmp_path, args, message):
    code, _, err = run_cli(write_gray(tmp_path / "plain.png"), "--model", bundle, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_without_a_shipped_model_asks_for_one(tmp_path):
    code, _, err = run_cli(write_gray(tmp_path / "plain.png"), env={"EMOSCOPE_WEIGHTS": str(tmp_path / "no-weights")})
    assert code == 2 and "pass --model" in err and len(err.strip().splitlines()) == 1
