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
