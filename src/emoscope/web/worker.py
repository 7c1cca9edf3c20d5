"""What runs a web job's analysis, whichever executor runs it: :class:`Progress` and :func:`outcome`,
shared by the local worker processes (:func:`serve_jobs`, started by
:class:`emoscope.web.jobs.LocalExecutor`) and the Ray tasks (:mod:`emoscope.web.ray_jobs`); both analyse
with :func:`emoscope.jobs.batch.video_result`, so they write the same files.

A local worker loads each model once, then analyses one job at a time and reports progress and the
outcome over its own pipe (one writer per pipe, so killing this process to cancel a job can never leave
a lock of a shared queue held)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from emoscope.jobs.batch import BatchItem

PROGRESS_EVERY_S = 0.25


class Progress:
    """An analysis's ``on_progress``: keeps the latest (done, expected) and passes it to ``send`` at most
    every :data:`PROGRESS_EVERY_S` (a database write per frame would be the bottleneck)."""

    def __init__(self, send: Callable[[tuple[int, int]], None]):
        self.send = send
        self.counts = (0, 0)
        self._last = 0.0

    def __call__(self, done: int, expected: int) -> None:
        self.counts, now = (done, expected), time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self.send(self.counts)


@contextlib.contextmanager
def in_video_folder(item: BatchItem) -> Iterator[BatchItem]:
    """The item with its video named relative to the video's folder, this process working in that folder
    meanwhile: the report (its ``video.source``) and any error name the video by its bare name, never by
    the server's path to it, which an analyst must not see. One analysis at a time per process."""
    video = Path(item.path)
    with contextlib.chdir(video.parent):
        yield dataclasses.replace(item, path=video.name)


def outcome(row: dict, counts: tuple[int, int]) -> tuple[str, object]:
    """A finished analysis's message: ("done", (frames, expected)) or ("failed", its one-line error)."""
    return ("failed", row["error"]) if row["status"] == "error" else ("done", counts)


def serve_jobs(conn: Connection) -> None:
    """Receive (BatchItem, BatchJob) pairs until None; answer ("progress", (done, expected)) while
    running, then :func:`outcome`."""
    import signal

    from emoscope.errors import EmoscopeError
    from emoscope.jobs.batch import video_result
    from emoscope.jobs.memory import limit_malloc_arenas
    from emoscope.runtime.predictor import shared_predictor

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C on `emoscope serve` is the parent's to handle
    limit_malloc_arenas()  # a worker analyses job after job
    while (task := conn.recv()) is not None:
        item, job = task
        try:
            predictor = shared_predictor(job.model, job.backend)
            progress = Progress(lambda counts: conn.send(("progress", counts)))
            with in_video_folder(item) as local:
                result = video_result(local, job, predictor, on_progress=progress)
            conn.send(outcome(result.row, progress.counts))
        except EmoscopeError as exc:  # the model: video errors are in the result's row
            conn.send(("failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported in the job, the worker goes on
            conn.send(("failed", f"internal error: {type(exc).__name__}: {exc}"))
