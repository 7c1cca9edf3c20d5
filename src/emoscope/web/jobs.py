"""The job runner behind the web app: the job states in the database, and an executor that runs them.

One dispatcher thread hands queued jobs to the executor while it has room (``workers`` at once), writes
their progress and outcome into the database, and has the executor kill a job to cancel it; a job is the
database's, not a client's, so it survives the upload's connection. Its uploaded video stays until the
job has an outcome, so a job the server stops or dies during goes back in the queue with its video (its
partial outputs removed) and runs again after the next start: the analyst uploads nothing again. A job
found ``running`` at start was running when the server died: it is queued again once
(:data:`MAX_RESTARTS`); should it be running at a death again it may be what kills the server, and it
becomes ``interrupted``. Two executors, the same states, files and API:

- :class:`LocalExecutor` (``--engine local``): a bounded pool of spawned worker processes
  (:mod:`emoscope.web.worker`); workers start when a job needs one, so a killed or dead worker's place
  is taken by a fresh process, and a video never blocks the API.
- :class:`emoscope.web.ray_jobs.RayExecutor` (``--engine ray``): one Ray task per job.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from sqlalchemy import func, select

from emoscope.jobs.batch import BatchItem, BatchJob
from emoscope.video.pipeline import AnalysisOptions
from emoscope.web.db import Interview, Job, JobState, utcnow
from emoscope.web.settings import Settings
from emoscope.web.storage import OUTPUT_NAME, Storage

log = logging.getLogger("emoscope.web")

INTERRUPTED_ERROR = "the server stopped during the analysis; upload the video again"
MAX_RESTARTS = 1
"""Times a job found running at start (the server died during it) is queued again."""
RETENTION_EVERY_S = 3600.0

Event = tuple[str, str, object]
"""(job id, kind, value) from an executor: ("progress" | "done", (frames, expected)) or ("failed", error)."""


@dataclass
class _Cancel:
    job_id: str
    done: threading.Event = field(default_factory=threading.Event)


class QueueFull(Exception):
    """More jobs are waiting than the settings allow."""


class JobRunner:
    def __init__(self, settings: Settings, sessions, storage: Storage, on_retention=None):
        self.settings = settings
        self.sessions = sessions
        self.storage = storage
        self.on_retention = on_retention  # called from the dispatcher now and then (data retention)
        self._lock = threading.Lock()
        self.admission = threading.Lock()
        """Held from the queue's check to the new job's commit, so parallel uploads cannot overfill it."""
        self._pending: deque[str] = deque()
        self._cancels: list[_Cancel] = []
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emoscope-jobs", daemon=True)
        if settings.engine == "ray":
            from emoscope.web.ray_jobs import RayExecutor

            self.executor = RayExecutor(settings)
        else:
            self.executor = LocalExecutor(settings.workers)

    # -- called from the API's threads ----------------------------------------------------------------

    def start(self) -> None:
        """Queue again the jobs a dead server left running (see :data:`MAX_RESTARTS`), then run the queue."""
        with self.sessions.begin() as session:
            for job in session.scalars(select(Job).where(Job.state == JobState.running)):
                if job.restarts < MAX_RESTARTS:
                    job.restarts += 1
                    self._requeue(session, job)
                else:
                    self._finish(session, job, JobState.interrupted, INTERRUPTED_ERROR)
            queued = session.scalars(select(Job.id).where(Job.state == JobState.queued)
                                     .order_by(Job.created_at)).all()
        self._pending.extend(queued)
        self._thread.start()

    def stop(self) -> None:
        """Stop the executor; its jobs go back in the queue with their videos, for the next start."""
        self._stopping.set()
        self._wake()
        self._thread.join(timeout=10)
        for job_id in self.executor.stop():
            with self.sessions.begin() as session:
                job = session.get(Job, job_id)
                if job is not None and job.state == JobState.running:
                    self._requeue(session, job)

    def check_room(self, session) -> None:
        """Raise :class:`QueueFull` when no more jobs may wait (checked before an upload is read)."""
        waiting = session.scalar(select(func.count()).select_from(Job).where(Job.state == JobState.queued))
        if waiting >= self.settings.max_queue:
            raise QueueFull

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._pending.append(job_id)
        self._wake()

    def cancel(self, job_id: str, timeout: float = 30.0) -> None:
        """Stop a queued or running job and mark it cancelled (returns once it is)."""
        request = _Cancel(job_id)
        with self._lock:
            self._cancels.append(request)
        self._wake()
        request.done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.executor.alive

    # -- the dispatcher thread ------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._wake_lock:  # API threads wake the dispatcher concurrently; one writer at a time
            self._wake_w.send(b"")

    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping.is_set():
            try:
                if self.on_retention is not None and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + RETENTION_EVERY_S
                    self.on_retention()
                self._handle_cancels()
                self._dispatch()
                events = self.executor.wait(self._wake_r, timeout=5)
                while self._wake_r.poll():
                    self._wake_r.recv()
                for event in events:
                    self._record(*event)
            except Exception:  # the dispatcher must outlive a failed database write
                log.exception("job dispatcher error")
                time.sleep(1)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if not self._pending or not self.executor.has_room():
                    return
                job_id = self._pending.popleft()  # only this thread takes from the queue
            with self.sessions.begin() as session:
                job = session.get(Job, job_id)
                if job is None or job.state != JobState.queued:
                    continue  # cancelled or deleted while waiting
                job.state, job.started_at = JobState.running, utcnow()
                item, batch_job = self._task(job)
            try:
                self.executor.launch(job_id, item, batch_job)
            except Exception as exc:  # e.g. the Ray cluster went away: the job must not stay running
                log.exception("could not start job %s", job_id)
                self._end(job_id, JobState.failed, f"could not start the analysis: {type(exc).__name__}")

    def _task(self, job: Job) -> tuple[BatchItem, BatchJob]:
        """What any executor analyses for a job: the interview's video into its folder, named OUTPUT_NAME."""
        interview = job.interview
        item = BatchItem(str(self.storage.video(interview.candidate_id, interview.id)), "video", OUTPUT_NAME,
                         {"candidate": interview.candidate.name, "question": interview.question,
                          "interview": interview.id})
        return item, BatchJob(out_dir=self.storage.interview_dir(interview.candidate_id, interview.id),
                              model=job.model, options=AnalysisOptions(detector=self.settings.detector,
                                                                       blendshapes=self.settings.blendshapes),
                              sample_fps=self.settings.sample_fps, max_seconds=self.settings.max_seconds,
                              frames_format=self.settings.frames_format)

    def _record(self, job_id: str, kind: str, value) -> None:
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is None or job.state != JobState.running:
                return  # deleted, or cancelled, while its last messages were on their way
            if kind in ("progress", "done"):
                job.frames_done, job.frames_expected = value
            if kind == "done":
                self._finish(session, job, JobState.done)
            elif kind == "failed":
                self._finish(session, job, JobState.failed, value)

    def _handle_cancels(self) -> None:
        with self._lock:
            cancels, self._cancels = self._cancels, []
        for request in cancels:
            if self.executor.kill(request.job_id):  # it was running: its outputs are removed
                self._end(request.job_id, JobState.cancelled)
            else:
                with self.sessions.begin() as session:
                    job = session.get(Job, request.job_id)
                    if job is not None and job.state == JobState.queued:
                        self._finish(session, job, JobState.cancelled)
            request.done.set()

    def _end(self, job_id: str, state: JobState, error: str | None = None) -> None:
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is not None:
                self._finish(session, job, state, error)

    def _requeue(self, session, job: Job) -> None:
        """Back to the queue as uploaded: the video kept, the partial outputs and the progress gone."""
        interview: Interview = job.interview
        if not self.storage.video(interview.candidate_id, interview.id).is_file():
            self._finish(session, job, JobState.interrupted, INTERRUPTED_ERROR)
            return  # nothing to analyse again (a server before revision 0003 deleted it)
        self.storage.clear_outputs(interview.candidate_id, interview.id)
        job.state, job.started_at, job.frames_done, job.frames_expected = JobState.queued, None, 0, 0

    def _finish(self, session, job: Job, state: JobState, error: str | None = None) -> None:
        """Record the outcome; every outcome but done removes partial outputs, and every outcome removes
        the uploaded video unless videos are kept (interview videos are personal data)."""
        job.state, job.error, job.finished_at = state, error, utcnow()
        interview: Interview = job.interview
        if state != JobState.done:
            self.storage.clear_outputs(interview.candidate_id, interview.id)
        if not self.settings.keep_videos:
            self.storage.video(interview.candidate_id, interview.id).unlink(missing_ok=True)


