"""Panic in video: which outputs make the panic score, a crowd view, and alerts.

Per person, the score goes through a :class:`~emoscope.cues.debounce.Debouncer` (enter after N
frames above the threshold, leave after M below) in the analysis loop.

What "panic" means is defined once, in :data:`emoscope.data.labels.PANIC_CLASSES` (default: fear).
It is read from a facial expression only — posed or suppressed expressions fool it, and it has no
physiological signal — so treat an alert as "look at this", not as a diagnosis.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from emoscope.data.labels import PANIC_CLASSES, canonical_name
from emoscope.errors import EmoscopeError

log = logging.getLogger("emoscope.panic")


def panic_columns(classes: Sequence[str], panic_classes: Sequence[str] = PANIC_CLASSES) -> list[int]:
    """Columns of a model's output that add up to the panic probability.

    A binary panic model (classes calm, panic) gives its own column; an expression model gives the
    sum of its panic classes' probabilities.
    """
    if list(classes) == ["calm", "panic"]:
        return [1]
    wanted = {canonical_name(c) for c in panic_classes}
    columns = [i for i, c in enumerate(classes) if c in wanted]
    if not columns:
        raise EmoscopeError(f"the model's classes ({', '.join(classes)}) include none of the panic classes "
                            f"({', '.join(sorted(wanted))})")
    return columns


@dataclass
class CrowdAlert:
    time: float
    faces: int
    in_panic: int

    @property
    def share(self) -> float:
        return self.in_panic / self.faces if self.faces else 0.0

    def as_dict(self) -> dict:
        return {"event": "crowd_panic", "time": round(self.time, 3), "faces": self.faces,
                "in_panic": self.in_panic, "share": round(self.share, 3)}


@dataclass
class CrowdMonitor:
    """Raises an alert when the share of visible faces in panic reaches ``level`` (with at least
    ``min_faces`` faces in view), then stays quiet for ``cooldown_s`` seconds."""

    level: float = 0.3
    min_faces: int = 1
    cooldown_s: float = 10.0
    alerts: list[CrowdAlert] = field(default_factory=list)

    def update(self, time: float, faces: int, in_panic: int) -> CrowdAlert | None:
        if faces < self.min_faces or in_panic / max(faces, 1) < self.level:
            return None
        if self.alerts and time - self.alerts[-1].time < self.cooldown_s:
            return None
        alert = CrowdAlert(time, faces, in_panic)
        self.alerts.append(alert)
        return alert


class AlertSender:
    """Logs alerts and, with a webhook URL, POSTs them as JSON from a background thread.

    The video loop only puts the alert on a queue: a slow or dead webhook never stalls it. When the
    queue is full, the alert is logged as dropped instead of waiting.
    """

    def __init__(self, webhook_url: str | None = None, timeout: float = 2.0, max_pending: int = 100):
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise EmoscopeError(f"webhook must be an http(s) URL, got {webhook_url!r}")
        self.webhook_url = webhook_url
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = None
        if webhook_url:
            self._thread = threading.Thread(target=self._deliver, name="emoscope-webhook", daemon=True)
            self._thread.start()

    def send(self, alert: dict) -> None:
        log.warning("panic alert: %s", json.dumps(alert))
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            log.warning("webhook queue full; alert dropped")

    def _deliver(self) -> None:
        while (alert := self._queue.get()) is not None:
            request = urllib.request.Request(self.webhook_url, data=json.dumps(alert).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):
                    self.delivered += 1
            except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
                self.failed += 1
                log.warning("webhook %s failed: %s", self.webhook_url, exc)

    def close(self, wait_s: float = 5.0) -> None:
        """Deliver what is queued (waiting at most ``wait_s``), then stop the thread."""
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=wait_s)
            except queue.Full:
                pass  # the thread is a daemon: it goes with the process
            self._thread.join(wait_s)
            self._thread = None


def panic_scores(probs: np.ndarray, columns: list[int]) -> np.ndarray:
    return np.asarray(probs)[..., columns].sum(axis=-1)
