"""The Python API page (docs/api.md) runs as a doctest, on the bundled sample clip."""

import doctest
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_api_page_runs(monkeypatch):
    pytest.importorskip("mediapipe")
    monkeypatch.chdir(REPO)
    failures, tried = doctest.testfile(str(REPO / "docs" / "api.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 10 and failures == 0


def test_import_is_cheap_and_the_api_is_lazy():
    import subprocess
    import sys

    code = ("import sys, emoscope; heavy = [m for m in ('torch', 'cv2', 'mediapipe', 'onnxruntime') if m in sys.modules];"
            "print(heavy, callable(emoscope.analyze_video))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def test_an_analyzer_loads_its_models_once_and_module_calls_share_them(monkeypatch):
    """py-feat's Detector loads once; so must ours: the expression model once per process for every
    caller, the photo detector once per Analyzer (a module call opens and closes its own)."""
    pytest.importorskip("mediapipe")
    import cv2

    import emoscope
    import emoscope.faces as faces
    from emoscope.runtime import predictor as predictors

    monkeypatch.chdir(REPO)
    ok, frame = cv2.VideoCapture("samples/WolfgangLanger_Pexels.mp4").read()
    assert ok
    loads, detectors = [], []
    real_load, real_create = predictors.load_predictor, faces.create_photo_detector
    monkeypatch.setattr(predictors, "load_predictor", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    monkeypatch.setattr(faces, "create_photo_detector", lambda *a, **k: detectors.append(a) or real_create(*a, **k))
    predictors.clear_shared()
    with emoscope.Analyzer(model="fer-default", backend="auto") as analyzer:
        labels = {analyzer.predict_image(frame)[0].label for _ in range(3)}
        analyzer.analyze_video("samples/WolfgangLanger_Pexels.mp4", max_seconds=0.5)
    assert len(loads) == 1 and len(detectors) == 1 and len(labels) == 1
    for _ in range(3):
        assert emoscope.predict_image(frame, model="fer-default")[0].label in labels
    assert len(loads) == 1 and len(detectors) == 4  # the model is shared; each call opens its own detector
    predictors.clear_shared()


def test_a_run_cut_short_divides_the_part_analysed_into_its_intervals(monkeypatch):
    """`max_seconds` stops early: the five intervals cover the seconds analysed, not the whole file (whose
    last four fifths were never looked at and would all read "not seen")."""
    pytest.importorskip("mediapipe")
    import emoscope

    monkeypatch.chdir(REPO)
    report = emoscope.analyze_video("samples/WolfgangLanger_Pexels.mp4", max_seconds=4)
    (person,) = report.people
    assert report.video.duration > 10  # the file's own length is still what the report says it is
    assert [interval.dominant is not None for interval in person.intervals] == [True] * 5
    assert person.intervals[-1].end <= 4.2