# -- the local executor ---------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: Connection
    job_id: str | None = None


class LocalExecutor:
    """At most ``workers`` spawned processes (no state shared with the server), each analysing one job at
    a time; they start on first use, so a server that only answers the API never pays for them."""

    def __init__(self, workers: int):
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    @property
    def alive(self) -> bool:
        return all(w.process.is_alive() for w in self._workers)

    def has_room(self) -> bool:
        return any(w.job_id is None for w in self._workers) or len(self._workers) < self.workers

    def launch(self, job_id: str, item: BatchItem, job: BatchJob) -> None:
        worker = next((w for w in self._workers if w.job_id is None), None) or self._spawn()
        worker.job_id = job_id  # first: should the send fail, the dead worker's job is failed, not lost
        worker.conn.send((item, job))

    def wait(self, wake: Connection, timeout: float) -> list[Event]:
        busy = [w for w in self._workers if w.job_id is not None]
        ready = wait([wake, *(w.conn for w in busy), *(w.process.sentinel for w in self._workers)], timeout=timeout)
        events: list[Event] = []
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                events.extend(self._receive(worker))
        return events

    def kill(self, job_id: str) -> bool:
        worker = next((w for w in self._workers if w.job_id == job_id), None)
        if worker is None:
            return False
        worker.process.kill()  # an analysis has no safe point to stop at
        self._remove(worker)
        return True

    def stop(self) -> list[str]:
        running = [w.job_id for w in self._workers if w.job_id is not None]
        for worker in list(self._workers):
            worker.process.kill()
            self._remove(worker)
        return running

    def _spawn(self) -> _Worker:
        from emoscope.web.worker import serve_jobs

        parent, child = self._context.Pipe()
        process = self._context.Process(target=serve_jobs, args=(child,), name="emoscope-analysis", daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._workers.append(worker)
        return worker

    def _receive(self, worker: _Worker) -> list[Event]:
        events: list[Event] = []
        try:
            while worker.conn.poll():
                kind, value = worker.conn.recv()
                events.append((worker.job_id, kind, value))
                if kind != "progress":
                    worker.job_id = None  # the worker is idle again
        except (EOFError, OSError):  # the process died: its pipe closed
            pass
        if not worker.process.is_alive():
            if worker.job_id is not None:
                events.append((worker.job_id, "failed", f"the analysis process stopped unexpectedly (exit code "
                                                        f"{worker.process.exitcode})"))
            self._remove(worker)
        return events

    def _remove(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        worker.conn.close()
        self._workers.remove(worker)  # a fresh one starts when a job needs it
