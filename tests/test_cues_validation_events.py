"""`validate-cues --events`: blink kinematics, long closures, nods, shakes and looking away against the
hand labels of real clips (tests/fixtures/cue_labels), and its answer to a bad labels file."""

import json
from pathlib import Path

import pytest

from emoscope.benchmarks.validate_cues import read_event_labels, validate_events
from emoscope.errors import DataError
from helpers import run_emoscope

EVENTS = Path(__file__).parent / "fixtures" / "cue_labels" / "events.csv"


def test_the_labels_file_is_well_formed():
    labels = read_event_labels(EVENTS)
    blinks = labels[labels["event"] == "blink"]
    assert len(blinks) == 6 and (blinks["closed_start"] >= blinks["start_frame"]).all()
    assert (blinks["closed_end"] <= blinks["end_frame"]).all()


@pytest.mark.parametrize("content, message", [
    ("clip,frames,event\nx,1,blink\n", "missing column"),
    ("clip,frames,event,start_frame,end_frame,closed_start,closed_end\nx,9,wink,1,2,,\n", "unknown event"),
    ("clip,frames,event,start_frame,end_frame,closed_start,closed_end\nx,9,nod,5,2,,\n", "ends before it starts"),
])
def test_a_bad_labels_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_event_labels(path)
    run = run_emoscope("validate-cues", "--events", path)
    assert run.returncode != 0 and "Traceback" not in run.stderr and message in run.stderr + run.stdout


@pytest.mark.slow
@pytest.mark.data
def test_cues_on_the_labelled_events(data_root):
    scores = validate_events(EVENTS, data_root)["all_clips"]
    # measured (docs/report.md): blinks 5 of 6 matched, no false alarm; duration error 0.6 frames on
    # average; the labelled look-away found, with 4 false episodes; 1 false nod, no shake. The bounds
    # leave room for numeric drift, not for regressions.
    assert scores["blinks"]["precision"] >= 0.8 and scores["blinks"]["recall"] >= 0.8
    assert scores["blink_duration_error_frames"]["mean_absolute"] <= 1.0
    assert scores["blink_duration_error_frames"]["shut_mean_absolute"] <= 1.0
    assert scores["long_closures"]["true_positives"] >= 1 and scores["long_closures"]["false_positives"] == 0
    assert scores["look_away_episodes"]["recall"] == 1.0 and scores["look_away_episodes"]["false_positives"] <= 6
    assert scores["nods"]["false_positives"] + scores["shakes"]["false_positives"] <= 2


@pytest.mark.slow
@pytest.mark.data
def test_the_command_prints_the_scores(data_root):
    run = run_emoscope("validate-cues", "--events", EVENTS)
    assert run.returncode == 0, run.stderr[-2000:]
    scores = json.loads(run.stdout)["events"]
    assert [clip["clip"] for clip in scores["clips"]] == ["media/WolfgangLanger_Pexels.mp4", "media/single_face.mp4"]
