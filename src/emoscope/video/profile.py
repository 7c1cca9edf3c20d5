"""Where a video's time goes: busy seconds per stage of the loop, always measured.

Each stage is timed with ``time.perf_counter`` where it runs, on whichever thread that is, and the
seconds are summed per stage. Stages overlap on several cores, so the busy seconds add up to more
than the wall time; their shares say which stage to make cheaper.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

STAGES = ("decode", "detection", "tracking", "crop", "classification", "mesh", "hands", "cues", "sinks")
"""``decode``: reading frames from the source; ``detection``: the face detector; ``tracking``: carrying
faces from a detected frame to the next frames (and the scene-cut check), then track IDs and
smoothing; ``crop``: alignment and cropping; ``classification``: the expression model in batches;
``mesh``: the face mesh; ``hands``: the hand tracker; ``cues``: every cue's update; ``sinks``: what
the caller does with each result (frame table, report, video) before asking for the next."""


class StageProfile:
    """Seconds per stage (:data:`STAGES`), safe to add to from several threads."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def summary(self, frames: int, wall_seconds: float) -> dict:
        """Per stage: busy seconds, share of all busy seconds and milliseconds per frame; with the wall
        time, and the busy seconds per wall second (how many cores the loop kept busy)."""
        busy = sum(self.seconds.values())
        return {
            "frames": frames, "wall_seconds": round(wall_seconds, 3), "busy_seconds": round(busy, 3),
            "cores_busy": round(busy / wall_seconds, 2) if wall_seconds else 0.0,
            "stages": {name: {"seconds": round(seconds, 3), "share": round(seconds / busy, 3) if busy else 0.0,
                              "ms_per_frame": round(1000 * seconds / frames, 3) if frames else 0.0}
                       for name, seconds in self.seconds.items()},
        }
