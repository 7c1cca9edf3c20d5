"""The process that runs video analyses for the web app: started by :class:`emoscope.web.jobs.JobRunner`,
it loads each model once, then analyses one job at a time with :func:`emoscope.apps.analyze.analyze_video`
and reports progress and the outcome over its own pipe (one writer per pipe, so killing this process
to cancel a job can never leave a lock of a shared queue held)."""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

PROGRESS_EVERY_S = 0.25


def serve_jobs(conn: Connection) -> None:
    """Receive task dicts until None; answer ("progress", (done, expected)) while running, then
    ("done", (frames, expected)) or ("failed", message)."""
    import signal

    from emoscope.errors import EmoscopeError
    from emoscope.runtime.predictor import load_predictor

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C on `emoscope serve` is the parent's to handle
    predictors: dict = {}
    while (task := conn.recv()) is not None:
        try:
            if task["model"] not in predictors:
                predictors[task["model"]] = load_predictor(task["model"], backend="fastest")
            conn.send(("done", _analyze(task, predictors[task["model"]], conn)))
        except EmoscopeError as exc:
            conn.send(("failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported in the job, the worker goes on
            conn.send(("failed", f"internal error: {type(exc).__name__}: {exc}"))


def _analyze(task: dict, predictor, conn: Connection) -> tuple[int, int]:
    from emoscope.apps.analyze import analyze_video
    from emoscope.video.pipeline import AnalysisOptions

    last, counts = 0.0, (0, 0)

    def on_progress(done: int, expected: int) -> None:
        nonlocal last, counts
        counts, now = (done, expected), time.monotonic()
        if now - last >= PROGRESS_EVERY_S:
            last = now
            conn.send(("progress", counts))

    analyze_video(task["video"], predictor, task["out_dir"], AnalysisOptions(detector=task["detector"]),
                  sample_fps=task["sample_fps"], max_seconds=task["max_seconds"], metadata=task["metadata"],
                  frames_format=task["frames_format"], on_progress=on_progress, name=task["name"])
    return counts
