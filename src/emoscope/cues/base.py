"""The cue protocol: what a per-face measurement (blinks, gaze, touching, panic, ...) declares and does.

A cue is one class in one file, registered with :func:`register_cue`. The video loop calls
:meth:`Cue.update` for every tracked face of every frame and stores what it returns in the face's
``data`` dict (like supervision's ``Detections.data``); the frame table gets the cue's
:attr:`Cue.columns`; the report builder feeds each person's values to one :meth:`Cue.accumulator`
and puts its section into the person's report under :attr:`Cue.report_key`, and the HTML page
shows it as a row titled :attr:`Cue.title`. A cue's options (its switch, thresholds) are declared in
its :attr:`Cue.Options` with their defaults, validation and help; they become options of the video
loop (``AnalysisOptions(touches=False)``) and, where marked, flags of `emoscope analyze`. Nothing
else needs to know the cue exists.

Every registered cue is built for every video, so a switched-off cue still has its columns (empty)
and its report section (``None``: "not measured"), and tables keep one shape across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

COLUMN_KINDS = ("id", "time", "value", "text", "flag")
"""Frame-table column kinds: id (integer), time, value (a measurement), text, flag (0/1)."""

MESH, HANDS = "mesh", "hands"
"""Perception stages a cue can need: face-mesh landmarks per face, hand landmarks per frame."""


class CueOptions(BaseModel):
    """A cue's options: subclass it with one :func:`cue_option` per option. Option names are shared by
    all cues (the loop's options are flat, as reports save them), so each name belongs to one cue."""

    model_config = ConfigDict(extra="forbid")


def cue_option(default: Any, help: str, flag: bool = False, **constraints: Any) -> Any:
    """One option of a cue: its default, its help (also the CLI's), pydantic's ``constraints`` (``ge``,
    ``le``...) and, with ``flag``, a flag of `emoscope analyze` named after it (``--name`` and, for a
    switch, ``--no-name``). A list default is copied for each options object."""
    if isinstance(default, list):
        return Field(default_factory=lambda: list(default), description=help, json_schema_extra={"flag": flag},
                     **constraints)
    return Field(default, description=help, json_schema_extra={"flag": flag}, **constraints)


def is_flag(field: FieldInfo) -> bool:
    return bool((field.json_schema_extra or {}).get("flag"))


@dataclass(frozen=True)
class FaceObservation:
    """What the loop knows of one tracked face in one frame, handed to every cue."""

    track_id: int
    time: float
    box: np.ndarray  # x1, y1, x2, y2 pixels
    smoothed: np.ndarray  # EMA of the classifier's probabilities over the track
    mesh: np.ndarray | None  # (478, 2) face-mesh landmarks of this face; None when not run or not found
    hands: np.ndarray  # (N, 21, 2) hand landmarks in the frame; empty when hands are not tracked


@dataclass(frozen=True)
class CueTimeline:
    """A cue's chart: lines over time, one per name in ``values`` (each as long as ``times``)."""

    title: str
    unit: str
    times: np.ndarray
    values: dict[str, np.ndarray]
    spans: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (start, end) of events, shaded


class CueAccumulator:
    """Accumulates one person's values of one cue over the video, then gives its report section."""

    def add(self, time: float, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def section(self, frame_dt: float) -> Any:
        """The person's report section (a pydantic model, a dict or None); the last frame lasts ``frame_dt``."""
        raise NotImplementedError

    def timeline(self) -> CueTimeline | None:
        """Series for a chart of the person's values over time in the HTML report (None: no chart)."""
        return None


class Cue:
    """Base class of the cue protocol. ``options`` is the loop's options object (attributes are read
    by name, so cues need not import the video layer), of which :attr:`settings` holds this cue's own
    :attr:`Options`; ``classes`` are the expression model's labels."""

    name: ClassVar[str]
    """Registry name; also the boolean option that switches the cue on (when it has one; absent: on)."""
    Options: ClassVar[type[CueOptions]] = CueOptions
    """Its options (none by default); read in :meth:`__init__` from the loop's ``options`` by name."""
    switch: ClassVar[tuple[str, ...]] = ()
    """Options attributes that switch it on instead of :attr:`name` (on when any of them is): a cue
    that refines another cue's measurement, or rides on perception other cues pay for, follows their
    switches, so switching those cues off still switches that perception off."""
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(name, kind) of the frame-table columns it fills from the values :meth:`update` returns."""
    needs: ClassVar[frozenset[str]] = frozenset()
    """Perception the loop must run for it: :data:`MESH`, :data:`HANDS`."""
    report_key: ClassVar[str]
    """Where its section goes in each person's report."""
    title: ClassVar[str]
    """Its row in the HTML report."""
    not_measured: ClassVar[str] = "not measured"

    def __init__(self, options, classes: Sequence[str]):
        # its own options, typed (an options object made before this cue was registered lacks them: defaults)
        self.settings = self.Options(**{name: getattr(options, name) for name in self.Options.model_fields
                                        if hasattr(options, name)})
        self.enabled = any(bool(getattr(options, name, True)) for name in self.switch or (self.name,))
        self.tracks: dict[int, Any] = {}  # per-track state (a detector, a debouncer), dropped by forget

    def update(self, face: FaceObservation) -> dict[str, Any]:
        """This face's values in this frame (called in frame order, per track)."""
        raise NotImplementedError

    def end_frame(self, time: float, faces: list[dict[str, Any]]) -> list[dict]:
        """After every face of a frame was updated: events raised at this frame (e.g. alerts)."""
        return []

    def forget(self, track_id: int) -> None:
        """The track is gone: drop its state."""
        self.tracks.pop(track_id, None)

    def accumulator(self) -> CueAccumulator:
        raise NotImplementedError

    def describe(self, section: Any) -> str:
        """The text of its HTML row for a section made by its accumulator."""
        raise NotImplementedError

    def text(self, section: Any) -> str:
        return self.not_measured if section is None else self.describe(section)


_CUES: dict[str, type[Cue]] = {}


def register_cue(cls: type[Cue]) -> type[Cue]:
    """Class decorator: adds a cue to every analysis, after the cues registered before it."""
    if cls.name in _CUES:
        raise ValueError(f"cue {cls.name!r} registered twice")
    taken = set(option_fields()) & set(cls.Options.model_fields)
    if taken:
        raise ValueError(f"cue {cls.name!r}: option(s) {', '.join(sorted(taken))} belong to another cue")
    for _, kind in cls.columns:
        if kind not in COLUMN_KINDS:
            raise ValueError(f"cue {cls.name!r}: unknown column kind {kind!r}")
    _CUES[cls.name] = cls
    return cls


def unregister_cue(name: str) -> None:
    _CUES.pop(name, None)


def registered_cues() -> list[type[Cue]]:
    """Every registered cue. The built-in ones are always among them: importing this module first runs
    the package's ``__init__``, which imports (and so registers) them in its order."""
    return list(_CUES.values())


def option_fields() -> dict[str, FieldInfo]:
    """Every registered cue's options, in registration order."""
    return {name: field for cls in _CUES.values() for name, field in cls.Options.model_fields.items()}


def option_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (cue options by name) checked by their cues, every registered cue's defaults filled in;
    a bad value raises pydantic's ValidationError naming the option, a name no cue has one for too."""
    remaining = dict(values)
    checked: dict[str, Any] = {}
    for cls in _CUES.values():
        mine = {name: remaining.pop(name) for name in list(remaining) if name in cls.Options.model_fields}
        checked.update(cls.Options(**mine).model_dump())
    if remaining:
        CueOptions(**remaining)  # raises: extra inputs are not permitted, naming each
    return checked


def create_cues(options, classes: Sequence[str]) -> list[Cue]:
    """One instance of every registered cue for one video (cues keep per-track state)."""
    return [cls(options, classes) for cls in registered_cues()]
