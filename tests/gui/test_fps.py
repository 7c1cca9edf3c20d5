"""The live FPS the app shows on the sample clip, per model: read off the real window's FPS label.

The clip plays at its own frame rate (as a viewer sees it), so the shown FPS cannot exceed the
clip's; a model slower than that drops frames instead. EMOSCOPE_GUI_FPS_SECONDS sets how long each
model is watched (default 5 s after a 2 s warm-up) and EMOSCOPE_GUI_FPS_OUT a JSON file for the
readings (how the numbers in docs/gui.md were taken).
"""

from __future__ import annotations

import json
import os
import statistics
import time

import pytest

from emoscope.video.source import VideoSource

from .conftest import SAMPLE_CLIP, Driver

WARM_UP_S = 2.0


@pytest.mark.slow
def test_live_fps_shown_on_the_sample_clip(xdisplay, tmp_path):
    seconds = float(os.environ.get("EMOSCOPE_GUI_FPS_SECONDS", "5"))
    with VideoSource(SAMPLE_CLIP) as video:
        clip_fps = video.info.fps
    readings = {}
    for model in ("fer-fast", "fer-best"):
        gui = Driver(xdisplay, tmp_path / model, model=model)
        try:
            gui.press("open_video", SAMPLE_CLIP)
            gui.until(lambda gui=gui: gui.controller.last is not None, what="the first frame")
            gui.pump(WARM_UP_S)
            shown = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                gui.pump(0.5)
                text = gui.app.fps.cget("text")  # "FPS 23.9  dropped 3"
                shown.append(float(text.split()[1]))
            readings[model] = {"median_fps": statistics.median(shown), "min_fps": min(shown), "max_fps": max(shown),
                               "dropped": gui.controller.dropped, "analysed": gui.controller.player.frames,
                               "watched_s": seconds, "clip_fps": round(clip_fps, 3)}
        finally:
            gui.close()
    print(json.dumps(readings, indent=2))
    if os.environ.get("EMOSCOPE_GUI_FPS_OUT"):
        with open(os.environ["EMOSCOPE_GUI_FPS_OUT"], "w") as f:
            json.dump({"threads": os.cpu_count(), "readings": readings}, f, indent=2)
    for model, reading in readings.items():
        assert 0 < reading["median_fps"] <= clip_fps * 1.1, (model, reading)  # paced: never above the clip's rate
