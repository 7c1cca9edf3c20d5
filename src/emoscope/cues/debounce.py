"""Episodes from a noisy per-frame yes/no: the state every per-person cue with hysteresis shares
(face touching, panic)."""

from __future__ import annotations


class Debouncer:
    """On after ``enter_frames`` "yes" frames in a row, off after ``exit_frames`` "no" frames in a
    row; a short gap inside an episode does not split it, one stray frame does not start one."""

    def __init__(self, enter_frames: int = 3, exit_frames: int = 5):
        self.enter_frames = enter_frames
        self.exit_frames = exit_frames
        self._streak = 0
        self._quiet = 0
        self._candidate_start: float | None = None
        self.active = False
        self.episodes: list[tuple[float, float]] = []  # (start, last "yes" frame) seconds

    def update(self, yes: bool, time: float) -> float | None:
        """Feed one frame; the episode's start time when this frame confirms a new episode."""
        if yes:
            if self._streak == 0:
                self._candidate_start = time
            self._streak += 1
            self._quiet = 0
            if not self.active and self._streak >= self.enter_frames:
                self.active = True
                self.episodes.append((self._candidate_start, time))
                return self._candidate_start
            if self.active:
                self.episodes[-1] = (self.episodes[-1][0], time)
            return None
        self._streak = 0
        if self.active:
            self._quiet += 1
            if self._quiet >= self.exit_frames:
                self.active = False
        return None


class EpisodeLog:
    """A person's episodes rebuilt from per-frame values for the report: a new one when a frame
    confirms its start, extended while it is active and its condition holds (exit frames after the
    last "on" frame don't count)."""

    def __init__(self):
        self.episodes: list[list[float]] = []

    def add(self, started: float | None, active_and_on: bool, time: float) -> None:
        if started is not None:
            self.episodes.append([started, time])
        elif active_and_on and self.episodes:
            self.episodes[-1][1] = time

    def summary(self, frame_dt: float) -> dict:
        """count, total seconds and (start, end) of episodes; the last frame lasts one frame interval."""
        spans = [(start, end + frame_dt) for start, end in self.episodes]
        return {"count": len(spans), "total_seconds": sum(end - start for start, end in spans), "episodes": spans}
