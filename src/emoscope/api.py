"""The Python API: one call per job, returning the objects the CLI writes as JSON.

>>> import emoscope
>>> faces = emoscope.predict_image("photo.jpg")                      # doctest: +SKIP
>>> faces[0].label, faces[0].probabilities["happy"]                  # doctest: +SKIP
>>> report = emoscope.analyze_video("interview.mp4", out_dir="reports")  # doctest: +SKIP
>>> report.people[0].dominant_emotion                                # doctest: +SKIP

The CLI commands ``predict``, ``analyze`` and ``gesture`` are shells over the same library code
(:mod:`emoscope.apps.predict`, :mod:`emoscope.apps.analyze`, :mod:`emoscope.gestures.session`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from emoscope.apps.predict import FacePrediction, predict_faces
from emoscope.gestures.classifier import DEFAULT_MODEL as GESTURE_MODEL
from emoscope.gestures.classifier import GestureOptions
from emoscope.gestures.session import SessionSummary, run_session
from emoscope.gestures.speech import Speaker
from emoscope.gestures.vocabulary import phrases_with
from emoscope.report.builder import ReportOptions
from emoscope.report.schema import Report
from emoscope.runtime.predictor import IMAGE_MODELS, VIDEO_MODELS, default_model, load_predictor
from emoscope.video.pipeline import AnalysisOptions
from emoscope.video.results import FrameResult
from emoscope.video.sinks import Sink


def _predictor(model, preference: Sequence[str], backend: str):
    """A shipped name, a bundle/ONNX path, or an already loaded predictor."""
    if model is None or isinstance(model, (str, Path)):
        return load_predictor(model or default_model(preference), backend=backend)
    return model


def predict_image(image: str | Path | np.ndarray, model=None, detector: str = "mediapipe-full", tta: str = "none",
                  align: bool = True, clahe: bool = False, framing_views: bool = False,
                  backend: str = "auto") -> list[FacePrediction]:
    """Every face in a photo (a path, or a decoded gray/BGR/BGRA array): box, detector score, label
    and probabilities. ``model``: a shipped name, a bundle or ONNX path, or a loaded predictor
    (default: the most accurate shipped photo model). ``framing_views``: average the model over
    crops at 0.9, 1.0 and 1.1x the detector's framing (3x the model's work; it narrows what
    detector framing costs, see docs/accuracy.md, framing views)."""
    from emoscope.faces import create_photo_detector, read_image

    predictor = _predictor(model, IMAGE_MODELS, backend)
    pixels = read_image(image) if isinstance(image, (str, Path)) else image
    with create_photo_detector(detector) as face_detector:
        return predict_faces(pixels, predictor, face_detector, tta=tta, align=align, clahe=clahe,
                             framing_views=framing_views)


def frame_table(source: str | int | Path, model=None, options: AnalysisOptions | None = None,
                sample_fps: float | None = None, max_seconds: float | None = None,
                backend: str = "fastest") -> pd.DataFrame:
    """A video's per-frame table as a pandas DataFrame, without writing a file: one row per face per
    analysed frame (one row with no track where no face was found), the columns of
    ``<name>.frames.csv`` (time, box, label, ``p_<class>`` probabilities, every cue's columns). The
    behavioural report of the same run is in ``table.attrs["report"]``.

    >>> table = emoscope.frame_table("interview.mp4")                 # doctest: +SKIP
    >>> table.groupby("label")["time"].count()                        # doctest: +SKIP
    """
    from emoscope.apps.analyze import analyze_video as analyze

    output = analyze(source, _predictor(model, VIDEO_MODELS, backend), None, options, sample_fps=sample_fps,
                     max_seconds=max_seconds, frames_in_memory=True)
    output.frames.attrs["report"] = output.report
    return output.frames


def analyze_video(source: str | int | Path, model=None, options: AnalysisOptions | None = None,
                  report_options: ReportOptions | None = None, sinks: Sequence[Sink] = (),
                  out_dir: str | Path | None = None, sample_fps: float | None = None,
                  max_seconds: float | None = None, metadata: dict[str, str] | None = None,
                  frames_format: str | None = "csv", annotate: bool = False,
                  on_progress: Callable[[int, int], None] | None = None, backend: str = "fastest") -> Report:
    """The behavioural report of a video file or webcam index, streamed frame by frame.

    ``sinks`` receive every :class:`~emoscope.video.results.FrameResult` as it is made (the caller
    closes them); with ``out_dir`` the JSON/HTML report, charts and frame table are written there as
    ``emoscope analyze`` writes them. ``on_progress(frames_done, frames_expected)`` is called per
    frame (``frames_expected`` is 0 when unknown, e.g. a webcam).
    """
    from emoscope.apps.analyze import analyze_video as analyze

    output = analyze(source, _predictor(model, VIDEO_MODELS, backend), None if out_dir is None else Path(out_dir),
                     options, report_options, sample_fps=sample_fps, max_seconds=max_seconds, metadata=metadata,
                     frames_format=frames_format, annotate=annotate, on_progress=on_progress, sinks=list(sinks))
    return output.report


def gesture(source: str | int | Path, route: str = "combined", hold: int = 5, phrases: dict[str, str] | None = None,
            speak: bool = False, speak_to: str | Path | None = None, annotate: str | Path | None = None,
            max_seconds: float | None = None, model: str = GESTURE_MODEL,
            on_frame: Callable[[FrameResult], None] = lambda result: None) -> SessionSummary:
    """Hand gestures (ASL A/F/L/V -> punch/super/loser/victory) in a photo, video or webcam index:
    the frames, hands and gestures announced (each once it held ``hold`` frames), optionally spoken
    (``speak``, or into the WAV ``speak_to``) and drawn (``annotate``: an image or .mp4 path).
    ``on_frame`` gets every frame's result (its ``data`` holds the gestures of that frame)."""
    speaker = Speaker(play=speak, wav_path=speak_to)
    return run_session(str(source), speaker, phrases_with(phrases or {}), GestureOptions.checked(route=route), hold,
                       annotate=annotate, max_seconds=max_seconds, model=model, on_step=on_frame)
