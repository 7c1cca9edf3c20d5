"""The bounded pool of analysis processes behind the web app, and the job states in the database.

One dispatcher thread owns the worker processes: it hands queued jobs to idle workers, writes their
progress and outcome into the database, and kills a worker to cancel its job; workers start when a
job needs one, so a killed or dead worker's place is taken by a fresh process. Analyses run in separate processes (spawned, so no state is shared with
the server), so a video never blocks the API; a job is the database's, not a client's, so it survives
the upload's connection. Stopping marks running jobs ``interrupted``; so does the next start for jobs
a crashed server left ``running``, and it runs the ``queued`` ones.
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

from emoscope.web.db import Interview, Job, JobState, utcnow
from emoscope.web.settings import Settings
from emoscope.web.storage import OUTPUT_NAME, Storage

log = logging.getLogger("emoscope.web")

INTERRUPTED_ERROR = "the server stopped during the analysis; upload the video again"
RETENTION_EVERY_S = 3600.0


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: Connection
    job_id: str | None = None


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
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._pending: deque[str] = deque()
        self._cancels: list[_Cancel] = []
        self._workers: list[_Worker] = []
        self._wake_r, self._wake_w = self._context.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emoscope-jobs", daemon=True)

    # -- called from the API's threads ----------------------------------------------------------------

    def start(self) -> None:
        with self.sessions.begin() as session:
            for job in session.scalars(select(Job).where(Job.state == JobState.running)):
                self._finish(session, job, JobState.interrupted, INTERRUPTED_ERROR)
            queued = session.scalars(select(Job.id).where(Job.state == JobState.queued)
                                     .order_by(Job.created_at)).all()
        self._pending.extend(queued)
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers; their jobs become interrupted (as on the next start after a crash)."""
        self._stopping.set()
        self._wake()
        self._thread.join(timeout=10)
        for worker in list(self._workers):
            worker.process.kill()
            self._replace(worker, INTERRUPTED_ERROR, JobState.interrupted)

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
        return self._thread.is_alive() and all(w.process.is_alive() for w in self._workers)

    # -- the dispatcher thread ------------------------------------------------------------------------

    def _wake(self) -> None:
        with self._wake_lock:  # API threads wake the dispatcher concurrently; one writer at a time
            self._wake_w.send(b"")

    def _spawn(self) -> _Worker:
        from emoscope.web.worker import serve_jobs

        parent, child = self._context.Pipe()
        process = self._context.Process(target=serve_jobs, args=(child,), name="emoscope-analysis", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping.is_set():
            try:
                if self.on_retention is not None and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + RETENTION_EVERY_S
                    self.on_retention()
                self._handle_cancels()
                self._dispatch()
                busy = [w for w in self._workers if w.job_id is not None]
                ready = wait([self._wake_r, *(w.conn for w in busy), *(w.process.sentinel for w in self._workers)],
                             timeout=5)
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv()
                for worker in list(self._workers):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        self._receive(worker)
            except Exception:  # the dispatcher must outlive a failed database write
                log.exception("job dispatcher error")
                time.sleep(1)

    def _idle_worker(self) -> _Worker | None:
        """An idle worker, started when fewer run than allowed (workers start on first use: a server
        that only answers the API never pays for them)."""
        worker = next((w for w in self._workers if w.job_id is None), None)
        if worker is None and len(self._workers) < self.settings.workers:
            worker = self._spawn()
            self._workers.append(worker)
        return worker

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
            worker = self._idle_worker()
            if worker is None:
                return
            with self._lock:  # only this thread takes from the queue: it still holds a job
                job_id = self._pending.popleft()
            with self.sessions.begin() as session:
                job = session.get(Job, job_id)
                if job is None or job.state != JobState.queued:
                    continue  # cancelled or deleted while waiting
                interview = job.interview
                job.state, job.started_at = JobState.running, utcnow()
                task = {
                    "video": str(self.storage.video(interview.candidate_id, interview.id)),
                    "out_dir": str(self.storage.interview_dir(interview.candidate_id, interview.id)),
                    "name": OUTPUT_NAME, "model": job.model, "detector": self.settings.detector,
                    "sample_fps": self.settings.sample_fps, "max_seconds": self.settings.max_seconds,
                    "frames_format": self.settings.frames_format,
                    "metadata": {"candidate": interview.candidate.name, "question": interview.question,
                                 "interview": interview.id},
                }
            worker.job_id = job_id  # first: should the send fail, the dead worker's job is failed, not lost
            worker.conn.send(task)

    def _receive(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                kind, value = worker.conn.recv()
                with self.sessions.begin() as session:
                    job = session.get(Job, worker.job_id)  # None: deleted meanwhile, nothing to record
                    if kind == "progress":
                        if job is not None:
                            job.frames_done, job.frames_expected = value
                        continue
                    if job is not None and kind == "done":
                        job.frames_done, job.frames_expected = value
                        self._finish(session, job, JobState.done)
                    elif job is not None:
                        self._finish(session, job, JobState.failed, value)
                worker.job_id = None  # the worker is idle again
        except (EOFError, OSError):  # the process died: its pipe closed
            pass
        if not worker.process.is_alive():
            self._replace(worker, f"the analysis process stopped unexpectedly (exit code "
                                  f"{worker.process.exitcode})")

    def _replace(self, worker: _Worker, error: str | None, state: JobState = JobState.failed) -> None:
        worker.process.join(timeout=5)
        worker.conn.close()
        if worker.job_id is not None:
            with self.sessions.begin() as session:
                job = session.get(Job, worker.job_id)
                if job is not None:
                    self._finish(session, job, state, error)
        self._workers.remove(worker)  # a fresh one starts when a job needs it

    def _handle_cancels(self) -> None:
        with self._lock:
            cancels, self._cancels = self._cancels, []
        for request in cancels:
            worker = next((w for w in self._workers if w.job_id == request.job_id), None)
            if worker is not None:
                worker.process.kill()  # an analysis has no safe point to stop at; its outputs are removed
                self._replace(worker, None, JobState.cancelled)
            else:
                with self.sessions.begin() as session:
                    job = session.get(Job, request.job_id)
                    if job is not None and job.state == JobState.queued:
                        self._finish(session, job, JobState.cancelled)
            request.done.set()

    def _finish(self, session, job: Job, state: JobState, error: str | None = None) -> None:
        """Record the outcome; every outcome but done removes partial outputs, and every outcome removes
        the uploaded video unless videos are kept (interview videos are personal data)."""
        job.state, job.error, job.finished_at = state, error, utcnow()
        interview: Interview = job.interview
        if state != JobState.done:
            self.storage.clear_outputs(interview.candidate_id, interview.id)
        if not self.settings.keep_videos:
            self.storage.video(interview.candidate_id, interview.id).unlink(missing_ok=True)
