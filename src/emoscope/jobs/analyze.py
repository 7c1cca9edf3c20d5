"""One video or webcam becomes a behavioural report: what `emoscope analyze` runs for each video item
(many items, their errors and ``summary.csv`` are :mod:`emoscope.jobs.batch`'s).

For each video: ``<stem>.report.json`` (the pydantic :class:`Report`), ``<stem>.report.html``
(self-contained), chart PNGs, ``<stem>.frames.csv`` (one row per face per analysed frame, written
as the video streams) and, with ``annotate``, ``<stem>.annotated.mp4``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emoscope.errors import EmoscopeError
from emoscope.files import ensure_writable_folder, sha256_of
from emoscope.report.builder import ReportBuilder, ReportOptions
from emoscope.report.schema import Report
from emoscope.report.sink import ReportSink, report_paths
from emoscope.video.draw import draw_faces
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.sinks import (DataFrameSink, FrameTable, Sink, VideoWriterSink, frame_table_path,
                                  frame_table_sink)
from emoscope.video.source import VideoSource

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class AnalysisOutput:
    report: Report
    json_path: Path | None  # the files, when written into a folder
    html_path: Path | None
    frames_path: Path | None
    annotated_path: Path | None
    frames: pd.DataFrame | None = None  # the frame table, when it was kept in memory


def analyze_video(
    source: str | int | Path,
    predictor,
    out_dir: Path | None,
    options: AnalysisOptions | None = None,
    report_options: ReportOptions | None = None,
    sample_fps: float | None = None,
    max_seconds: float | None = None,
    metadata: dict[str, str] | None = None,
    frames_format: str | None = "csv",
    annotate: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    detector=None,
    sinks: list[Sink] = (),
    name: str | None = None,
    frames_in_memory: bool = False,
) -> AnalysisOutput:
    """Analyse one video or webcam into ``out_dir`` (None: build the report in memory only, no files),
    naming the files ``<name>.report.json`` ... (default: the video's stem; see :func:`output_names`).
    ``detector`` overrides ``options.detector`` with a ready instance (the caller closes it); a
    partial video (damaged, truncated) is analysed as far as it decodes and its report's
    ``completeness`` says what is missing. ``sinks`` also receive every result as it is made (e.g.
    :class:`~emoscope.video.sinks.AlertSink` for crowd panic alerts) and stay open: they may outlive
    one video, so the caller closes them. ``on_progress(frames_done, frames_expected)`` is called
    after each frame (``frames_expected`` is 0 when unknown, e.g. a webcam). ``frames_in_memory`` also
    keeps the frame table as a DataFrame (``AnalysisOutput.frames``), with or without files."""
    options = options or AnalysisOptions()
    if out_dir is None:
        if annotate:
            raise EmoscopeError("an annotated video needs a folder to go to (out_dir)")
        frames_format = None
    else:
        out_dir = ensure_writable_folder(Path(out_dir))
    video = VideoSource(source, sample_fps=sample_fps, max_seconds=max_seconds)
    stem = name or default_name(source)
    classes = list(predictor.classes)
    with ExitStack() as stack:
        stack.callback(video.close)
        analyzer = FrameAnalyzer(predictor, options, detector=detector)
        stack.callback(analyzer.close)  # after the sinks: they are entered later, so closed first
        builder = ReportBuilder(classes, frame_dt=video.step / video.info.fps, options=report_options,
                                cues=analyzer.cues)
        report = stack.enter_context(ReportSink(builder, video, predictor, options, out_dir, stem,
                                                sample_fps=sample_fps, metadata=metadata))
        table = annotator = in_memory = None
        if frames_in_memory:
            in_memory = DataFrameSink(FrameTable(classes, analyzer.cues))
        if frames_format is not None:
            table = stack.enter_context(
                frame_table_sink(out_dir / f"{stem}.frames", FrameTable(classes, analyzer.cues), frames_format))
        if annotate:
            annotator = stack.enter_context(
                VideoWriterSink(_annotated_path(out_dir, stem), video.info.fps / video.step, draw=draw_faces))
        outputs = [sink for sink in (report, table, annotator, in_memory) if sink is not None] + list(sinks)
        expected = _expected_frames(video)
        for done, result in enumerate(analyzer.run(video), 1):
            for sink in outputs:
                sink.write(result)
            if on_progress is not None:
                on_progress(done, expected)
    return AnalysisOutput(report.report, report.json_path, report.html_path, table.path if table else None,
                          annotator.path if annotator else None, in_memory.frame() if in_memory else None)


def _expected_frames(video: VideoSource) -> int:
    """Frames the loop will see, 0 when the source does not say (webcams, some containers)."""
    return int(video.completeness.frames_expected / video.step)


def output_names(videos: list[str | Path]) -> list[str]:
    """The name each video's outputs get: its stem, or stem_<extension> where two videos of one run
    share a stem (clip.mp4 and clip.mov would otherwise overwrite each other's report)."""
    stems = [default_name(video) for video in videos]
    return [stem if stems.count(stem) == 1 else f"{stem}_{Path(str(video)).suffix.lstrip('.')}"
            for stem, video in zip(stems, videos)]


def finished_output(source: str | Path, predictor, out_dir: Path, options: AnalysisOptions | None = None,
                    report_options: ReportOptions | None = None, sample_fps: float | None = None,
                    max_seconds: float | None = None, frames_format: str | None = "csv", annotate: bool = False,
                    name: str | None = None) -> AnalysisOutput | None:
    """What an earlier run left in ``out_dir`` for this video, when it is a finished analysis of the
    same content (SHA-256) with the same model and settings and all its files are there; else None
    (for ``analyze --resume``: checked by content, not by the files' existence alone)."""
    stem = name or default_name(source)
    json_path, html_path = report_paths(out_dir, stem)
    try:
        report = Report.model_validate_json(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent, unreadable or not a report of this schema
    frames_path = frame_table_path(out_dir / f"{stem}.frames", frames_format) if frames_format else None
    annotated_path = _annotated_path(out_dir, stem) if annotate else None
    files = [html_path, *(path for path in (frames_path, annotated_path) if path is not None)]
    options, report_options, analysis = options or AnalysisOptions(), report_options or ReportOptions(), report.analysis
    same_settings = (analysis.model == predictor.spec.name and analysis.model_created == predictor.spec.created
                     and analysis.options == options.model_dump()
                     and analysis.report_options == report_options.model_dump()
                     and analysis.sample_fps == sample_fps and report.completeness is not None)
    if not same_settings or not all(path.is_file() for path in files):
        return None
    # the costly checks last: the video's length up to max_seconds, then its content
    with VideoSource(source, sample_fps=sample_fps, max_seconds=max_seconds) as video:
        expected = video.completeness.frames_expected
    if report.completeness.frames_expected != (expected or None) or report.video.sha256 != sha256_of(Path(source)):
        return None
    return AnalysisOutput(report, json_path, html_path, frames_path, annotated_path)


def default_name(source: str | int | Path) -> str:
    """The outputs' name for a source: the file's stem, or ``webcam<index>``."""
    text = str(source)
    return f"webcam{text}" if text.isdigit() else Path(text).stem


def _annotated_path(out_dir: Path, stem: str) -> Path:
    return out_dir / f"{stem}.annotated.mp4"


FINISHED_SETTINGS = ("sample_fps", "max_seconds", "frames_format", "annotate")
"""The :func:`analyze_video` settings that decide whether an earlier output is still the same."""


def run_video_job(video: str | Path, predictor, out_dir: Path, options: AnalysisOptions | None = None,
                  report_options: ReportOptions | None = None, resume: bool = False, name: str | None = None,
                  on_progress: Callable[[int, int], None] | None = None, **settings) -> tuple[AnalysisOutput, bool]:
    """One video of a batch, wherever it runs (this process, a Ray worker, a web job): ``(output, reused)``,
    the finished output of an earlier run when ``resume`` and :func:`finished_output` holds, else a fresh
    :func:`analyze_video` with ``settings``. Raises :class:`EmoscopeError` for a video it cannot analyse."""
    if resume:
        output = finished_output(video, predictor, out_dir, options, report_options, name=name,
                                 **{k: v for k, v in settings.items() if k in FINISHED_SETTINGS})
        if output is not None:
            return output, True
    return analyze_video(video, predictor, out_dir, options, report_options, on_progress=on_progress, name=name,
                         **settings), False


def summary_row(path: Path, output: AnalysisOutput | None = None, error: str = "") -> dict:
    """A video's row of ``summary.csv``: its figures, or its error."""
    if output is None:
        return {"video": str(path), "status": "error", "error": error}
    report = output.report
    main = max(report.people, key=lambda p: p.visible_seconds, default=None)
    incomplete = report.completeness is not None and not report.completeness.complete
    return {
        "video": str(path), "status": "partial" if incomplete else "ok",
        "error": report.notes[0] if incomplete else "",
        "duration_s": f"{report.video.duration:.2f}", "frames_analysed": report.analysis.frames_analysed,
        "face_visible_share": f"{report.face_visible_share:.3f}", "people": len(report.people),
        "dominant_emotion": main.dominant_emotion if main else "",
        "blinks_per_minute": f"{main.blinks.per_minute:.2f}" if main and main.blinks else "",
        "face_touches": main.touches.count if main and main.touches else "",
        "processing_fps": f"{report.analysis.processing_fps:.1f}", "report": str(output.html_path),
    }
