"""Per-face cues measured frame by frame in the video loop (see :mod:`emoscope.cues.base`).

Importing a cue's module registers it; the order here is the order of their frame-table columns.
"""

from emoscope.cues import blinks, gaze, touch, panic  # noqa: F401
from emoscope.cues import blink_kinematics, hand_movement, head_pose, face_movement  # noqa: F401
from emoscope.cues import blendshapes  # noqa: F401
from emoscope.cues.base import (Cue, CueAccumulator, CueTimeline, FaceObservation, create_cues, register_cue,
                                registered_cues)

__all__ = ["Cue", "CueAccumulator", "CueTimeline", "FaceObservation", "create_cues", "register_cue",
           "registered_cues"]
