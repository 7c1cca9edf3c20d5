"""The live player without a window: a slow model drops frames instead of falling behind the clip."""

from __future__ import annotations

import time

from emoscope.gui.player import LivePlayer
from emoscope.gui.updates import live_options
from emoscope.runtime.predictor import load_predictor

from .conftest import SAMPLE_CLIP

SLOW_S = 0.2


def test_a_slow_model_drops_frames_instead_of_lagging():
    predictor = load_predictor("fer-fast", backend="torch")
    classify = predictor._logits
    predictor._logits = lambda batch: (time.sleep(SLOW_S), classify(batch))[1]  # fer-fast, made 5 fps slow
    player = LivePlayer(predictor, live_options(blinks=False, gaze=False), realtime=True)
    player.start(SAMPLE_CLIP)
    try:
        first = player.updates.get(timeout=30)
        started = time.monotonic() - first.result.time
        time.sleep(3.0)
        latest = first
        while not player.updates.empty():
            latest = player.updates.get()
        behind = (time.monotonic() - started) - latest.result.time
    finally:
        player.stop()
    assert latest.dropped > 30  # about 19 of every 24 frames a second
    assert behind < 2 * SLOW_S + 0.3, f"the shown frame is {behind:.2f} s behind the clip"
    assert not player.alive
