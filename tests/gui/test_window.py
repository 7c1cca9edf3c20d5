"""The desktop app in a real Tk window on Xvfb: actions pressed through the widgets, assertions on the
pixels the X server shows."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from emoscope.data.face_parts import PARTS
from emoscope.faces.draw import GREEN

from .conftest import SAMPLE_CLIP

BOX_RGB = np.array(GREEN[::-1])  # faces.draw's colour is BGR
BAR_RGB = np.array([0x2E, 0x86, 0xDE])  # view.BAR_COLOUR


def colour_pixels(image: np.ndarray, rgb: np.ndarray, tolerance: int = 24) -> int:
    return int((np.abs(image.astype(int) - rgb).max(axis=2) <= tolerance).sum())


def blank_share(image: np.ndarray) -> float:
    """The share of the image's pixels that have its most common colour (1.0: one flat colour)."""
    _, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    return counts.max() / counts.sum()


def bar_fill(gui, class_name: str) -> int:
    """Pixels of the bar colour in the probability bar of ``class_name``, as drawn on screen."""
    for label, progress, _ in gui.app.bars:
        if label.cget("text") == class_name:
            return colour_pixels(gui.screenshot(progress), BAR_RGB, tolerance=8)
    raise AssertionError(f"no bar for {class_name}: {[b[0].cget('text') for b in gui.app.bars]}")


def open_files(path: str) -> list[str]:
    """Files this process holds open that are ``path``."""
    target = os.path.realpath(path)
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found.append(fd)
        except OSError:
            continue
    return found


@pytest.mark.data
def test_a_face_box_is_drawn_on_a_face_clip_and_none_on_no_face(gui, media):
    gui.press("open_video", media / "single_face.mp4")
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.result.faces, what="a face")
    shown = gui.screenshot(gui.app.video)
    assert colour_pixels(shown, BOX_RGB) > 200, "no face box drawn"
    assert gui.app.result.cget("text").startswith("#")

    gui.press("open_video", media / "no_face.mp4")
    gui.until(lambda: gui.controller.last is not None and gui.controller.player.frames >= 20, what="20 frames")
    shown = gui.screenshot(gui.app.video)
    assert shown.std() > 10, "the no-face clip's frame is not shown"
    assert colour_pixels(shown, BOX_RGB) == 0, "a face box drawn on a clip without faces"
    assert gui.app.result.cget("text") == "no face"


def test_probability_bars_follow_a_happy_and_a_sad_frame(gui, expression_frames):
    fills = {}
    for name, path in expression_frames.items():
        gui.press("open_image", path)
        gui.until(lambda: gui.controller.last is not None and gui.controller.last.selected is not None,
                  what=f"the {name} frame's face")
        fills[name] = {"happy": bar_fill(gui, "happy"), "sad": bar_fill(gui, "sad")}
        assert gui.app.result.cget("text").split()[1] == name
        if name == "happy":
            gui.save_screenshot("gui-complete.png")  # the sample clip is licensed for the docs; media/ is not
    assert fills["happy"]["happy"] > 3 * max(fills["sad"]["happy"], 20)
    assert fills["sad"]["sad"] > 3 * max(fills["happy"]["sad"], 20)

    gui.app.view_box.set("5 classes")  # the study's five: no sad bar, the rest renormalised
    gui.app.view_box.event_generate("<<ComboboxSelected>>")
    gui.pump(0.2)
    assert [bar[0].cget("text") for bar in gui.app.bars] == ["angry", "disgust", "happy", "surprise", "neutral"]


