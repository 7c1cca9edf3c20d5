"""The Ray engine of batch analysis (``emoscope analyze ... --engine ray``): the same per-item functions
as the local loop (:mod:`emoscope.jobs.batch_items`), run by Ray workers.

- Videos are whole tasks: one Ray task per video (``max_retries``: a worker that dies is replaced and
  the video analysed again), at most ``workers`` in flight, each streaming its video through
  :func:`~emoscope.jobs.analyze.run_video_job` as the local engine does.
- Photos go through Ray Data ``map_batches`` with a pool of ``workers`` actors; each actor loads the
  face detector and the model once and keeps them for every batch it is given (Ray Data restarts a
  dead actor and retries its batch, up to ``MAX_RETRIES`` times).
- Every worker reserves ``cpus_per_worker`` CPUs and a stated amount of memory (Ray's ``memory``
  resource: the scheduler places no more workers on a node than its memory holds); ONNX Runtime,
  which ignores ``OMP_NUM_THREADS``, gets ``intra_op_num_threads`` = its CPUs, and torch and OpenCV
  the same, so ``workers`` workers on a node never oversubscribe its cores.

Workers write straight into the output folder, so on a cluster it (and the inputs) must be on storage
every node mounts at the same path; only summary rows travel back to the driver.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from collections.abc import Sequence
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.jobs.analyze import summary_row
from emoscope.jobs.batch_items import BatchItem, BatchJob, ItemCallback, ItemResult, image_results, video_result
from emoscope.jobs.memory import peak_rss_mb

INSTALL_HINT = "--engine ray needs Ray: pip install 'emoscope[ray]' (make install includes it)"

MAX_RETRIES = 3
"""Times Ray reruns an item (a video task, a batch of photos) whose worker died."""

VIDEO_TASK_MEMORY = 1536 * 2**20
"""Memory reserved per video task: the full report (face mesh, hands, ONNX model, decoder) peaks at
about 0.6 GB whatever the video's length (docs/speed.md: 625 MB over a 60-minute video); the rest is
headroom for large frames (4K decodes at 25 MB a frame)."""

IMAGE_ACTOR_MEMORY = 1024 * 2**20
"""Memory reserved per photo actor: detector and model (about 0.3 GB) and one batch of decoded photos
(``IMAGE_BATCH`` photos, each capped at ``emoscope.faces.MAX_PIXELS``)."""

IMAGE_BATCH = 16  # photos per actor call: one classifier batch, as `emoscope predict` chunks them


class ClusterGone(EmoscopeError):
    """The Ray cluster's GCS stopped answering mid-batch."""


