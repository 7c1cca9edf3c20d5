"""Blendshapes (issue 41): the Face Landmarker bundle's checksum is checked at load, and on 5.5 s of the
sample clip (8.0-13.5 s: a blink, then the person turns happy) the scores behave: mouthSmileLeft/Right
are above the person's baseline where the label is happy, and eyeBlinkLeft/Right are higher in the
frames the blink cues mark shut than elsewhere."""

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emoscope.cues import create_cues
from emoscope.cues.blendshapes import COLUMNS, BlendshapesModel
from emoscope.errors import ModelError
from emoscope.faces.blendshapes import (BLENDSHAPE_NAMES, BUNDLE, BlendshapeNetwork, BlendshapeReader, BundleMesh,
                                        bundle_bytes)
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.sinks import FrameTable

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
CLIP_S = (8.0, 13.5)


def test_the_bundle_passes_its_pinned_checksum():
    with zipfile.ZipFile(io.BytesIO(bundle_bytes(BUNDLE))) as bundle:
        assert "face_blendshapes.tflite" in bundle.namelist()


def test_a_damaged_or_missing_bundle_is_refused_in_one_line(tmp_path):
    damaged = tmp_path / "face_landmarker.task"
    shutil.copyfile(BUNDLE, damaged)
    with damaged.open("r+b") as f:
        f.seek(2_000_000)
        byte = f.read(1)
        f.seek(2_000_000)
        f.write(bytes([byte[0] ^ 1]))
    for path in (damaged, tmp_path / "absent.task"):
        with pytest.raises(ModelError) as error:
            BlendshapeNetwork(path)
        assert "\n" not in str(error.value) and "reinstall emoscope" in str(error.value)
    with pytest.raises(ModelError, match="not the pinned"):
        bundle_bytes(damaged)


def test_analyze_with_a_bundle_that_fails_its_checksum_is_one_error_line(tmp_path):
    pytest.importorskip("mediapipe")
    # the pinned digest is changed in the child process, so the shipped file no longer matches it
    patched = ("import emoscope.faces.blendshapes as b; b.BUNDLE_SHA256 = '0' * 64; "
               "from emoscope.cli import main; main()")
    run = subprocess.run([sys.executable, "-c", patched, "analyze", str(SAMPLE), "--blendshapes", "--max-seconds", "1",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert len(lines) == 1 and lines[0].startswith("error: face landmarker bundle") and "not the pinned" in lines[0]
    assert not list(tmp_path.glob("*.report.json"))


def test_the_columns_are_in_the_table_only_when_switched_on():
    classes = ["neutral", "happy"]
    on = FrameTable(classes, create_cues(AnalysisOptions(blendshapes=True), classes))
    off = FrameTable(classes, create_cues(AnalysisOptions(), classes))
    assert [name for name, _ in on.columns if name.startswith("bs_")] == [f"bs_{n}" for n in BLENDSHAPE_NAMES]
    assert "bs_mouthSmileLeft" in dict(on.columns) and len(BLENDSHAPE_NAMES) == 52
    assert not any(name.startswith("bs_") for name, _ in off.columns)


def sample_frame(seconds: float):
    import cv2

    video = cv2.VideoCapture(str(SAMPLE))
    video.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, frame = video.read()
    assert ok
    return frame


def test_the_bundle_alone_finds_scores_and_tracks_the_face_where_mediapipe_does():
    pytest.importorskip("ai_edge_litert")
    photo = sample_frame(12.5)  # smiling
    reader = BlendshapeReader()
    (face,) = reader(photo)
    assert face.as_dict()["mouthSmileLeft"] > 0.5 and face.as_dict()["mouthSmileRight"] > 0.5
    assert reader(np.zeros((240, 320, 3), np.uint8)) == []
    pytest.importorskip("mediapipe")
    from emoscope.video.landmarks import FaceMeshRunner

    (legacy,) = FaceMeshRunner(1)(photo)
    eye_distance = np.linalg.norm(legacy[263] - legacy[33])
    assert np.linalg.norm(face.landmarks - legacy, axis=1).mean() < 0.1 * eye_distance
    assert np.linalg.norm(face.landmarks - legacy[::-1], axis=1).mean() > 0.5 * eye_distance  # not any face shape
    # video mode: tracked from the last mesh; the same face, and nothing once it is gone
    video = BlendshapeReader(video=True)
    tracked = [video(frame) for frame in (photo, photo, np.zeros_like(photo))]
    assert [len(faces) for faces in tracked] == [1, 1, 0]
    np.testing.assert_allclose(tracked[1][0].landmarks, face.landmarks, atol=0.1 * eye_distance)


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory):
    """The sample clip's 8.0-13.5 s analysed with blendshapes on: (frame table, report)."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("ai_edge_litert")
    import cv2

    from emoscope.api import analyze_video

    folder = tmp_path_factory.mktemp("blendshapes")
    clip = folder / "clip.mp4"
    video = cv2.VideoCapture(str(SAMPLE))
    fps = video.get(cv2.CAP_PROP_FPS)
    video.set(cv2.CAP_PROP_POS_FRAMES, round(CLIP_S[0] * fps))
    writer = None
    for _ in range(round((CLIP_S[1] - CLIP_S[0]) * fps)):
        ok, frame = video.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
        writer.write(frame)
    writer.release()
    report = analyze_video(clip, options=AnalysisOptions(blendshapes=True), out_dir=folder / "out")
    table = pd.read_csv(folder / "out" / "clip.frames.csv")
    assert json.loads((folder / "out" / "clip.report.json").read_text())["people"][0]["blendshapes"]
    return table, report


def test_the_clip_has_every_score_in_every_frame_with_a_face(clip_run):
    table, report = clip_run
    scores = table[list(COLUMNS)]
    assert scores.notna().all().all() and len(table) > 100
    assert ((scores >= 0) & (scores <= 1)).all().all()
    section = BlendshapesModel.model_validate(report.people[0].blendshapes)
    assert section.measured_frames == len(table)
    assert set(section.blendshapes) == set(BLENDSHAPE_NAMES)


def test_a_smile_raises_mouth_smile_above_the_baseline_in_happy_frames(clip_run):
    table, report = clip_run
    happy = table["label"] == "happy"
    assert 0.2 < happy.mean() < 0.95, "the clip needs happy and other frames"
    stats = BlendshapesModel.model_validate(report.people[0].blendshapes).blendshapes
    for side in ("Left", "Right"):
        smile = table[f"bs_mouthSmile{side}"]
        assert smile[happy].mean() > stats[f"mouthSmile{side}"].baseline + 0.05
        assert smile[happy].mean() > smile[~happy].mean() + 0.2


def test_eye_blink_is_higher_in_the_frames_the_blink_cues_mark_shut(clip_run):
    table, _ = clip_run
    shut = table["lids_shut"] == 1
    assert table["blink"].sum() >= 2 and shut.sum() >= 2
    for side in ("Left", "Right"):
        blink = table[f"bs_eyeBlink{side}"]
        assert blink[shut].mean() > blink[~shut].mean() + 0.15
    # every blink the blink cue counts has a frame with high eyeBlink in its closure (the 8 frames before)
    both = table[["bs_eyeBlinkLeft", "bs_eyeBlinkRight"]].mean(axis=1).to_numpy()
    for i in np.flatnonzero(table["blink"].to_numpy()):
        assert both[max(0, i - 8):i + 1].max() > 0.3
