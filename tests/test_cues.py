"""A cue added from outside the package: one class and its registration, and it shows up in the
frame table, the JSON report and the HTML page without touching the loop, the sinks or the report;
its option is an option of the loop and a flag of `emoscope analyze` without touching either."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emoscope.cues import Cue, CueAccumulator, register_cue, registered_cues
from emoscope.cues.base import CueOptions, cue_option, unregister_cue
from emoscope.video.pipeline import AnalysisOptions
from test_analyze import OPTIONS, analyze, write_video


class _AreaAccumulator(CueAccumulator):
    def __init__(self):
        self.areas = []

    def add(self, time, values):
        if values["face_area"] is not None:
            self.areas.append(values["face_area"])

    def section(self, frame_dt):
        return {"mean_area": float(np.mean(self.areas)), "frames": len(self.areas)} if self.areas else None


class FaceArea(Cue):
    """Toy cue: the face box's area in pixels."""

    name = "face_area"
    columns = (("face_area", "value"),)
    report_key = "face_area"
    title = "face area"

    class Options(CueOptions):
        min_face_area: float = cue_option(0.0, "faces smaller than this many px² are not measured", flag=True, ge=0)

    def update(self, face):
        x1, y1, x2, y2 = face.box
        area = float((x2 - x1) * (y2 - y1))
        return {"face_area": area if area >= self.settings.min_face_area else None}

    def accumulator(self):
        return _AreaAccumulator()

    def describe(self, section):
        return f"{section['mean_area']:.0f} px² over {section['frames']} frames"


@pytest.fixture
def face_area_cue():
    register_cue(FaceArea)
    yield FaceArea
    unregister_cue(FaceArea.name)


def test_a_registered_cue_reaches_the_table_and_the_report(tmp_path, face_area_cue):
    assert registered_cues()[-1] is FaceArea
    video = write_video(tmp_path / "v.mp4", [("none", 1), ("bright", 2)])
    output, _ = analyze(video, tmp_path)
    rows = list(csv.DictReader(output.frames_path.open()))
    assert list(rows[0])[-1] == "face_area"
    assert rows[0]["face_area"] == ""  # a frame without a face
    assert float(rows[-1]["face_area"]) == 60 * 60  # the square the synthetic video draws
    (person,) = json.loads(output.json_path.read_text())["people"]
    assert person["face_area"] == {"mean_area": 3600.0, "frames": 20}
    assert list(person)[-1] == "face_area"  # after the built-in sections, which keep their places
    assert "<td>face area</td><td>3600 px² over 20 frames</td>" in output.html_path.read_text()


def test_a_cue_option_is_an_option_of_the_loop_checked_by_its_cue(tmp_path, face_area_cue):
    video = write_video(tmp_path / "v.mp4", [("bright", 1)])
    options = AnalysisOptions(**OPTIONS.model_dump(), min_face_area=5000)
    assert options.model_dump()["min_face_area"] == 5000 and AnalysisOptions().min_face_area == 0
    output, _ = analyze(video, tmp_path, options=options)
    rows = list(csv.DictReader(output.frames_path.open()))
    assert rows and all(row["face_area"] == "" for row in rows)  # 3600 px² faces: below the option's floor
    with pytest.raises(ValueError, match="min_face_area"):
        AnalysisOptions(min_face_area=-1)
    unregister_cue(FaceArea.name)
    with pytest.raises(ValueError, match="min_face_area"):  # no cue left that has the option
        AnalysisOptions(min_face_area=1)
    register_cue(FaceArea)


def test_a_cue_option_marked_as_a_flag_becomes_a_flag_of_analyze(tmp_path):
    tests = Path(__file__).resolve().parent
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from test_cues import FaceArea;"
            "from emoscope.cues import register_cue; register_cue(FaceArea);"
            "from emoscope.cli.main import main; main(sys.argv[2:])")
    run = lambda *args: subprocess.run([sys.executable, "-c", code, str(tests), "analyze", *args],  # noqa: E731
                                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "--min-face-area" in run("--help").stdout
    bad = run("missing.mp4", "--min-face-area", "-1")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --min-face-area:"), bad.stderr


def test_switched_off_cues_keep_their_columns_and_say_not_measured(tmp_path):
    video = write_video(tmp_path / "v.mp4", [("bright", 2)])
    output, _ = analyze(video, tmp_path)
    header = output.frames_path.read_text().splitlines()[0].split(",")
    start = header.index("ear")
    assert header[start : start + 24] == [
        "ear", "blink", "gaze", "hand_on_face", "touching", "panic", "panic_active",
        "eye_closure", "lids_shut", "blink_duration", "long_closure", "hand_speed", "hands_moving", "hand_burst",
        "yaw", "pitch", "roll", "looking_away", "nod", "shake", "brow_raise", "mouth_open", "lip_pull", "eye_open"]
    page = output.html_path.read_text()
    assert "<td>blinks</td><td>not measured</td>" in page and "<td>panic</td><td>not scored</td>" in page
    # blink kinematics follow the blink cue's switch
    assert "<td>blink kinematics</td><td>not measured</td>" in page
    assert not OPTIONS.blinks and [cue.name for cue in registered_cues()][:8] == [
        "blinks", "gaze", "touches", "panic", "blink_kinematics", "hand_movement", "head_pose", "face_movement"]


def test_a_cue_name_is_registered_once():
    with pytest.raises(ValueError, match="twice"):
        register_cue(registered_cues()[0])
