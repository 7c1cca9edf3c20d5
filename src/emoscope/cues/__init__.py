"""Per-face cues measured frame by frame in the video loop (see :mod:`emoscope.cues.base`).

Importing a cue's module registers it; the order here is the order of their frame-table columns.
"""

from emoscope.cues import blinks, gaze, touch, panic  # noqa: F401
from emoscope.cues.base import Cue, CueSummary, FaceObservation, create_cues, register_cue, registered_cues

__all__ = ["Cue", "CueSummary", "FaceObservation", "create_cues", "register_cue", "registered_cues"]
