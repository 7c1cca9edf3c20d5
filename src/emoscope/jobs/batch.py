"""Batch analysis: many videos and photos into one folder, by the local loop or on Ray (:mod:`ray_engine`).

The items come from a folder, a glob or a manifest CSV (``path`` plus optional ``candidate``,
``question``, ``group`` columns, copied into each report's metadata as ``--meta`` is). Whatever engine
runs them, each item goes through the same functions (:mod:`emoscope.jobs.batch_items`), so the files
are the same:

- a video: what ``emoscope analyze VIDEO`` writes (report JSON/HTML, charts, frame table), through
  :func:`~emoscope.jobs.analyze.run_video_job`;
- a photo: ``<name>.predictions.json``, the report ``emoscope predict PHOTO --out`` writes for that one
  photo plus its metadata and its SHA-256 (what a rerun checks before it skips it);
- ``summary.csv``: one row per item in input order (the local summary's columns; for a photo,
  ``people`` counts faces and ``dominant_emotion`` is the largest face's label), an error row with its
  reason for each item that could not be analysed. A bad item never stops the batch.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from emoscope.errors import DataError, EmoscopeError
from emoscope.files import atomic_output
from emoscope.jobs.batch_items import (KILL_ONCE_ENV, BatchItem, BatchJob, ItemCallback, ItemResult, collect_items,
                                       image_results, video_result)


# -- summary.csv --------------------------------------------------------------------------------------

SUMMARY_FIELDS = ("video", "status", "error", "duration_s", "frames_analysed", "face_visible_share", "people",
                  "dominant_emotion", "blinks_per_minute", "face_touches", "processing_fps", "report")


def write_summary(rows: list[dict], path: Path) -> Path:
    """``summary.csv``: one row per item (:func:`~emoscope.jobs.analyze.summary_row`, ``image_row``)."""
    with atomic_output(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- the local engine --------------------------------------------------------------------------------


def run_local(items: Sequence[BatchItem], job: BatchJob, predictor=None, on_item: ItemCallback | None = None,
              on_progress: Callable[[BatchItem, int, int], None] | None = None, sinks=(),
              chunk_size: int = 16) -> list[ItemResult]:
    """Every item in this process, one after another (photos in chunks); results in item order. A
    webcam is analysed live, like a video."""
    from emoscope.faces import create_photo_detector
    from emoscope.runtime.predictor import shared_predictor

    predictor = predictor or shared_predictor(job.model, job.backend)
    results: dict[str, ItemResult] = {}

    def done(item: BatchItem, result: ItemResult) -> None:
        results[item.name] = result
        if on_item is not None:
            on_item(item, result)

    for item in (i for i in items if i.kind != "image"):
        progress = None if on_progress is None else (lambda d, t, item=item: on_progress(item, d, t))
        done(item, video_result(item, job, predictor, progress, sinks))
    images = [i for i in items if i.kind == "image"]
    if images:
        with create_photo_detector(job.image_detector) as detector:
            for start in range(0, len(images), chunk_size):
                chunk = images[start : start + chunk_size]
                for item, result in zip(chunk, image_results(chunk, job, predictor, detector)):
                    done(item, result)
    return [results[item.name] for item in items]


ENGINES = ("local", "ray")


def run_batch(items: Sequence[BatchItem], job: BatchJob, engine: str = "local", address: str | None = None,
              workers: int | None = None, on_item: ItemCallback | None = None, on_progress=None,
              sinks=(), predictor=None) -> list[ItemResult]:
    """Run ``items`` on ``engine``; more than one item also get ``summary.csv`` (also when interrupted: it
    keeps what finished). A webcam item needs the local engine.

    ``address`` and ``workers`` are the Ray engine's (see :func:`emoscope.jobs.ray_engine.run_ray`);
    ``on_progress`` (frames of the video being analysed), ``sinks`` (live alerts) and ``predictor`` (the
    job's model, already loaded) the local engine's.
    """
    if engine not in ENGINES:
        raise EmoscopeError(f"unknown engine {engine!r} (choose {', '.join(ENGINES)})")
    if not items:
        raise DataError("nothing to analyse: no items")
    if engine == "ray" and any(item.kind == "webcam" for item in items):
        raise EmoscopeError("--engine ray analyses files; a webcam is analysed live, with the local engine")
    job = replace(job, kill_marker=os.environ.get(KILL_ONCE_ENV) or None)
    finished: dict[str, ItemResult] = {}

    def record(item: BatchItem, result: ItemResult) -> None:
        finished[item.name] = result
        if on_item is not None:
            on_item(item, result)

    try:
        if engine == "ray":
            from emoscope.jobs.ray_engine import run_ray

            return run_ray(items, job, address=address, workers=workers, on_item=record)
        return run_local(items, job, predictor, on_item=record, on_progress=on_progress, sinks=sinks)
    finally:
        rows = [finished[item.name].row for item in items if item.name in finished]
        if rows and len(items) > 1:
            write_summary(rows, Path(job.out_dir) / "summary.csv")


# -- `emoscope bench batch` --------------------------------------------------------------------------------


def bench_batch(source: str | Path, job: BatchJob, workers: Sequence[int] = (1, 2)) -> dict:
    """Items/s of the local engine and of Ray with each of ``workers`` on the same items, in one process,
    each run into a fresh folder (nothing reused). Ray is started once, on this machine, before the
    timed runs (its start-up is reported apart); each Ray run includes starting its worker processes
    and loading the model in them, as a real batch does."""
    import tempfile
    import time

    from emoscope.jobs.ray_engine import require_ray

    ray = require_ray()
    items = collect_items(source)
    runs: dict[str, dict] = {}

    def timed(label: str, engine: str, count: int | None = None) -> None:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            results = run_batch(items, replace(job, out_dir=Path(out), resume=False), engine=engine, workers=count)
            seconds = time.perf_counter() - start
        rss = [r.peak_rss_mb for r in results if r.peak_rss_mb is not None]
        runs[label] = {"seconds": round(seconds, 2), "items_per_s": round(len(items) / seconds, 3),
                       "errors": sum(r.row["status"] == "error" for r in results),
                       "worker_peak_rss_mb": max(rss) if rss else None}

    timed("local", "local")
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray_init = time.perf_counter() - start
    try:
        for count in workers:
            timed(f"ray_{count}", "ray", count)
    finally:
        ray.shutdown()
    local = runs["local"]["items_per_s"]
    return {"source": str(source), "items": len(items), "videos": sum(i.kind == "video" for i in items),
            "photos": sum(i.kind == "image" for i in items), "cpus": os.cpu_count(), "model": job.model,
            "ray_init_seconds": round(ray_init, 2), "runs": runs,
            "ratios_vs_local": {label: round(run["items_per_s"] / local, 3) for label, run in runs.items()
                                if label != "local"}}