def test_parts_predict_shows_the_four_part_crops(gui, expression_frames):
    gui.press("open_image", expression_frames["happy"])
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.selected is not None, what="a face")
    assert min(blank_share(gui.screenshot(label)) for label in gui.app.part_images) > 0.9, \
        "part crops drawn before parts predict"
    gui.press("parts")
    gui.until(lambda: gui.controller.last.parts is not None, what="the parts")
    crops = [gui.screenshot(label) for label in gui.app.part_images]
    assert max(blank_share(crop) for crop in crops) < 0.2, "a part crop is blank"
    assert len({crop.tobytes() for crop in crops}) == 4, "the four parts show the same pixels"
    classes = set(gui.controller.predictor.classes)
    for part, text in zip(PARTS, gui.app.part_texts):
        shown = text.cget("text")
        assert shown.startswith(f"{part}: ") and shown.split()[1] in classes
        assert "masked" in shown
    assert gui.app.result.cget("text").startswith("parts: ")
    gui.save_screenshot("gui-parts.png")

    gui.press("complete")
    gui.pump(0.3)
    assert min(blank_share(gui.screenshot(label)) for label in gui.app.part_images) > 0.9
    assert gui.app.result.cget("text").startswith("#")


def test_closing_the_window_releases_the_capture_and_threads(gui):
    gui.press("open_video", SAMPLE_CLIP)
    gui.until(lambda: gui.controller.last is not None, what="a frame")
    player = gui.controller.player
    assert open_files(str(SAMPLE_CLIP)), "the clip is not open while it plays"
    assert player.alive
    gui.press("close")
    assert gui.app.closed
    assert not player.alive, "capture or inference thread still running"
    assert not open_files(str(SAMPLE_CLIP)), "the clip is still open after closing"
    assert not [t.name for t in threading.enumerate() if t.name.startswith("emoscope-")]


@pytest.mark.data
def test_the_end_of_a_video_releases_it_and_says_so(gui, media):
    clip = media / "single_face.mp4"
    gui.press("open_video", clip)
    gui.until(lambda: "end of video" in gui.controller.status, timeout=30, what="the end of the clip")
    assert not open_files(str(clip)), "the clip is still open after it ended"
    assert gui.app.status.cget("text").startswith("single_face.mp4: end of video (")
    assert gui.app.result.cget("text").startswith("#")  # the last frame stays on screen


def test_keyboard_shortcuts_pause_and_step(gui):
    gui.press("open_video", SAMPLE_CLIP)
    gui.until(lambda: gui.controller.last is not None, what="a frame")
    gui.root.event_generate("<space>")
    assert gui.controller.player.paused and gui.app.buttons["pause"].cget("text").startswith("Play")
    gui.pump(0.3)
    frames = gui.controller.player.frames
    gui.pump(0.5)
    assert gui.controller.player.frames == frames, "frames analysed while paused"
    gui.root.event_generate("<period>")
    gui.until(lambda: gui.controller.player.frames == frames + 1, what="one step")
    gui.pump(0.3)
    assert gui.controller.player.frames == frames + 1
    gui.root.event_generate("<Control-q>")
    assert gui.app.closed


def test_record_writes_the_analyze_report_and_snapshot_a_png(gui):
    from PIL import Image

    from emoscope.report.schema import Report

    gui.press("open_video", SAMPLE_CLIP)
    gui.until(lambda: gui.controller.last is not None, what="a frame")
    gui.press("record")
    assert gui.app.buttons["record"].cget("text").startswith("Stop")
    gui.pump(1.0)
    gui.press("record")
    gui.until(lambda: gui.controller.status.startswith("report written"), what="the report")
    [report_json] = gui.out_dir.glob("*.report.json")
    report = Report.model_validate_json(report_json.read_text())
    assert report.analysis.frames_analysed > 5 and report.analysis.model == "fer-fast"
    assert report_json.with_name(report_json.name.replace(".json", ".html")).is_file()

    gui.press("snapshot")
    [png] = gui.out_dir.glob("*-frame*.png")  # beside the report's chart PNGs
    assert gui.controller.status == f"snapshot saved: {png}"
    assert Image.open(png).size == (640, 360)
    assert not list(gui.out_dir.glob(".*"))  # no temporary left behind


