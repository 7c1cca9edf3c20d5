"""Inputs that used to end in a traceback or an unreadable line: each is now one short line."""

from pathlib import Path

import pytest

from helpers import run_emoscope

REPO = Path(__file__).resolve().parents[2]


def one_short_line(run, code: int) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == code and len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert len(lines[0]) < 400
    return lines[0]


def test_a_camera_index_no_system_has(tmp_path):
    run = run_emoscope("analyze", "99999999999", "--max-seconds", "1", "--out", tmp_path)
    assert "no such camera index" in one_short_line(run, 2)


@pytest.mark.parametrize("content", ["", "label\n"])
def test_a_csv_without_the_pixel_columns_names_a_few_and_counts_the_rest(tmp_path, content):
    csv = tmp_path / "hands.csv"
    csv.write_text(content)
    assert "more)" in one_short_line(run_emoscope("gesture", csv), 2)


def test_speech_to_an_unwritable_place_fails_before_the_session(tmp_path):
    pytest.importorskip("mediapipe")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    run = run_emoscope("gesture", REPO / "samples" / "WolfgangLanger_Pexels.mp4", "--max-seconds", "0.2",
                       "--speak-to", blocker / "said.wav")
    assert "cannot write here" in one_short_line(run, 3)


@pytest.mark.parametrize("command, name, content, message", [
    ("predict", "empty.jpg", b"", "empty file (0 bytes)"),
    ("predict", "video.jpg", None, "not an image"),  # the bundled clip renamed .jpg
    ("analyze", "empty.mp4", b"", "empty file (0 bytes)"),
    ("analyze", "noise.mp4", b"not a video at all" * 64, "cannot open as video"),
])
def test_zero_byte_and_renamed_files(tmp_path, command, name, content, message):
    path = tmp_path / name
    path.write_bytes((REPO / "samples" / "WolfgangLanger_Pexels.mp4").read_bytes() if content is None else content)
    run = run_emoscope(command, path, *(("--out", tmp_path / "out") if command == "analyze" else ()))
    assert message in one_short_line(run, 2)
