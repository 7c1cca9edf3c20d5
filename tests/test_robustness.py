"""`emoscope bench robustness`: the corruptions (shape, determinism, monotone severities, stated
bounds) and a tiny real run through the command line."""

import json
import math

import numpy as np
import pytest

from emoscope.benchmarks.robustness import (CORRUPTIONS, SEVERITIES, SEVERITY_PARAMETERS, before_after, before_after_table,
                                       corruption_rng)
from emoscope.errors import EmoscopeError

from helpers import run_emoscope

CASES = [(name, severity) for name in CORRUPTIONS for severity in SEVERITIES]


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """16 smooth gray 48x48 'faces' with mid-range pixels (no clipping hides a change)."""
    import cv2

    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 255, (16, 48, 48)).astype(np.float32)
    smooth = np.stack([cv2.GaussianBlur(face, (0, 0), 2.0) for face in noise])
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (50 + 150 * smooth).astype(np.uint8)


def mean_change(before: np.ndarray, after: np.ndarray) -> float:
    return float(np.abs(after.astype(np.float64) - before).mean())


@pytest.mark.parametrize("name, severity", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_a_corruption_keeps_shape_and_dtype_changes_every_face_and_repeats_under_a_seed(name, severity, faces):
    original = faces.copy()
    out = CORRUPTIONS[name](faces, severity, np.random.default_rng(7))
    assert out.shape == faces.shape and out.dtype == np.uint8
    assert (out != faces).reshape(len(faces), -1).any(axis=1).all()
    assert np.array_equal(out, CORRUPTIONS[name](faces, severity, np.random.default_rng(7)))
    assert np.array_equal(faces, original)  # the input is left as it is


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_the_change_grows_with_severity(name, faces):
    changes = [mean_change(faces, CORRUPTIONS[name](faces, severity, corruption_rng(0, name)))
               for severity in SEVERITIES]
    assert all(a < b for a, b in zip(changes, changes[1:])), changes


def test_the_parameter_table_is_monotone_and_names_every_corruption():
    assert set(SEVERITY_PARAMETERS) == set(CORRUPTIONS)
    for name, parameters in SEVERITY_PARAMETERS.items():
        for key, values in parameters.items():
            steps = np.diff(values)
            assert len(values) == len(SEVERITIES) and ((steps > 0).all() or (steps < 0).all()), (name, key)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, True, "3"])
def test_a_severity_outside_1_to_5_is_refused(severity, faces):
    with pytest.raises(EmoscopeError, match="severity"):
        CORRUPTIONS["gaussian_blur"](faces, severity, np.random.default_rng(0))


MARKERS_X = (11.5, 23.5, 35.5)
"""Three 2x2 bright dots on the horizontal centre line of a dark face (pixel centres: 23.5 is the middle)."""


def marker_face(n: int) -> np.ndarray:
    faces = np.full((n, 48, 48), 40, np.uint8)
    for x in MARKERS_X:
        faces[:, 23:25, int(x - 0.5):int(x + 1.5)] = 240
    return faces


def marker_positions(face: np.ndarray) -> np.ndarray:
    """Brightness-weighted centroids (x, y) of the three dots, left to right."""
    import cv2

    count, labels = cv2.connectedComponents((face > 45).astype(np.uint8))
    assert count == 4, "the three dots should stay apart and inside the face"
    weight = face.astype(np.float64) - 40
    ys, xs = np.mgrid[:48, :48]
    centroids = [(float((xs * weight)[labels == k].sum() / weight[labels == k].sum()),
                  float((ys * weight)[labels == k].sum() / weight[labels == k].sum())) for k in range(1, 4)]
    return np.array(sorted(centroids))


def test_framing_jitter_at_severity_5_stays_within_scale_15_and_shift_10_percent():
    out = CORRUPTIONS["framing"](marker_face(64), 5, np.random.default_rng(0))
    scales, shifts = [], []
    for face in out:
        left, centre, right = marker_positions(face)
        scale = (MARKERS_X[2] - MARKERS_X[0]) / (right[0] - left[0])  # the crop's side over the face's
        # where the crop's centre sat on the original face, in face sides
        shifts.append((23.5 - (centre - 23.5) * scale - 23.5) / 48)
        scales.append(scale)
        assert abs(right[1] - left[1]) < 0.05  # re-cut, not rotated
    scales, shifts = np.array(scales), np.abs(np.array(shifts))
    assert np.abs(scales - 1).max() <= 0.15 + 0.005 and shifts.max() <= 0.10 + 0.005
    assert np.abs(scales - 1).max() > 0.13 and shifts.max() > 0.08  # the bounds are reached, not far inside
    assert np.abs(scales - 1).min() >= 0.075 - 0.005  # each amount is at least half the bound