@pytest.mark.parametrize("case", ["unreadable file", "video without frames", "missing camera", "broken model"])
def test_bad_input_is_one_status_line_and_the_app_stays_usable(gui, tmp_path, expression_frames, case):
    if case == "unreadable file":
        bad = tmp_path / "clip.mp4"
        bad.write_bytes(b"not a video at all" * 100)
        gui.press("open_video", bad)
    elif case == "video without frames":
        import cv2

        bad = tmp_path / "empty.mp4"
        writer = cv2.VideoWriter(str(bad), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 64))
        writer.release()  # a container with no frame in it
        gui.press("open_video", bad)
        gui.until(lambda: gui.controller.status.startswith("error") or "no frame" in gui.controller.status,
                  what="the message")
    elif case == "missing camera":
        gui.app.webcam_index.set(57)
        gui.press("webcam")
    else:
        bad = tmp_path / "broken.safetensors"
        bad.write_bytes(b"\x00" * 64)
        gui.press("model_file", bad)
        assert gui.controller.model_name == "fer-fast"
    gui.pump(0.2)
    status = gui.app.status.cget("text")
    assert status.startswith("error:") or "no frame" in status, status
    assert "\n" not in status and "Traceback" not in status

    gui.press("open_image", expression_frames["happy"])
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.selected is not None,
              what="the app to work again")


@pytest.mark.data
def test_gestures_and_panic_are_shown(gui, media):
    gui.app.gestures_check.invoke()  # applies from the next source
    assert gui.controller.settings.gestures
    gui.press("open_image", media / "Image_with_alpha.png")  # one hand, no face
    gui.until(lambda: gui.controller.last is not None, what="the hand image")
    assert gui.controller.last.gesture is not None
    assert gui.app.gesture.cget("text") == f"gesture: {gui.controller.last.gesture}"

    gui.press("open_video", media / "single_face.mp4")
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.result.faces, what="a face")
    assert gui.app.panic.cget("text") in ("panic: calm", "panic: PANIC")  # fer-fast has fear: panic is scored
    gui.app.model_box.set("fer5")
    gui.app.model_box.event_generate("<<ComboboxSelected>>")
    gui.until(lambda: gui.controller.last is not None and gui.controller.last.result.faces
              and len(gui.controller.last.selected.probs) == 5, what="fer5's first face")
    assert gui.app.panic.cget("text") == "panic: not scored"  # fer5 has no fear class
    assert [bar[0].cget("text") for bar in gui.app.bars] == ["angry", "disgust", "happy", "neutral", "surprise"]


def test_emoscope_gui_opens_a_window_and_ends_cleanly_on_sigterm(xdisplay, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from PIL import ImageGrab

    env = {**os.environ, "DISPLAY": xdisplay, "EMOSCOPE_GUI_SETTINGS": str(tmp_path / "gui.json")}
    process = subprocess.Popen([sys.executable, "-m", "emoscope", "gui", str(SAMPLE_CLIP)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:  # until the window shows the clip with its face box
        assert process.poll() is None, process.communicate()[1]
        screen = np.asarray(ImageGrab.grab(xdisplay=xdisplay).convert("RGB"))
        if colour_pixels(screen, BOX_RGB) > 200:
            break
        assert time.monotonic() < deadline, "no face box on screen within 30 s"
        time.sleep(0.2)
    drawn = (screen.max(axis=2) > 0).mean()  # Xvfb's empty screen is black
    assert drawn > 0.5, f"only {drawn:.0%} of the screen drawn: no window"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and err == "", err


def test_emoscope_gui_without_a_display_is_one_error_line(tmp_path):
    from helpers import run_emoscope

    run = run_emoscope("gui", env={"DISPLAY": "", "EMOSCOPE_GUI_SETTINGS": str(tmp_path / "gui.json")})
    assert run.returncode != 0 and run.stderr.startswith("error: no display") and run.stderr.count("\n") == 1


def test_the_theme_is_applied_and_a_high_dpi_screen_scales_the_window(xdisplay, monkeypatch):
    import tkinter as tk
    from tkinter import ttk

    from emoscope.gui.view import use_theme

    root = tk.Tk()
    try:
        assert use_theme(root) == pytest.approx(max(1.0, root.winfo_fpixels("1i") / 96))
        assert ttk.Style(root).theme_use() == "sun-valley-light"
        monkeypatch.setattr(root, "winfo_fpixels", lambda distance: 192.0)  # a 2x screen
        assert use_theme(root) == 2.0 and float(root.tk.call("tk", "scaling")) == pytest.approx(192 / 72, rel=0.01)  # Tk rounds it
    finally:
        root.destroy()
