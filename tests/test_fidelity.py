"""`emoscope bench pipeline`: faces placed where the bench says they are, and a detector scored on them."""

import json
from dataclasses import replace

import numpy as np
import pytest

from emoscope.benchmarks.fidelity import MATCH_IOU, matching_face, place_face, placed_faces, truth_detection
from emoscope.faces import Detections, crop_faces
from emoscope.faces.align import square_crop
from emoscope.faces.detections import CropFraming
from emoscope.runtime.preprocess import resize
from emoscope.runtime.spec import ModelSpec
from helpers import run_emoscope

GRAY48 = ModelSpec(name="t", architecture="fer_fast_net", label_set="fer2013", classes=list("abcdefg"))


def _face(seed: int = 0) -> np.ndarray:
    """A 48x48 face-sized pattern with structure at every scale (so misplacement shows)."""
    import cv2

    coarse = np.random.default_rng(seed).integers(0, 256, (6, 6), dtype=np.uint8)
    return cv2.resize(coarse, (48, 48), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("background", ["plain", "cluttered"])
def test_the_true_square_turned_back_is_the_original_face(background):
    face = _face()
    for seed in range(5):
        placed = place_face(face, np.random.default_rng(seed), background)
        x1, y1, x2, y2 = placed.truth
        side = x2 - x1
        assert 96 <= side <= 288 and placed.frame.shape == (480, 640, 3)
        # the pipeline's crop of the true square, rotated back by the placement's angle
        recovered = resize(square_crop(placed.frame[:, :, 0], ((x1 + x2) / 2, (y1 + y2) / 2), side, -placed.angle), 48)
        inner = np.s_[8:40, 8:40]  # the rotated corners show the background
        assert np.abs(recovered.astype(int) - face)[inner].mean() < 4
        shifted = resize(square_crop(placed.frame[:, :, 0], ((x1 + x2) / 2 + side / 4, (y1 + y2) / 2), side,
                                     -placed.angle), 48)
        assert np.abs(shifted.astype(int) - face)[inner].mean() > 12  # the check above can fail


@pytest.mark.parametrize("background", ["plain", "cluttered"])
def test_the_truth_row_crops_the_original_face_through_the_products_own_path(background):
    """A perfect detector's box and eyes, cropped and levelled by crop_faces, give back the face:
    so the truth row's gap is resampling alone, and its eye line has the right sign."""
    face = _face(1)
    for seed in range(5):
        placed = place_face(face, np.random.default_rng(seed), background)
        crop = crop_faces(placed.frame, truth_detection(placed), GRAY48)[0]
        inner = np.s_[8:40, 8:40]
        assert np.abs(crop.astype(int) - face)[inner].mean() < 4
        turned_wrong = replace(placed, angle=-placed.angle)
        if abs(placed.angle) > 5:  # eyes tilted the other way: the crop is turned by twice the angle
            wrong = crop_faces(placed.frame, truth_detection(turned_wrong), GRAY48)[0]
            assert np.abs(wrong.astype(int) - face)[inner].mean() > 8


def test_placements_repeat_with_the_seed():
    faces = np.stack([_face(i) for i in range(4)])
    first, again = placed_faces(faces, seed=3), placed_faces(faces, seed=3)
    assert [p.background for p in first] == ["plain", "cluttered", "plain", "cluttered"]
    assert all(np.array_equal(a.frame, b.frame) and np.array_equal(a.truth, b.truth) for a, b in zip(first, again))


def test_a_detection_matches_the_face_only_when_it_overlaps_it():
    truth = np.array([100, 100, 200, 200], np.float32)
    found = Detections([[400, 100, 500, 200], [110, 90, 210, 205]], [0.9, 0.8])
    assert matching_face(found, truth).boxes.tolist() == [[110, 90, 210, 205]]
    assert len(matching_face(found.select([0]), truth)) == 0
    assert len(matching_face(Detections.empty(), truth)) == 0
    assert MATCH_IOU > 0


def test_crops_follow_the_detectors_framing():
    image = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    box = Detections([[50, 50, 150, 150]], [1.0])
    default = crop_faces(image, box, GRAY48, align=False)[0]
    assert np.array_equal(default, resize(square_crop(image, (100, 100), 120), 48))
    moved = crop_faces(image, replace(box, framing=CropFraming(scale=1.0, dx=0.1, dy=-0.2)), GRAY48, align=False)[0]
    assert np.array_equal(moved, resize(square_crop(image, (110, 80), 100), 48))
    assert len(box.select([0]).scaled(2.0).clipped(400, 400)) == 1


def test_framing_views_are_consecutive_zooms_of_each_faces_square():
    from emoscope.faces import mean_over_views

    image = np.random.default_rng(1).integers(0, 256, (200, 200), dtype=np.uint8)
    faces = Detections([[50, 50, 150, 150], [20, 30, 60, 70]], [1.0, 0.9], framing=CropFraming(scale=1.0))
    crops = crop_faces(image, faces, GRAY48, align=False, zooms=(1.0, 0.9, 1.1))
    assert len(crops) == 6
    for crop, (centre, side) in zip(crops, [((100, 100), s) for s in (100, 90, 110)] + [((40, 50), s) for s in (40, 36, 44)]):
        assert np.array_equal(crop, resize(square_crop(image, centre, side), 48))
    probs = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    assert mean_over_views(probs, 3).tolist() == [[2, 3], [8, 9]]


def test_every_detector_stamps_its_framing_on_what_it_finds():
    pytest.importorskip("mediapipe")
    from emoscope.faces import create_detector, list_detectors

    frame = np.zeros((64, 64, 3), np.uint8)
    for name in list_detectors():
        with create_detector(name) as detector:
            assert detector.detect(frame).framing == detector.framing


@pytest.mark.data
def test_bench_pipeline_on_real_faces(data_root, tmp_path):
    """A few PrivateTest faces through Haar (fast): the row's numbers are consistent with each other."""
    out = tmp_path / "pipeline.json"
    run = run_emoscope("bench", "pipeline", "--model", "fer-fast", "--model", "fer5", "--detector", "truth",
                       "--detector", "haar", "--faces", "40", "--out", out)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["models"] == ["fer-fast", "fer5"] and set(results["accuracy_original_all"]) == {"fer-fast", "fer5"}
    truth, truth_fer5, row, row_fer5 = results["rows"]
    assert [r["model"] for r in results["rows"]] == ["fer-fast", "fer5", "fer-fast", "fer5"]
    assert truth["detector"] == "truth" and truth["found"] == 40 and abs(truth["gap_points"]) <= 10
    assert results["split"] == "fer2013:test" and results["faces"] == row["faces"] == 40
    assert 0 < row["found"] <= 40 and row["recall"] == round(row["found"] / 40, 4)
    assert row["gap_points"] == round(100 * (row["accuracy_found"] - row["accuracy_original_found"]), 2)
    assert 0 < row["gap_ci95_points"] < 100 and f"{row['gap_points']:+.2f} ± {row['gap_ci95_points']:.2f}" in run.stdout
    # a perfect detector's crops do not scatter; Haar's do, and it has no eyes to level
    assert truth["framing_spread"] == {"side_ratio_p10_p90": [1.0, 1.0], "roll_error_p10_p90": [0.0, 0.0]}
    low, high = row["framing_spread"]["side_ratio_p10_p90"]
    assert 0.5 < low < high < 2 and row["framing_spread"]["roll_error_p10_p90"] is None
    # one detection pass serves every model: the same faces found, scored differently
    assert row_fer5["found"] == row["found"] and row_fer5["fitted_framing"] == row["fitted_framing"]
    assert "| haar |" in run.stdout and "| fer5 |" in run.stdout
    assert results["framing_views"] == [1.0] and "one crop per face" in run.stdout


@pytest.mark.data
def test_bench_pipeline_with_framing_views(data_root, tmp_path):
    """The same faces and detections as one view; only accuracy on found faces may change."""
    from emoscope.benchmarks.fidelity import bench_pipeline
    from emoscope.runtime.predictor import load_predictor

    predictor = load_predictor("fer-fast")
    one, three = (bench_pipeline([predictor], ["truth", "haar"], faces=40, framing_views=flag) for flag in (False, True))
    assert one["framing_views"] == [1.0] and three["framing_views"] == [1.0, 0.9, 1.1]
    for single, viewed in zip(one["rows"], three["rows"]):
        assert single["found"] == viewed["found"] and single["accuracy_original_found"] == viewed["accuracy_original_found"]
    assert any(s["accuracy_found"] != v["accuracy_found"] for s, v in zip(one["rows"], three["rows"]))


@pytest.mark.data
def test_bench_pipeline_splits_the_gap_of_a_detector_with_eyes(data_root):
    """MediaPipe has eyes: its gap also with the true roll and with the true square; Haar has none."""
    pytest.importorskip("mediapipe")
    from emoscope.benchmarks.fidelity import bench_pipeline
    from emoscope.runtime.predictor import load_predictor

    results = bench_pipeline([load_predictor("fer-fast")], ["truth", "haar", "mediapipe"], faces=30)
    truth, haar, mediapipe = results["rows"]
    for row in (truth, haar):
        assert "gap_true_roll_points" not in row and "gap_true_square_points" not in row
    assert mediapipe["found"] > 15
    for key in ("gap_true_roll_points", "gap_true_square_points"):
        # one face more or less right moves a gap in steps of 100 / found points
        steps = mediapipe[key] * mediapipe["found"] / 100
        assert -100 <= mediapipe[key] <= 100 and abs(steps - round(steps)) < 0.05, (key, mediapipe[key])


@pytest.mark.parametrize("args, says", [
    (["--split", "train"], "unknown split 'train'"),
    (["--model", "ferplus-fast", "--detector", "truth"], "ferplus-fast: a ferplus model; the pipeline bench"),
], ids=["split", "ferplus-model"])
def test_bench_pipeline_refuses_what_it_cannot_measure(args, says, tmp_path):
    run = run_emoscope("bench", "pipeline", *args, "--faces", "10", "--out", tmp_path / "x.json")
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and says in lines[0], run.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.data
def test_the_baseline_pipeline_differs_only_in_framing_and_tiles(data_root):
    pytest.importorskip("mediapipe")
    from emoscope.benchmarks.fidelity import bench_pipeline
    from emoscope.runtime.predictor import load_predictor

    predictor = load_predictor("fer-fast")
    current, baseline = (bench_pipeline([predictor], ["haar", "mediapipe"], faces=30, baseline=flag) for flag in (False, True))
    assert (current["pipeline"], baseline["pipeline"]) == ("current", "baseline")
    (haar_now, mediapipe_now), (haar_before, mediapipe_before) = current["rows"], baseline["rows"]
    assert haar_now["found"] == haar_before["found"]  # Haar has no tile pass: the same faces, other crops
    assert mediapipe_now["found"] >= mediapipe_before["found"]  # the tile pass only adds faces


def test_gap_interval_counts_only_faces_the_two_scorings_disagree_on():
    from emoscope.benchmarks.fidelity import gap_half_width

    agree = np.ones(400, bool)
    assert gap_half_width(agree, agree) == 0.0
    # 40 of 400 faces flip one way and 20 the other: the paired difference's normal interval
    pipeline, original = agree.copy(), agree.copy()
    pipeline[:40] = False
    original[40:60] = False
    diff = pipeline.astype(float) - original
    expected = 100 * 1.96 * diff.std(ddof=1) / np.sqrt(400)
    assert gap_half_width(pipeline, original) == round(expected, 2) and 2 < expected < 5
    assert gap_half_width(agree[:1], agree[:1]) is None
