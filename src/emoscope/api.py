"""The Python API: an :class:`Analyzer` that loads its models once, and one-call-per-job functions
over it, returning the objects the CLI writes as JSON.

>>> import emoscope
>>> with emoscope.Analyzer(model="fer-default") as analyzer:         # doctest: +SKIP
...     for photo in photos:
...         faces = analyzer.predict_image(photo)                    # the model and detector load once
>>> faces = emoscope.predict_image("photo.jpg")                      # doctest: +SKIP
>>> faces[0].label, faces[0].probabilities["happy"]                  # doctest: +SKIP
>>> report = emoscope.analyze_video("interview.mp4", out_dir="reports")  # doctest: +SKIP
>>> report.people[0].dominant_emotion                                # doctest: +SKIP
>>> figure = emoscope.plot_timeline(emoscope.frame_table("interview.mp4"))  # doctest: +SKIP

The CLI commands ``predict``, ``analyze`` and ``gesture`` are shells over the same library code
(:mod:`emoscope.jobs.predict`, :mod:`emoscope.jobs.analyze`, :mod:`emoscope.gestures.session`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from emoscope.errors import EmoscopeError
from emoscope.faces.registry import PHOTO_DETECTOR
from emoscope.gestures.classifier import DEFAULT_MODEL as GESTURE_MODEL
from emoscope.gestures.classifier import GestureOptions
from emoscope.gestures.session import SessionRecord, run_session
from emoscope.gestures.speech import Speaker
from emoscope.gestures.vocabulary import phrases_with
from emoscope.jobs.predict import FacePrediction, predict_faces
from emoscope.report.builder import ReportOptions
from emoscope.report.schema import PersonReport, Report
from emoscope.runtime.predictor import IMAGE_MODELS, default_model, shared_predictor
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.results import FrameResult
from emoscope.video.sinks import Sink

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Analyzer:
    """One set of models for many calls: the expression model loads once per process (shared with
    every other user of :func:`~emoscope.runtime.predictor.shared_predictor`), and a photo detector once
    per analyzer, closed with it. As a context manager it closes on exit.

    ``model``: a shipped name, a bundle or ONNX path, or a loaded predictor (default: the most accurate
    shipped model); ``detector``: the face detector for photos and videos (default: each job's own,
    ``mediapipe-full`` for photos, :class:`AnalysisOptions`'s for videos); ``backend``: as
    :func:`~emoscope.runtime.predictor.load_predictor`; ``threads``: ONNX Runtime's or torch's threads
    (0: every core). A video gets a fresh video detector each run: it tracks faces from frame to frame.
    """

    def __init__(self, model=None, detector: str | None = None, backend: str = "fastest", threads: int = 0):
        if model is None or isinstance(model, (str, Path)):
            model = shared_predictor(model or default_model(IMAGE_MODELS), backend, threads)
        self.predictor = model
        self.detector = detector
        self._photo_detectors: dict = {}

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the photo detectors (MediaPipe graphs); the analyzer can still be used, reopening them."""
        for detector in self._photo_detectors.values():
            detector.close()
        self._photo_detectors.clear()

    def _photo_detector(self, name: str | None):
        from emoscope.faces import create_photo_detector

        name = name or self.detector or PHOTO_DETECTOR
        if name not in self._photo_detectors:
            self._photo_detectors[name] = create_photo_detector(name)
        return self._photo_detectors[name]

    def predict_image(self, image: str | Path | np.ndarray, detector: str | None = None, tta: str = "none",
                      align: bool = True, clahe: bool = False, framing_views: bool = False) -> list[FacePrediction]:
        """Every face in a photo (a path, or a decoded gray/BGR/BGRA array): box, detector score, label
        and probabilities. ``framing_views``: average the model over crops at 0.9, 1.0 and 1.1x the
        detector's framing (3x the model's work; it narrows what detector framing costs, see
        docs/accuracy.md, framing views)."""
        from emoscope.faces import read_image

        pixels = read_image(image) if isinstance(image, (str, Path)) else image
        return predict_faces(pixels, self.predictor, self._photo_detector(detector), tta=tta, align=align,
                             clahe=clahe, framing_views=framing_views)

    def _video_options(self, options: AnalysisOptions | None) -> AnalysisOptions | None:
        if self.detector is None or options is not None:
            return options
        return AnalysisOptions(detector=self.detector)

    def frame_table(self, source: str | int | Path, options: AnalysisOptions | None = None,
                    sample_fps: float | None = None, max_seconds: float | None = None) -> pd.DataFrame:
        """A video's per-frame table as a pandas DataFrame, without writing a file: one row per face per
        analysed frame (one row with no track where no face was found), the columns of
        ``<name>.frames.csv`` (time, box, label, ``p_<class>`` probabilities, every cue's columns). The
        behavioural report of the same run is in ``table.attrs["report"]``."""
        from emoscope.jobs.analyze import analyze_video

        output = analyze_video(source, self.predictor, None, self._video_options(options), sample_fps=sample_fps,
                               max_seconds=max_seconds, frames_in_memory=True)
        output.frames.attrs["report"] = output.report
        return output.frames

    def analyze_video(self, source: str | int | Path, options: AnalysisOptions | None = None,
                      report_options: ReportOptions | None = None, sinks: Sequence[Sink] = (),
                      out_dir: str | Path | None = None, sample_fps: float | None = None,
                      max_seconds: float | None = None, metadata: dict[str, str] | None = None,
                      frames_format: str | None = "csv", annotate: bool = False,
                      on_progress: Callable[[int, int], None] | None = None) -> Report:
        """The behavioural report of a video file or webcam index, streamed frame by frame.

        ``sinks`` receive every :class:`~emoscope.video.results.FrameResult` as it is made (the caller
        closes them); with ``out_dir`` the JSON/HTML report, charts and frame table are written there as
        ``emoscope analyze`` writes them. ``on_progress(frames_done, frames_expected)`` is called per
        frame (``frames_expected`` is 0 when unknown, e.g. a webcam).
        """
        from emoscope.jobs.analyze import analyze_video

        output = analyze_video(source, self.predictor, None if out_dir is None else Path(out_dir),
                               self._video_options(options), report_options, sample_fps=sample_fps,
                               max_seconds=max_seconds, metadata=metadata, frames_format=frames_format,
                               annotate=annotate, on_progress=on_progress, sinks=list(sinks))
        return output.report

    @staticmethod
    def gesture(source: str | int | Path, route: str = "combined", hold: int = 5,
                phrases: dict[str, str] | None = None, speak: bool = False, speak_to: str | Path | None = None,
                annotate: str | Path | None = None, max_seconds: float | None = None, model: str = GESTURE_MODEL,
                on_frame: Callable[[FrameResult], None] = lambda result: None) -> SessionRecord:
        """Hand gestures (ASL A/F/L/V -> punch/super/loser/victory) in a photo, video or webcam index:
        the frames, hands and gestures announced (each once it held ``hold`` frames), optionally spoken
        (``speak``, or into the WAV ``speak_to``) and drawn (``annotate``: an image or .mp4 path).
        ``on_frame`` gets every frame's result (its ``data`` holds the gestures of that frame). The
        gesture models are the hand's own, shared like the expression model, whatever ``model`` this
        analyzer reads faces with."""
        speaker = Speaker(play=speak, wav_path=speak_to)
        return run_session(str(source), speaker, phrases_with(phrases or {}), GestureOptions.checked(route=route),
                           hold, annotate=annotate, max_seconds=max_seconds, model=model, on_step=on_frame)


# -- one call per job: an Analyzer for that call --------------------------------------------------------


def predict_image(image: str | Path | np.ndarray, model=None, detector: str = PHOTO_DETECTOR, tta: str = "none",
                  align: bool = True, clahe: bool = False, framing_views: bool = False,
                  backend: str = "auto") -> list[FacePrediction]:
    """:meth:`Analyzer.predict_image` once (the model stays loaded for the next call; the detector is
    opened and closed: for many photos use one :class:`Analyzer`)."""
    with Analyzer(model, detector, backend) as analyzer:
        return analyzer.predict_image(image, tta=tta, align=align, clahe=clahe, framing_views=framing_views)


def frame_table(source: str | int | Path, model=None, options: AnalysisOptions | None = None,
                sample_fps: float | None = None, max_seconds: float | None = None,
                backend: str = "fastest") -> pd.DataFrame:
    """:meth:`Analyzer.frame_table` once.

    >>> table = emoscope.frame_table("interview.mp4")                 # doctest: +SKIP
    >>> table.groupby("label")["time"].count()                        # doctest: +SKIP
    """
    with Analyzer(model, backend=backend) as analyzer:
        return analyzer.frame_table(source, options, sample_fps=sample_fps, max_seconds=max_seconds)


def analyze_video(source: str | int | Path, model=None, options: AnalysisOptions | None = None,
                  report_options: ReportOptions | None = None, sinks: Sequence[Sink] = (),
                  out_dir: str | Path | None = None, sample_fps: float | None = None,
                  max_seconds: float | None = None, metadata: dict[str, str] | None = None,
                  frames_format: str | None = "csv", annotate: bool = False,
                  on_progress: Callable[[int, int], None] | None = None, backend: str = "fastest") -> Report:
    """:meth:`Analyzer.analyze_video` once."""
    with Analyzer(model, backend=backend) as analyzer:
        return analyzer.analyze_video(source, options, report_options, sinks, out_dir, sample_fps, max_seconds,
                                      metadata, frames_format, annotate, on_progress)


gesture = Analyzer.gesture


# -- a run's charts, for notebooks: the report's charts, drawn from what the calls above return ------------


def plot_shares(report: Report | pd.DataFrame, person: int | None = None, ax=None) -> Figure:
    """The share of a person's time per emotion, as a pie (the report's ``shares`` chart): a matplotlib
    Figure, or ``ax``'s figure when drawn onto ``ax``. ``report``: a :class:`Report`, or the table
    :func:`frame_table` returns (its report is in ``attrs["report"]``); ``person``: a track id (None:
    the person seen longest). Nothing is shown or written: ``figure.savefig(...)`` writes it."""
    from emoscope.report.charts import chart_figure, draw_shares

    return chart_figure(draw_shares, _person(_report_of(report), person), ax=ax)


def plot_intervals(report: Report | pd.DataFrame, person: int | None = None, ax=None) -> Figure:
    """The mean probability of each emotion in the five intervals of the video, as stacked bars with
    the dominant emotion above each (the report's ``intervals`` chart); arguments as :func:`plot_shares`."""
    from emoscope.report.charts import chart_figure, draw_intervals

    return chart_figure(draw_intervals, _person(_report_of(report), person), ax=ax)


def plot_timeline(table: pd.DataFrame, person: int | None = None, ax=None,
                  report: Report | None = None) -> Figure:
    """A person's smoothed probabilities over time, one line per class, with their blinks as ticks and
    face touches shaded (the report's ``timeline`` chart), from the frame table :func:`frame_table`
    returns (or ``<video>.frames.csv`` read with pandas, with ``report=`` the run's :class:`Report`,
    e.g. ``Report.model_validate_json`` of ``<video>.report.json``). ``person``: a track id (None: the
    person seen longest); returns the Figure, or ``ax``'s figure when drawn onto ``ax``."""
    from emoscope.report.charts import chart_figure, draw_timeline

    report = _report_of(table if report is None else report)
    chosen = _person(report, person)
    classes = report.analysis.model_classes
    columns = [f"p_{label}" for label in classes]
    rows = _rows(table, chosen, columns)
    return chart_figure(draw_timeline, chosen, rows["time"].to_numpy(float), rows[columns].to_numpy(float), classes,
                        ax=ax)


def plot_head_pose(table: pd.DataFrame, person: int | None = None, ax=None,
                   report: Report | None = None) -> Figure:
    """A person's head pose over time (yaw, pitch and roll degrees from the table's columns) with the
    nods, shakes and looking-away episodes of their report shaded (the report's ``head_pose`` chart;
    an episode ends one frame after its last frame, as the report states it). Arguments as
    :func:`plot_timeline`; head pose is measured while blinks or gaze are (the face mesh runs)."""
    from emoscope.cues.head_pose import HeadPoseModel, pose_timeline
    from emoscope.report.charts import chart_figure, draw_cue_timeline

    chosen = _person(_report_of(table if report is None else report), person)
    section = getattr(chosen, "head_pose", None)
    if section is None:
        raise EmoscopeError(f"person {chosen.track_id}: head pose was not measured (it needs blinks or gaze on)")
    angles = ["yaw", "pitch", "roll"]
    rows = _rows(table, chosen, angles).dropna(subset=angles)
    pose = HeadPoseModel.model_validate(section)
    timeline = pose_timeline(rows["time"].to_numpy(float), rows[angles].to_numpy(float), pose.looking_away,
                             pose.nods, pose.shakes)
    return chart_figure(draw_cue_timeline, chosen, timeline, ax=ax)


def _report_of(data: Report | pd.DataFrame) -> Report:
    if isinstance(data, Report):
        return data
    report = data.attrs.get("report") if isinstance(data, pd.DataFrame) else None
    if not isinstance(report, Report):
        raise EmoscopeError("no report to chart: pass a Report (from emoscope.analyze_video, or read from "
                            "<video>.report.json) or the table emoscope.frame_table returns (report in its attrs)")
    return report


def _person(report: Report, person: int | None) -> PersonReport:
    """The person with track id ``person``, or the one seen longest (the first of equals)."""
    if not report.people:
        raise EmoscopeError(f"{report.video.source}: no person was seen, so there is nothing to chart")
    if person is None:
        return max(report.people, key=lambda p: p.visible_seconds)
    for candidate in report.people:
        if candidate.track_id == person:
            return candidate
    present = ", ".join(f"{p.track_id} ({p.visible_seconds:.1f} s)" for p in report.people)
    raise EmoscopeError(f"no person {person!r} in {report.video.source}; the people seen (track ids): {present}")


def _rows(table: pd.DataFrame, person: PersonReport, columns: list[str]) -> pd.DataFrame:
    """The person's rows of a frame table, checked to have ``columns``."""
    missing = [name for name in ["time", "track", *columns] if name not in table.columns]
    if missing:
        raise EmoscopeError(f"not an emoscope frame table of this run: no column {', '.join(missing)}")
    rows = table[table["track"] == person.track_id]
    if rows.empty:
        raise EmoscopeError(f"the frame table has no rows of person {person.track_id}: is it the table of this "
                            "report's run?")
    return rows


def bench_photo_calls(photos: Sequence[str | Path], model: str | None = None, backend: str = "auto",
                      repeats: int = 3) -> dict:
    """Seconds for the same photos through one :class:`Analyzer` and through one :func:`predict_image`
    call each (what a ``for p in photos: emoscope.predict_image(p)`` loop costs), in one process, the
    two ways taking turns ``repeats`` times (medians reported). Each run starts with no model loaded, so
    both pay their loading; the libraries are imported and warmed by one photo first."""
    import statistics
    import time

    from emoscope.runtime import predictor as predictors

    def with_analyzer() -> None:
        with Analyzer(model, backend=backend) as analyzer:
            for photo in photos:
                analyzer.predict_image(photo)

    def one_call_each() -> None:
        for photo in photos:
            predict_image(photo, model, backend=backend)

    predict_image(photos[0], model, backend=backend)
    seconds: dict[str, list[float]] = {"analyzer": [], "module_calls": []}
    for _ in range(repeats):
        for way, run in (("analyzer", with_analyzer), ("module_calls", one_call_each)):
            predictors.clear_shared()
            start = time.perf_counter()
            run()
            seconds[way].append(time.perf_counter() - start)
    analyzer_s, calls_s = statistics.median(seconds["analyzer"]), statistics.median(seconds["module_calls"])
    return {"photos": len(photos), "model": model or default_model(IMAGE_MODELS), "backend": backend,
            "repeats": repeats, "seconds": {way: [round(s, 3) for s in runs] for way, runs in seconds.items()},
            "analyzer_seconds": round(analyzer_s, 3), "module_calls_seconds": round(calls_s, 3),
            "analyzer_photos_per_s": round(len(photos) / analyzer_s, 2),
            "module_calls_photos_per_s": round(len(photos) / calls_s, 2),
            "speedup": round(calls_s / analyzer_s, 2)}
