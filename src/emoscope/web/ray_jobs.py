"""The Ray executor of the web app's jobs (``emoscope serve --engine ray``): each job is one Ray task
(:func:`emoscope.jobs.ray_engine.video_task`, as ``analyze --engine ray`` runs a video), at most
``workers`` at once, writing into the interview's folder as the local workers do (so on a cluster the
data folder must be on storage every node mounts at the same path).

- Progress: the task puts (job id, counts) into one ``ray.util.queue.Queue`` (an actor), which the
  dispatcher drains when it polls.
- Cancel: ``ray.cancel(ref, force=True)`` kills the task's worker process.
- A worker that dies is replaced by Ray and the task run again (``MAX_RETRIES``); once those are used
  up, the job fails with the Ray error's last line.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import replace
from functools import partial
from multiprocessing.connection import Connection, wait

from emoscope.errors import EmoscopeError
from emoscope.jobs.batch import KILL_ONCE_ENV, BatchItem, BatchJob
from emoscope.jobs.ray_engine import error_line, init_ray, require_ray, video_task, video_task_options
from emoscope.web.settings import Settings
from emoscope.web.worker import Progress, in_video_folder, outcome

CPUS_PER_JOB = 1
POLL_S = 0.25  # how often running tasks and their progress are looked at
CANCEL_WAIT_S = 30.0  # for a cancelled task's worker to be gone before its partial files are removed


def connect(address: str | None, workers: int) -> bool:
    """Connect to the Ray at ``address`` (``auto``, ``ray://host:10001``), or start a local one with a CPU
    per worker; reuse one this process already has. True when this call started or connected it."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    try:
        init_ray(ray, address, workers * CPUS_PER_JOB)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError ... from ray.init
        raise EmoscopeError(f"cannot {'connect to Ray at ' + address if address else 'start Ray'}: "
                            f"{error_line(exc)}") from None
    if threading.current_thread() is threading.main_thread():
        # Ray's handler would exit 15 once uvicorn has shut down cleanly (uvicorn re-raises the signal);
        # Ray stops at exit anyway
        signal.signal(signal.SIGTERM, previous)
    return True


def _report(queue, job_id: str, counts: tuple[int, int]) -> None:
    queue.put_nowait((job_id, counts))  # waits for the actor: this progress is in before the task ends


def _analyse(item: BatchItem, job: BatchJob, threads: int, progress: Progress) -> tuple[dict, tuple[int, int]]:
    """In a Ray worker: the video's summary row and its last progress counts."""
    with in_video_folder(item) as local:
        row = video_task(local, job, threads, on_progress=progress).row
    return row, progress.counts


class RayExecutor:
    def __init__(self, settings: Settings):
        import os

        from ray.util.queue import Queue

        self.ray = require_ray()
        self.workers = settings.workers
        self._owns_ray = connect(settings.ray_address, settings.workers)
        self._queue = Queue(actor_options={"num_cpus": 0})  # it must never wait for a CPU a job holds
        self._task = self.ray.remote(_analyse).options(**video_task_options(CPUS_PER_JOB))
        self._kill_marker = os.environ.get(KILL_ONCE_ENV) or None  # the test hook, as `analyze` reads it
        self._running: dict[str, object] = {}  # job id -> ObjectRef

    @property
    def alive(self) -> bool:
        return self.ray.is_initialized()

    def has_room(self) -> bool:
        return len(self._running) < self.workers

    def launch(self, job_id: str, item: BatchItem, job: BatchJob) -> None:
        progress = Progress(partial(_report, self._queue, job_id))
        self._running[job_id] = self._task.remote(item, replace(job, kill_marker=self._kill_marker), CPUS_PER_JOB,
                                                  progress)

    def wait(self, wake: Connection, timeout: float) -> list:
        if not self._running:
            wait([wake], timeout=timeout)
            return []
        # finished tasks first, then the queue: whatever a task reported before it ended is in by now
        ready, _ = self.ray.wait(list(self._running.values()), num_returns=len(self._running), timeout=0)
        events = [(job_id, "progress", counts)
                  for job_id, counts in self._queue.get_nowait_batch(self._queue.qsize())]
        finished = {ref: job_id for job_id, ref in self._running.items() if ref in ready}
        for ref, job_id in finished.items():
            del self._running[job_id]
            try:
                events.append((job_id, *outcome(*self.ray.get(ref))))
            except Exception as exc:  # noqa: BLE001 - ray.exceptions.RayError: retries used up, or the task raised
                events.append((job_id, "failed", f"the analysis's Ray worker failed: {error_line(exc)}"))
        if not events:
            wait([wake], timeout=min(timeout, POLL_S))
        return events

    def kill(self, job_id: str) -> bool:
        ref = self._running.pop(job_id, None)
        if ref is None:
            return False
        self._cancel([ref])
        return True

    def stop(self) -> list[str]:
        running = list(self._running)
        self._cancel(list(self._running.values()))
        self._running.clear()
        self._queue.shutdown()
        if self._owns_ray:
            self.ray.shutdown()
        return running

    def _cancel(self, refs: list) -> None:
        """Kill the tasks' workers and wait until Ray reports them ended, so no worker writes on."""
        if not refs:
            return
        for ref in refs:
            self.ray.cancel(ref, force=True)
        self.ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_S)
