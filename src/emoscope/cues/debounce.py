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
