"""Head pose from the face mesh (yaw, pitch, roll in degrees), nods and shakes, looking away, and how
much the head moves.

Pose: six face-mesh points (nose tip, chin, outer eye corners, mouth corners) fitted to a generic
3-D face (the widely used six-point model, in millimetre-like units) by an affine camera (a scaled
orthographic view: the angles do not depend on the unknown lens or on where the face is in the
frame). As seen in the video: yaw > 0 when the face turns towards the image's right, pitch > 0
when it tilts up, roll > 0 when it tilts clockwise. A generic face is not the subject's: expect an
offset per person of up to about 20 degrees in pitch (less in yaw), and a pitch that moves a few
degrees with the mouth (the mouth corners and chin are two of the points). (OpenCV's iterative
``solvePnP`` with the same points was tried first: on a frontal face it flipped between two
mirror fits of about +-22 degrees of yaw.)

Nods and shakes: the pitch (nods) or yaw (shakes) series, a 3-frame median against mesh jitter,
cut into swings at its turning points; a turning point counts once the angle has come back from
it by ``swing`` degrees (6 for pitch, 8 for yaw). A nod / shake is two opposite swings (there and
back) within ``gesture_s`` (1.2 s); swings chained without a pause are one event.

Looking away: yaw more than 30 degrees or pitch more than 20 degrees from the person's usual head
direction (the median of every 3rd of their last 1,800 frames, a minute at 30 frames/s; this also absorbs the
generic face's offset and a camera above or beside the screen), as an episode (3 frames to start,
5 to end, like face touching). Head movement: the degrees of all swings of yaw and pitch of at
least the nod threshold, per minute of measured time (jitter below it is not movement).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import MESH, Cue, CueAccumulator, CueTimeline, FaceObservation, register_cue
from emoscope.cues.debounce import Debouncer, EpisodeLog

# mesh index -> point of the generic face; camera axes: x right, y down, z away from the camera
POSE_POINTS = {
    1: (0.0, 0.0, 0.0),  # nose tip
    152: (0.0, 330.0, 65.0),  # chin
    33: (-225.0, -170.0, 135.0),  # outer corner of the eye on the image's left
    263: (225.0, -170.0, 135.0),
    61: (-150.0, 150.0, 125.0),  # mouth corner on the image's left
    291: (150.0, 150.0, 125.0),
}
_MESH_INDEX = list(POSE_POINTS)
_MODEL = np.array(list(POSE_POINTS.values()), dtype=np.float64)
_FIT = np.linalg.pinv(_MODEL - _MODEL.mean(axis=0))  # least squares of the affine camera, solved once

LOOK_AWAY_YAW, LOOK_AWAY_PITCH = 30.0, 20.0
USUAL_FRAMES, USUAL_EVERY = 600, 3  # the usual direction: the median of every 3rd frame of the last 600 such
NOD_SWING, SHAKE_SWING, GESTURE_S = 6.0, 8.0, 1.2


def head_pose(mesh: np.ndarray) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) degrees of one face's ``(478, 2)`` landmarks; None when they are degenerate.

    An affine camera fitted by least squares maps the generic face onto the six points; each of its
    two rows, scaled to unit length, is a row of the rotation (so a face wider or longer than the
    generic one reads as a scale, not as a turn), made orthonormal by the nearest such matrix."""
    image = mesh[_MESH_INDEX].astype(np.float64)
    camera = (_FIT @ (image - image.mean(axis=0))).T
    lengths = np.linalg.norm(camera, axis=1, keepdims=True)
    if not np.all(lengths > 1e-9):
        return None
    u, _, vt = np.linalg.svd(camera / lengths, full_matrices=False)
    rows = u @ vt
    (a1, a2, a3), (b1, b2, b3) = rows
    return euler_angles(np.array([rows[0], rows[1], [a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1]]))


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees, as seen in the video, of R = Rz(roll) Ry(-yaw) Rx(-pitch) in camera
    axes (x right, y down, z away)."""
    about_y = np.arcsin(np.clip(-rotation[2, 0], -1, 1))
    about_x = np.arctan2(rotation[2, 1], rotation[2, 2])
    about_z = np.arctan2(rotation[1, 0], rotation[0, 0])
    return float(-np.degrees(about_y)), float(-np.degrees(about_x)), float(np.degrees(about_z))


class TurningPoints:
    """Swings of a noisy angle: a maximum or minimum is confirmed once the angle has come back from
    it by ``swing`` degrees."""

    def __init__(self, swing: float):
        self.swing = swing
        self.direction = 0  # +1 rising towards a maximum, -1 falling, 0 not known yet
        self.high: tuple[float, float] | None = None  # (time, angle)
        self.low: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None  # the latest confirmed turning point

    def update(self, time: float, angle: float) -> tuple[tuple[float, float] | None, tuple[float, float]] | None:
        """Feed one value; when it confirms a turning point: (the one before it or None, the new one)."""
        if self.high is None:
            self.high = self.low = (time, angle)
            return None
        if angle > self.high[1]:
            self.high = (time, angle)
        if angle < self.low[1]:
            self.low = (time, angle)
        if self.direction >= 0 and angle <= self.high[1] - self.swing:
            return self._confirm(self.high, -1, time, angle)
        if self.direction <= 0 and angle >= self.low[1] + self.swing:
            return self._confirm(self.low, +1, time, angle)
        return None

    def _confirm(self, point, direction, time, angle):
        before, self.last, self.direction = self.last, point, direction
        self.high = self.low = (time, angle)
        return before, point


@dataclass
class _HeadTrack:
    recent: dict[str, deque] = field(default_factory=lambda: {"yaw": deque(maxlen=3), "pitch": deque(maxlen=3)})
    swings: dict[str, TurningPoints] = field(default_factory=lambda: {
        "pitch": TurningPoints(NOD_SWING), "yaw": TurningPoints(SHAKE_SWING)})
    moves: dict[str, TurningPoints] = field(default_factory=lambda: {
        "pitch": TurningPoints(NOD_SWING), "yaw": TurningPoints(NOD_SWING)})
    event_end: dict[str, float] = field(default_factory=lambda: {"nod": -np.inf, "shake": -np.inf})
    away: Debouncer = field(default_factory=lambda: Debouncer(3, 5))
    usual: np.ndarray = field(default_factory=lambda: np.zeros((USUAL_FRAMES, 2)))  # (yaw, pitch) ring buffer
    usual_pose: np.ndarray | None = None  # the median of the samples in it
    frames: int = 0


class HeadPoseModel(BaseModel):
    mean_yaw: float = Field(description="degrees; > 0: turned towards the image's right")
    mean_pitch: float = Field(description="degrees; > 0: tilted up")
    mean_roll: float = Field(description="degrees; > 0: tilted clockwise in the image")
    yaw_range: tuple[float, float] = Field(description="5th and 95th percentiles, degrees")
    pitch_range: tuple[float, float]
    movement_deg_per_minute: float = Field(description="degrees of yaw and pitch swings of 6 degrees or more")
    nods: list[tuple[float, float]] = Field(description="(start, end) seconds")
    shakes: list[tuple[float, float]] = Field(description="(start, end) seconds")
    looking_away_seconds: float
    looking_away_share: float = Field(description="of the measured time: yaw over 30 or pitch over 20 degrees "
                                      "from the person's usual direction")
    looking_away: list[tuple[float, float]] = Field(description="(start, end) seconds of episodes")
    measured_seconds: float


class _HeadAccumulator(CueAccumulator):
    def __init__(self):
        self.times: list[float] = []
        self.angles: list[tuple[float, float, float]] = []
        self.movement = 0.0
        self.events: dict[str, list[list[float]]] = {"nod": [], "shake": []}
        self.away = EpisodeLog()

    def add(self, time: float, values: dict) -> None:
        if values.get("yaw") is None:
            return
        self.times.append(time)
        self.angles.append((values["yaw"], values["pitch"], values["roll"]))
        self.movement += values["head_swing"]
        for kind, span in values["head_events"]:
            events = self.events[kind]
            if events and span[0] <= events[-1][1]:
                events[-1][1] = span[1]  # the same gesture going on
            else:
                events.append(list(span))
        self.away.add(values["away_started"], values["looking_away"], time)

    def section(self, frame_dt: float) -> HeadPoseModel | None:
        if not self.times:
            return None
        angles = np.array(self.angles)
        measured = len(self.times) * frame_dt
        away = self.away.summary(frame_dt)
        return HeadPoseModel(
            mean_yaw=float(angles[:, 0].mean()), mean_pitch=float(angles[:, 1].mean()),
            mean_roll=float(angles[:, 2].mean()),
            yaw_range=tuple(map(float, np.percentile(angles[:, 0], [5, 95]))),
            pitch_range=tuple(map(float, np.percentile(angles[:, 1], [5, 95]))),
            movement_deg_per_minute=self.movement / (measured / 60),
            nods=[tuple(e) for e in self.events["nod"]], shakes=[tuple(e) for e in self.events["shake"]],
            looking_away_seconds=away["total_seconds"], looking_away_share=away["total_seconds"] / measured,
            looking_away=away["episodes"], measured_seconds=measured)

    def timeline(self) -> CueTimeline | None:
        if not self.times:
            return None
        return pose_timeline(np.array(self.times), np.array(self.angles), self.away.episodes, self.events["nod"],
                             self.events["shake"])


def pose_timeline(times: np.ndarray, angles: np.ndarray, looking_away, nods, shakes) -> CueTimeline:
    """The head-pose chart of one person: ``angles`` (one row of yaw, pitch, roll degrees per time in
    ``times``) with the (start, end) seconds of looking away, nods and shakes shaded. Made during a run
    from the accumulator, and afterwards from a frame table and its report (``emoscope.plot_head_pose``)."""
    return CueTimeline("head pose", "degrees", times,
                       {"yaw": angles[:, 0], "pitch": angles[:, 1], "roll": angles[:, 2]},
                       spans={"looking away": [tuple(span) for span in looking_away],
                              "nods": [tuple(span) for span in nods], "shakes": [tuple(span) for span in shakes]})


@register_cue
class HeadPose(Cue):
    """Yaw, pitch and roll per face and frame; nods, shakes and looking away as events."""

    name = "head_pose"
    switch = ("blinks", "gaze")  # on whenever the face mesh runs for them (0.3 ms a face on top)
    columns = (("yaw", "value"), ("pitch", "value"), ("roll", "value"), ("looking_away", "flag"),
               ("nod", "flag"), ("shake", "flag"))
    needs = frozenset({MESH})
    report_key = "head_pose"
    title = "head pose"

    def update(self, face: FaceObservation) -> dict:
        pose = None if face.mesh is None else head_pose(face.mesh)
        if pose is None:
            return {}
        yaw, pitch, roll = pose
        track = self.tracks.setdefault(face.track_id, _HeadTrack())
        events, swing = [], 0.0
        for axis, angle, kind in (("pitch", pitch, "nod"), ("yaw", yaw, "shake")):
            track.recent[axis].append(angle)
            smooth = sorted(track.recent[axis])[len(track.recent[axis]) // 2]  # the median of up to 3
            confirmed = track.swings[axis].update(face.time, smooth)
            if confirmed and confirmed[0] is not None and face.time - confirmed[0][0] <= GESTURE_S:
                events.append((kind, (confirmed[0][0], face.time)))
            moved = track.moves[axis].update(face.time, smooth)
            if moved and moved[0] is not None:
                swing += abs(moved[1][1] - moved[0][1])
        if track.frames % USUAL_EVERY == 0:
            samples = track.frames // USUAL_EVERY
            track.usual[samples % USUAL_FRAMES] = yaw, pitch
            track.usual_pose = np.median(track.usual[: samples + 1], axis=0)
        track.frames += 1
        usual_yaw, usual_pitch = track.usual_pose
        away = abs(yaw - usual_yaw) > LOOK_AWAY_YAW or abs(pitch - usual_pitch) > LOOK_AWAY_PITCH
        started = track.away.update(away, face.time)
        flags = {}
        for kind, (start, end) in events:
            flags[kind] = start > track.event_end[kind]  # a new gesture, not the one going on
            track.event_end[kind] = end
        return {"yaw": yaw, "pitch": pitch, "roll": roll, "looking_away": track.away.active and away,
                "away_started": started, "nod": flags.get("nod", False), "shake": flags.get("shake", False),
                "head_events": events, "head_swing": swing}

    def accumulator(self) -> CueAccumulator:
        return _HeadAccumulator()

    def describe(self, section) -> str:
        s = HeadPoseModel.model_validate(section)
        return (f"mean yaw {s.mean_yaw:+.0f}°, pitch {s.mean_pitch:+.0f}°, roll {s.mean_roll:+.0f}°; "
                f"{len(s.nods)} nod(s), {len(s.shakes)} shake(s); looking away {s.looking_away_share:.0%} "
                f"({s.looking_away_seconds:.1f} s); movement {s.movement_deg_per_minute:.0f}°/min")
