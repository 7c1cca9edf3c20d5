"""A real X display (Xvfb) for the desktop app's tests, and a driver for its real Tk window.

Each test session starts its own ``Xvfb :N`` on a free display number; the tests skip, saying why,
where Xvfb is not installed (``make install`` installs it on Debian).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

SCREEN = "1280x720x24"
REPO = Path(__file__).resolve().parents[2]
SAMPLE_CLIP = REPO / "samples" / "WolfgangLanger_Pexels.mp4"
SCREENSHOTS_ENV = "EMOSCOPE_GUI_SCREENSHOTS"
"""A folder to save the tests' screenshots into (how docs/images/gui-*.png are made)."""


@pytest.fixture(scope="session")
def xdisplay():
    """``:N`` of a fresh Xvfb, also set as DISPLAY for this process; stopped after the session."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb not installed (Debian package xvfb; `make install` installs it): GUI tests skipped")
    # Xvfb picks a free display itself and writes its number to the pipe once it listens: two sessions
    # started at once (pytest -n 2, or two checkouts) never race for the same one.
    read_end, write_end = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 10)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip() if ready else ""  # "" when Xvfb exited (or hung) before listening
    if not number.isdigit():
        server.kill()
        pytest.skip(f"Xvfb did not start (exit {server.poll()}): GUI tests skipped")
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    yield f":{number}"
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous
    server.terminate()
    server.wait(10)


class Driver:
    """The real window: press its buttons, let its ``after()`` loop run, take screenshots of it."""

    def __init__(self, display: str, tmp_path: Path, model: str = "fer-fast"):
        import tkinter as tk

        from emoscope.gui.controller import AppController
        from emoscope.gui.settings import GuiSettings, save_settings
        from emoscope.gui.view import App

        self.display = display
        self.settings_path = tmp_path / "gui.json"
        self.out_dir = tmp_path / "out"
        save_settings(GuiSettings(model=model, out_dir=str(self.out_dir)), self.settings_path)
        self.next_path = ""
        self.root = tk.Tk()
        self.controller = AppController(self.settings_path)
        self.app = App(self.root, self.controller, ask_image=self._path, ask_video=self._path,
                       ask_model=self._path)
        self.pump(0.2)

    def _path(self) -> str:
        return str(self.next_path)

    def press(self, action: str, path: str | Path | None = None) -> None:
        """Click the action's button (its own ``invoke()``); ``path`` answers its file dialog."""
        if path is not None:
            self.next_path = path
        self.app.buttons[action].invoke()

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.app.closed:
            self.root.update()
            time.sleep(0.005)

    def until(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what or condition}; status: {self.controller.status}")
            self.root.update()
            time.sleep(0.005)
        self.pump(0.1)  # let the view draw what the condition saw

    def screenshot(self, widget=None):
        """The window (or one widget of it) as the X server shows it: RGB uint8."""
        from PIL import ImageGrab

        widget = widget or self.root
        self.root.update()
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        image = ImageGrab.grab(bbox=(x, y, x + widget.winfo_width(), y + widget.winfo_height()),
                               xdisplay=self.display)
        return np.asarray(image.convert("RGB"))

    def save_screenshot(self, name: str) -> None:
        """Into $EMOSCOPE_GUI_SCREENSHOTS, when set (PNG, quantised to stay small)."""
        folder = os.environ.get(SCREENSHOTS_ENV)
        if not folder:
            return
        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(self.screenshot()).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        image.save(Path(folder) / name, optimize=True)

    def close(self) -> None:
        import gc

        if not self.app.closed:
            self.app.close()
        self.app = self.controller = self.root = None
        gc.collect()  # the window's Tk objects go now, on the main thread, not in a later collection elsewhere


@pytest.fixture
def gui(xdisplay, tmp_path):
    driver = Driver(xdisplay, tmp_path)
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def media(data_root) -> Path:
    folder = data_root / "media"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: GUI tests on real clips skipped")
    return folder


@pytest.fixture(scope="session")
def expression_frames(tmp_path_factory) -> dict[str, Path]:
    """A happy and a sad frame of the sample clip as PNGs (frames 312 and 47: fer-fast reads them as
    happy 0.88 and sad 0.87)."""
    import cv2

    folder = tmp_path_factory.mktemp("frames")
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = {}
    for name, index in (("happy", 312), ("sad", 47)):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        assert ok, f"{SAMPLE_CLIP}: frame {index} not readable"
        frames[name] = folder / f"{name}.png"
        cv2.imwrite(str(frames[name]), image)
    capture.release()
    return frames
