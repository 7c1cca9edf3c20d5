"""The analysis loop on the real media clips: where faces are and are not."""

import shutil

import pytest

import emoscope
from emoscope.benchmarks.validate_cues import ConstantPredictor
from emoscope.jobs.analyze import analyze_video
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.spec import ModelSpec
from emoscope.video.pipeline import AnalysisOptions
from helpers import run_emoscope

pytestmark = pytest.mark.data
EMOTION_ONLY = AnalysisOptions(blinks=False, gaze=False, touches=False)


def analyse(data_root, name, tmp_path):
    return analyze_video(data_root / "media" / name, ConstantPredictor(), tmp_path, EMOTION_ONLY).report


def test_no_face_video_is_an_empty_report_not_a_crash(data_root, tmp_path):
    report = analyse(data_root, "no_face.mp4", tmp_path)
    assert report.people == [] and report.face_visible_share == 0
    assert any("no face" in note for note in report.notes)


def test_face_then_no_face(data_root, tmp_path):
    report = analyse(data_root, "face_noface.mov", tmp_path)
    (person,) = report.people
    assert person.first_seen == pytest.approx(0, abs=0.1)
    # the face leaves at about frame 72 of 169
    assert 0.35 < person.last_seen / report.video.duration < 0.5
    assert 0.35 < report.face_visible_share < 0.5


def test_no_face_then_face(data_root, tmp_path):
    report = analyse(data_root, "noface_face.mov", tmp_path)
    (person,) = report.people
    assert report.first_face_s == pytest.approx(person.response.first_visible_s)
    assert 0.5 < person.first_seen / report.video.duration < 0.6  # the face arrives at about frame 92
    assert person.last_seen / report.video.duration > 0.95


def test_single_face_throughout(data_root, tmp_path):
    report = analyse(data_root, "single_face.mp4", tmp_path)
    assert len(report.people) == 1 and report.face_visible_share > 0.95


@pytest.mark.slow
def test_cli_folder_keeps_good_results_and_lists_errors(data_root, tmp_path):
    model = emoscope.create_model("fer_fast_net", num_classes=7).eval()
    spec = ModelSpec(name="untrained", architecture="fer_fast_net", label_set="fer2013",
                     classes=["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    bundle = save_bundle(model, spec, tmp_path / "untrained.safetensors")
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(data_root / "media" / "single_face.mp4", videos / "a.mp4")
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    (videos / "notes.txt").write_text("not a video, ignored")
    out = tmp_path / "out"
    run = run_emoscope("analyze", videos, "--model", bundle, "--out", out, "--no-blinks", "--no-gaze", "--no-touches",
                       "--meta", "group=g1")
    assert run.returncode == 0, run.stderr
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 3
    assert any(",ok," in row and "a.mp4" in row for row in summary)
    assert any(",error," in row and "broken.mp4" in row for row in summary)
    assert "Traceback" not in run.stderr
    assert '"group": "g1"' in (out / "a.report.json").read_text()

    only_broken = run_emoscope("analyze", videos / "broken.mp4", "--model", bundle, "--out", out)
    assert only_broken.returncode == 2
    assert only_broken.stderr.strip().count("\n") == 0 and "broken.mp4" in only_broken.stderr
