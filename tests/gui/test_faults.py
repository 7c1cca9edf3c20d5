"""Damaged sources in the desktop app and in `emoscope live` (issue 38): a folder, a video cut short (it ends
mid-frame), a video damaged in the middle, a model file that fails to load while a video plays. Each is one
status line (one `error:` line, or the partial note `emoscope analyze` gives), the video file is released,
and the app goes on working. The unreadable file, the empty video, the missing camera and the broken model
with nothing playing are in test_window.py."""

from __future__ import annotations

import pytest
from helpers import run_emoscope

from .conftest import SAMPLE_CLIP
from .test_window import open_files


def cut_clip(folder, share: float):
    """The sample clip cut to ``share`` of its bytes: its last frame ends mid-frame."""
    data = SAMPLE_CLIP.read_bytes()
    path = folder / f"cut{int(share * 100)}.mp4"
    path.write_bytes(data[: int(len(data) * share)])
    return path


def zeroed_clip(folder):
    """The sample clip with 5 % of its bytes zeroed in the middle."""
    data = bytearray(SAMPLE_CLIP.read_bytes())
    start, length = len(data) // 2, len(data) // 20
    data[start : start + length] = bytes(length)
    path = folder / "zeroed.mp4"
    path.write_bytes(bytes(data))
    return path


def assert_usable(gui, expression_frames) -> None:
    gui.press("open_image", expression_frames["happy"])
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.selected is not None,
              what="the app to work again")


def test_a_folder_is_one_status_line(gui, tmp_path, expression_frames):
    gui.press("open_video", tmp_path)
    gui.pump(0.2)
    status = gui.app.status.cget("text")
    assert status == f"error: {tmp_path}: a folder, not a video file (`emoscope analyze` takes folders)"
    assert gui.controller.player is None
    assert_usable(gui, expression_frames)


@pytest.mark.parametrize("damage", ["cut at 30 %", "zeroed in the middle"])
def test_a_damaged_video_plays_what_it_holds_says_partial_and_is_released(gui, tmp_path, expression_frames, damage):
    clip = cut_clip(tmp_path, 0.3) if damage.startswith("cut") else zeroed_clip(tmp_path)
    gui.press("open_video", clip)
    gui.until(lambda: "end of video" in gui.controller.status, timeout=120, what="the end of the damaged clip")
    status = gui.app.status.cget("text")
    assert "\n" not in status and "Traceback" not in status
    assert "; partial: " in status and "of 472 frames could be decoded" in status, status
    assert ("the last" if damage.startswith("cut") else "not analysed: frames ") in status
    assert gui.controller.last is not None and gui.controller.last.result is not None  # its frames were shown
    assert not open_files(str(clip)), "the damaged clip is still open after it ended"
    assert_usable(gui, expression_frames)
    assert not open_files(str(clip))


def test_a_model_that_fails_to_load_leaves_the_playing_video_alone(gui, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x01" * 40)
    gui.press("open_video", SAMPLE_CLIP)
    gui.until(lambda: gui.controller.last is not None, what="a frame")
    gui.press("model_file", broken)
    status = gui.app.status.cget("text")
    assert status.startswith("error: ") and status.endswith("; still using fer-fast") and "\n" not in status, status
    frames = gui.controller.player.frames
    gui.until(lambda: gui.controller.player.frames > frames + 5, what="the video to go on")
    assert gui.controller.model_name == "fer-fast" and gui.controller.player.alive


def test_live_on_a_cut_video_says_partial_and_exits_4(tmp_path):
    clip = cut_clip(tmp_path, 0.3)
    out = tmp_path / "annotated.mp4"
    run = run_emoscope("live", clip, "--out", out, env={"DISPLAY": ""})
    assert run.returncode == 4, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stdout.splitlines()[-1]
    assert "end of video (" in last and "; partial: " in last and "the last" in last and f"written: {out}" in last


def test_live_on_a_folder_is_one_error_line(tmp_path):
    run = run_emoscope("live", tmp_path)
    assert run.returncode == 2
    assert run.stderr == f"error: {tmp_path}: a folder, not a video file (`emoscope analyze` takes folders)\n"