def test_rotation_at_severity_5_stays_within_30_degrees_about_the_centre():
    out = CORRUPTIONS["rotation"](marker_face(64), 5, np.random.default_rng(0))
    angles = []
    for face in out:
        left, centre, right = marker_positions(face)
        assert np.abs(centre - 23.5).max() < 0.1
        angles.append(abs(math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))))
    assert max(angles) <= 30 + 0.3 and max(angles) > 28 and min(angles) >= 15 - 0.3


@pytest.mark.data
def test_a_tiny_real_run_writes_consistent_json_and_tables(data_root, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- bench:robustness -->\nold\n<!-- /bench:robustness -->\nafter\n")
    out = tmp_path / "robustness.json"
    run = run_emoscope("bench", "robustness", "fer-fast", "--faces", "40", "--corruption", "gaussian_noise",
                       "--corruption", "rotation", "--out", out, "--doc", page, timeout=120)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert results["faces"] == 40 and results["split"] == "fer2013:test" and list(results["corruptions"]) == [
        "gaussian_noise", "rotation"]
    (row,) = results["models"]
    assert row["model"] == "fer-fast" and row["faces"] == 40
    cells = np.array([row["corrupted"][name] for name in results["corruptions"]])
    assert cells.shape == (2, 5) and np.allclose(cells * 40, np.rint(cells * 40))  # accuracies of 40 faces
    assert row["mean_corrupted"] == pytest.approx(cells.mean(), abs=5e-5)
    assert row["relative_drop"] == pytest.approx((row["clean"] - row["mean_corrupted"]) / row["clean"], abs=5e-5)
    assert row["worst_corruption"] == list(results["corruptions"])[int(cells.mean(axis=1).argmin())]
    table = out.with_suffix(".md").read_text()
    assert f"| fer-fast | 40 | {row['clean']:.4f} | {row['mean_corrupted']:.4f} |" in table
    text = page.read_text()
    assert table in text and "old" not in text and text.startswith("before\n") and text.endswith("after\n")

    # Compared with itself (same model, faces and corruptions) every change is zero.
    again = tmp_path / "again.json"
    run = run_emoscope("bench", "robustness", "fer-fast", "--faces", "40", "--corruption", "gaussian_noise",
                       "--corruption", "rotation", "--out", again, "--before", out, timeout=120)
    assert run.returncode == 0, run.stderr
    (compared,) = json.loads(again.read_text())["before"]["models"]
    assert compared == {"model": "fer-fast", "clean_before": row["clean"], "clean_after": row["clean"],
                        "clean_change_points": 0.0, "mean_corrupted_before": row["mean_corrupted"],
                        "mean_corrupted_after": row["mean_corrupted"], "mean_corrupted_change_points": 0.0}
    assert "| fer-fast | " in again.with_suffix(".md").read_text().split("Before (robustness.json)")[1]


def _run(models, faces=500, seed=0):
    return {"dataset": "fer2013", "split": "fer2013:test", "faces": faces, "seed": seed, "severities": [1, 2, 3, 4, 5],
            "corruptions": {"jpeg": {}}, "models": [{"model": name, "clean": clean, "mean_corrupted": corrupted}
                                                    for name, clean, corrupted in models]}


def test_before_after_matches_models_by_name_in_points():
    rows = before_after(_run([("fer-fast", 0.686, 0.5501), ("fer-best", 0.712, 0.5619)]),
                        _run([("fer-fast", 0.690, 0.6012), ("fer-new", 0.7, 0.6)]))
    assert rows == [{"model": "fer-fast", "clean_before": 0.686, "clean_after": 0.690, "clean_change_points": 0.4,
                     "mean_corrupted_before": 0.5501, "mean_corrupted_after": 0.6012,
                     "mean_corrupted_change_points": 5.11}]
    assert "| fer-fast | 0.6860 | 0.6900 | +0.40 | 0.5501 | 0.6012 | +5.11 |" in before_after_table(rows)


def test_before_after_refuses_runs_that_do_not_compare():
    with pytest.raises(EmoscopeError, match="differs in 'faces'"):
        before_after(_run([("fer-fast", 0.6, 0.5)], faces=400), _run([("fer-fast", 0.6, 0.5)]))
    with pytest.raises(EmoscopeError, match="shares no model"):
        before_after(_run([("fer-best", 0.6, 0.5)]), _run([("fer-fast", 0.6, 0.5)]))


@pytest.mark.parametrize("args, says", [
    (["--corruption", "fog"], "unknown corruption 'fog'"),
    (["--split", "train"], "unknown split 'train'"),
    (["ferplus-fast"], "ferplus-fast: a ferplus model"),
    (["--before", "missing.json"], "missing.json: cannot read the robustness run"),
], ids=["corruption", "split", "ferplus-model", "before"])
def test_bad_input_is_one_error_line_and_exit_2(args, says, tmp_path):
    run = run_emoscope("bench", "robustness", *args, "--out", tmp_path / "r.json", cwd=tmp_path, timeout=60)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], run.stderr
    assert not (tmp_path / "r.json").exists()
