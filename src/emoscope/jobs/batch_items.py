"""The items of a batch and the work on one item that every engine runs (:mod:`emoscope.jobs.batch` the
local loop and the dispatcher, :mod:`emoscope.jobs.ray_engine` Ray), so the files are the same whichever
runs them.

Items come from a video, a photo, a folder, a glob, a manifest CSV or a webcam (:func:`collect_items`); a
video or webcam goes through
:func:`~emoscope.jobs.analyze.run_video_job` (:func:`video_result`), photos through the predictor in
chunks (:func:`image_results`); an item that cannot be analysed becomes its error row.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.faces.registry import PHOTO_DETECTOR
from emoscope.files import sha256_of, write_text_atomic
from emoscope.jobs.analyze import output_names, run_video_job, summary_row
from emoscope.jobs.predict import ImagePrediction, PredictReport, iter_predictions
from emoscope.report.builder import ReportOptions
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.source import find_sources


KILL_ONCE_ENV = "EMOSCOPE_TEST_KILL_ONCE"
"""Test hook: a marker path; the first Ray worker to start an item while the marker is absent creates
it and dies (``os._exit``), so a test sees Ray retry the item. Never read by the local engine."""


@dataclass(frozen=True)
class BatchItem:
    path: str
    kind: str  # "video", "image" or "webcam"
    name: str  # the outputs' name in the output folder
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BatchJob:
    """The settings of a batch: sent whole to every worker (plain data, picklable)."""

    out_dir: Path
    model: str
    backend: str = "fastest"
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    report_options: ReportOptions = field(default_factory=ReportOptions)
    sample_fps: float | None = None
    max_seconds: float | None = None
    frames_format: str | None = "csv"
    annotate: bool = False
    metadata: dict = field(default_factory=dict)  # for every item; a manifest's columns win
    image_detector: str = PHOTO_DETECTOR  # `emoscope predict`'s default
    resume: bool = False
    kill_marker: str | None = None  # see KILL_ONCE_ENV

    def video_settings(self, item: BatchItem) -> dict:
        return {"sample_fps": self.sample_fps, "max_seconds": self.max_seconds, "frames_format": self.frames_format,
                "annotate": self.annotate, "metadata": {**self.metadata, **item.metadata}}

    def image_settings(self, predictor) -> dict:
        """What a photo's predictions depend on, as ``emoscope predict`` records it."""
        return {"model": predictor.spec.name, "classes": list(predictor.classes), "detector": self.image_detector,
                "tta": "none", "align": True, "clahe": False}


@dataclass
class ItemResult:
    row: dict  # the summary row
    reused: bool = False  # an earlier run's complete output was kept
    peak_rss_mb: float | None = None  # of the worker process that made it (Ray engine)
    exit_code: int = 0  # an error row's: its EmoscopeError's exit code (a lone item's command exits with it)


ItemCallback = Callable[[BatchItem, ItemResult], None]
"""Told each item's result as soon as it is finished."""


class ImageOutput(PredictReport):
    """``<name>.predictions.json``: ``emoscope predict``'s report of one photo, the photo's SHA-256 and
    its metadata (``--meta`` and the manifest's columns, as a video's report has them)."""

    sha256: str
    metadata: dict[str, str] = {}


# -- inputs --------------------------------------------------------------------------------------


def collect_items(source: str | int | Path) -> list[BatchItem]:
    """The items of :func:`~emoscope.video.source.find_sources` (a video, photo, folder, glob, manifest or
    webcam index), each with a unique output name."""
    sources = find_sources(source)
    names = output_names([item.path for item in sources])
    seen: Counter = Counter()
    items = []
    for item, name in zip(sources, names):
        seen[name] += 1
        if seen[name] > 1:  # same stem and extension in two folders (a recursive glob, a manifest)
            name = f"{name}_{seen[name]}"
        items.append(BatchItem(item.path, item.kind, name, item.metadata))
    return items


# -- one item (the same code on every engine) ------------------------------------------------------


def video_result(item: BatchItem, job: BatchJob, predictor, on_progress=None, sinks=()) -> ItemResult:
    """Analyse (or reuse) one video; an error becomes the item's error row. ``sinks`` (live alerts) also
    receive its frames."""
    try:
        output, reused = run_video_job(item.path, predictor, job.out_dir, job.options, job.report_options,
                                       resume=job.resume, name=item.name, on_progress=on_progress,
                                       sinks=list(sinks), **job.video_settings(item))
    except EmoscopeError as exc:
        return ItemResult(summary_row(Path(item.path), error=str(exc)), exit_code=exc.exit_code)
    return ItemResult(summary_row(Path(item.path), output), reused)


def image_results(items: Sequence[BatchItem], job: BatchJob, predictor, detector) -> list[ItemResult]:
    """Predict (or reuse) photos with a ready detector, their faces classified in batches as `predict` does;
    each finished photo's file is written before the next chunk starts."""
    settings = job.image_settings(predictor)
    results: dict[str, ItemResult] = {}
    todo = []
    for item in items:
        reused = finished_image(item, job, settings) if job.resume else None
        if reused is not None:
            results[item.name] = ItemResult(image_row(item, reused, job), reused=True)
        else:
            todo.append(item)
    predictions = iter_predictions([Path(item.path) for item in todo], predictor, detector)
    for item, (prediction, _) in zip(todo, predictions):  # in order, one per path
        if prediction.error is not None:
            results[item.name] = ItemResult(summary_row(Path(item.path), error=prediction.error),
                                            exit_code=EmoscopeError.exit_code)
            continue
        try:
            output = ImageOutput(**settings, images=[prediction], sha256=sha256_of(Path(item.path)),
                                 metadata={**job.metadata, **item.metadata})
            write_text_atomic(image_output_path(job.out_dir, item.name), json.dumps(output.model_dump(), indent=2))
        except EmoscopeError as exc:
            results[item.name] = ItemResult(summary_row(Path(item.path), error=str(exc)), exit_code=exc.exit_code)
            continue
        results[item.name] = ItemResult(image_row(item, prediction, job))
    return [results[item.name] for item in items]


def image_output_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}.predictions.json"


def finished_image(item: BatchItem, job: BatchJob, settings: dict) -> ImagePrediction | None:
    """An earlier run's prediction for this photo when it was made with the same settings from the same
    content (SHA-256); else None."""
    try:
        output = ImageOutput.model_validate_json(image_output_path(job.out_dir, item.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (output.model_dump(include=set(settings)) == settings and len(output.images) == 1
            and output.images[0].path == item.path and output.images[0].error is None)
    if not same or not Path(item.path).is_file() or sha256_of(Path(item.path)) != output.sha256:
        return None
    return output.images[0]


def image_row(item: BatchItem, prediction: ImagePrediction, job: BatchJob) -> dict:
    """A photo's summary row, in the local summary's columns."""
    largest = max(prediction.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)
    return {"video": item.path, "status": "ok", "error": "", "people": len(prediction.faces),
            "dominant_emotion": largest.label if largest else "",
            "report": str(image_output_path(job.out_dir, item.name))}