def require_ray():
    """The ``ray`` module, or the one-line error saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise EmoscopeError(INSTALL_HINT) from None
    return ray


# -- in the worker processes ---------------------------------------------------------------------------

def worker_predictor(job: BatchJob, threads: int):
    """The job's model, loaded once per worker process (Ray reuses processes across tasks), with
    ``threads`` threads for ONNX Runtime, torch and OpenCV (each would otherwise take every core of the node)."""
    import cv2

    from emoscope.jobs.memory import limit_malloc_arenas
    from emoscope.runtime.predictor import shared_predictor

    limit_malloc_arenas()  # Ray reuses the process for task after task
    cv2.setNumThreads(threads)
    return shared_predictor(job.model, job.backend, threads)


def _die_once(job: BatchJob) -> None:
    """The test hook (see :data:`emoscope.jobs.batch_items.KILL_ONCE_ENV`): kill this worker the first time."""
    if job.kill_marker is None:
        return
    try:
        os.close(os.open(job.kill_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(1)  # no cleanup, no exception: what a crashed or OOM-killed worker looks like to Ray


def video_task(item: BatchItem, job: BatchJob, threads: int, on_progress=None) -> ItemResult:
    """One video in a Ray worker; ``on_progress(done, expected)`` runs there too, so it must pickle (e.g.
    hold a Ray actor's handle, as the web app's job runner does)."""
    _die_once(job)
    result = video_result(item, job, worker_predictor(job, threads), on_progress=on_progress)
    result.peak_rss_mb = round(peak_rss_mb(), 1)
    return result


class ImageWorker:
    """A Ray Data actor: detector and model loaded once, then batches of photos."""

    def __init__(self, job: BatchJob, threads: int):
        from emoscope.faces import create_photo_detector

        self.job = job
        self.predictor = worker_predictor(job, threads)
        self.detector = create_photo_detector(job.image_detector)

    def __call__(self, batch: dict) -> dict:
        _die_once(self.job)
        items = [BatchItem(path, "image", name, json.loads(metadata))
                 for path, name, metadata in zip(batch["path"], batch["name"], batch["metadata"])]
        results = image_results(items, self.job, self.predictor, self.detector)
        rss = round(peak_rss_mb(), 1)
        return {"name": [item.name for item in items], "row": [json.dumps(r.row) for r in results],
                "reused": [r.reused for r in results], "peak_rss_mb": [rss] * len(results)}


# -- on the driver --------------------------------------------------------------------------------------


def run_ray(items: Sequence[BatchItem], job: BatchJob, address: str | None = None, workers: int | None = None,
            cpus_per_worker: int = 1, on_item: ItemCallback | None = None) -> list[ItemResult]:
    """Run ``items`` on Ray: the cluster at ``address`` (``auto``, ``ray://host:10001``), the Ray already
    started in this process, or a local one started (and stopped) here. ``workers``: how many run at
    once (default: the cluster's CPUs / ``cpus_per_worker``). Results in item order; an item whose
    worker died more than ``MAX_RETRIES`` times, or that raised, gets an error row."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        init_ray(ray, address, (workers or os.cpu_count()) * cpus_per_worker)
    try:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
        results: dict[str, ItemResult] = {}

        def done(item: BatchItem, result: ItemResult) -> None:
            results[item.name] = result
            if on_item is not None:
                on_item(item, result)

        videos = [item for item in items if item.kind == "video"]
        images = [item for item in items if item.kind == "image"]
        try:
            _run_videos(ray, videos, job, workers, cpus_per_worker, done)
            if images:
                _run_images(ray, images, job, workers, cpus_per_worker, done)
        except ClusterGone as exc:  # every item not finished gets its row, so the summary lists them all
            for item in items:
                if item.name not in results:
                    done(item, ItemResult(summary_row(Path(item.path), error=f"not analysed: {exc}; "
                                                      "rerun with --resume to finish it"),
                                          exit_code=EmoscopeError.exit_code))
            started = False  # nothing left to shut down, and ray.shutdown() would wait for the lost GCS
        return [results[item.name] for item in items]
    finally:
        if started:
            ray.shutdown()


def init_ray(ray, address: str | None, num_cpus: int) -> None:
    """Connect to the cluster at ``address``, or start a local Ray of ``num_cpus`` CPUs (without one)."""
    # log_to_driver off: the workers' library chatter (MediaPipe, ONNX Runtime) stays in Ray's logs
    ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
             log_to_driver=False, logging_level=logging.WARNING, configure_logging=True)


def video_task_options(cpus: int) -> dict:
    """The options of a video's Ray task: its CPUs and memory, and retries when its worker dies."""
    return {"num_cpus": cpus, "memory": VIDEO_TASK_MEMORY, "max_retries": MAX_RETRIES}


def error_line(exc: BaseException) -> str:
    """A Ray error (retries used up, an exception in the task, a failed ``ray.init``) as one line: its last."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _error_result(item: BatchItem, exc: BaseException) -> ItemResult:
    return ItemResult(summary_row(Path(item.path), error=f"worker failed: {error_line(exc)}"),
                      exit_code=EmoscopeError.exit_code)


CLUSTER_CHECK_S = 5.0
"""While no video finishes, how often the driver checks that the cluster's GCS still answers. Ray's own
client waits 60 s for a GCS that is gone and then ends the whole process, with no summary written."""


def cluster_answers(ray, timeout: float = 2.0) -> bool:
    """True when the cluster's GCS accepts a connection (a TCP connect: no Ray call, which would block)."""
    host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError:
        return False
    return True


def _run_videos(ray, videos: list[BatchItem], job: BatchJob, workers: int, cpus: int, done) -> None:
    task = ray.remote(video_task).options(**video_task_options(cpus))
    pending: dict = {}  # ObjectRef -> item; at most `workers` in flight, so a long video list is not all queued
    queue = list(videos)
    while queue or pending:
        while queue and len(pending) < workers:
            item = queue.pop(0)
            pending[task.remote(item, job, cpus)] = item
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=CLUSTER_CHECK_S)
        if not ready:
            if not cluster_answers(ray):
                raise ClusterGone(f"the Ray cluster stopped answering ({ray.get_runtime_context().gcs_address})")
            continue
        item = pending.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except Exception as exc:  # ray.exceptions.RayError: retries used up, or an unexpected exception
            result = _error_result(item, exc)
        done(item, result)


def _run_images(ray, images: list[BatchItem], job: BatchJob, workers: int, cpus: int, done) -> None:
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows progress (rich), item by item
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its per-dataset INFO lines and that warning
    dataset = ray.data.from_items([{"path": item.path, "name": item.name, "metadata": json.dumps(item.metadata)}
                                   for item in images])
    with warnings.catch_warnings():
        # Ray Data deprecates passing actor options this way but has no named ones for them; without them
        # a photo that always kills its actor would be retried for ever
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = dataset.map_batches(
            ImageWorker, fn_constructor_kwargs={"job": job, "threads": cpus}, batch_size=IMAGE_BATCH,
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus, memory=IMAGE_ACTOR_MEMORY,
            max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)
    by_name = {item.name: item for item in images}
    try:
        for row in dataset.iter_rows():
            item = by_name.pop(row["name"])
            done(item, ItemResult(json.loads(row["row"]), bool(row["reused"]), float(row["peak_rss_mb"])))
    except Exception as exc:  # the pool gave up (an actor died more than MAX_RETRIES times): the rest are errors
        for item in list(by_name.values()):
            done(item, _error_result(item, exc))
