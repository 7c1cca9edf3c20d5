"""What the live loop (:mod:`emoscope.gui.player`) passes around: the newest captured frame in a
one-frame slot, one :class:`LiveUpdate` per analysed frame for the front end, and the loop's options
for live use."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.gui.parts import PartsReading
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.results import FaceResult, FrameResult


def live_options(detector: str = "mediapipe", **overrides) -> AnalysisOptions:
    """The loop's options for live use: one detector thread and one frame per classifier call (a
    batch of 16 frames would show every result 16 frames late), panic scored where the model can."""
    return AnalysisOptions(detector=detector, detect_workers=1, batch_frames=1, touches=False,
                           **{"panic": True, **overrides})


def with_panic_if_possible(options: AnalysisOptions, classes: list[str]) -> AnalysisOptions:
    """Panic needs a panic class (fear); the 5-class fer5 has none, so it runs without."""
    from emoscope.cues.panic import panic_columns

    if not options.panic:
        return options
    try:
        panic_columns(classes, options.panic_classes)
    except EmoscopeError:
        return options.model_copy(update={"panic": False})
    return options


@dataclass
class LiveUpdate:
    """One analysed frame (or, with ``result`` None, only a message) for the front end."""

    result: FrameResult | None
    canvas: np.ndarray | None  # the frame as shown: BGR, boxes, track ids and labels drawn
    selected: FaceResult | None  # the face the bars and parts describe
    parts: PartsReading | None
    gesture: str | None  # the held gesture, when gestures are on
    fps: float  # frames analysed per second over the last second
    dropped: int  # frames dropped so far because inference was busy
    frames: int  # frames analysed so far
    classes: list[str]  # the model's classes, as it was when this frame was analysed
    message: str = ""
    ended: bool = False  # the source is finished: no more frames will come


class FrameSlot:
    """Holds the newest frame only. ``put`` replaces a frame nobody took yet (counted as dropped) or,
    with ``wait``, blocks until it was taken (every frame analysed: stepping, offline files)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._closed = False
        self.dropped = 0

    def put(self, item, wait: bool) -> None:
        with self._cond:
            while wait and self._item is not None and not self._closed:
                self._cond.wait(0.1)
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def take(self, timeout: float):
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
