"""`emoscope live`: the app's loop without Tk, headless here (opencv-python-headless has no windows)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import cv2
from helpers import default_ctrl_c, run_emoscope

from emoscope.video.source import VideoSource

from .conftest import SAMPLE_CLIP


def frame_count(path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_live_writes_the_annotated_video_and_a_line_per_second(tmp_path):
    out = tmp_path / "annotated.mp4"
    run = run_emoscope("live", SAMPLE_CLIP, "--max-seconds", "3", "--out", out, env={"DISPLAY": ""})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "headless" in lines[0]
    assert any(" fps " in line and "faces 1" in line and "#1 " in line for line in lines[1:-1])
    assert "end of video" in lines[-1] and f"written: {out}" in lines[-1]
    with VideoSource(SAMPLE_CLIP, max_seconds=3) as video:
        expected = video.completeness.frames_expected
    assert f"({expected} frames analysed, 0 dropped)" in lines[-1]
    assert frame_count(out) == expected  # every frame: a file is not paced (nor dropped) by default


def test_ctrl_c_ends_live_cleanly_and_keeps_what_was_recorded(tmp_path):
    out = tmp_path / "annotated.mp4"
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "live", str(SAMPLE_CLIP), "--realtime",
                                "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_ctrl_c)
    deadline = time.monotonic() + 60
    while not process.stdout.readline().lstrip()[:1].isdigit():  # the first per-second summary
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped (Ctrl+C)" in stdout.splitlines()[-1]
    assert 0 < frame_count(out) < 472


def test_a_bad_source_is_one_error_line(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"garbage" * 50)
    for source in (bad, tmp_path / "missing.mp4", "63"):
        run = run_emoscope("live", source)
        assert run.returncode != 0
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: "), run.stderr
