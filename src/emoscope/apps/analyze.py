"""`emoscope analyze`: a video (or a folder of videos, or a webcam) becomes a behavioural report.

For each video: ``<stem>.report.json`` (the pydantic :class:`Report`), ``<stem>.report.html``
(self-contained), chart PNGs, ``<stem>.frames.csv`` (one row per face per analysed frame, written
as the video streams) and, with ``annotate``, ``<stem>.annotated.mp4``. A folder also gets
``summary.csv`` with one row per video, including a row with the error for each video that could
not be analysed; the others are kept.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from emoscope import __version__
from emoscope.report.builder import ReportBuilder, ReportOptions
from emoscope.report.schema import AnalysisModel, Report, VideoModel
from emoscope.errors import DataError
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


@dataclass
class AnalysisOutput:
    report: Report
    json_path: Path
    html_path: Path
    frames_path: Path | None
    annotated_path: Path | None


def analyze_video(
    source: str | int | Path,
    predictor,
    out_dir: Path,
    options: AnalysisOptions | None = None,
    report_options: ReportOptions | None = None,
    sample_fps: float | None = None,
    max_seconds: float | None = None,
    metadata: dict[str, str] | None = None,
    frames_format: str | None = "csv",
    annotate: bool = False,
    progress=None,
    detector=None,
    on_alert=None,
) -> AnalysisOutput:
    """Analyse one video or webcam; ``detector`` overrides ``options.detector`` with a ready instance,
    ``on_alert`` receives crowd panic alerts as they happen."""
    options = options or AnalysisOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video = VideoSource(source, sample_fps=sample_fps, max_seconds=max_seconds)
    stem = f"webcam{video.source}" if isinstance(video.source, int) else Path(str(source)).stem
    classes = list(predictor.classes)
    builder = ReportBuilder(classes, frame_dt=video.step / video.info.fps, options=report_options)
    annotated_path = out_dir / f"{stem}.annotated.mp4" if annotate else None
    table = annotator = None
    analyzer = FrameAnalyzer(predictor, options, detector=detector, on_alert=on_alert)
    task = None
    if progress is not None:
        task = progress.add_task(f"analysing {stem}", total=_expected_frames(video) or None)
    started = time.perf_counter()
    try:
        if frames_format is not None:
            from emoscope.video.sinks import frame_table_sink

            table = frame_table_sink(out_dir / f"{stem}.frames", classes, frames_format)
        if annotated_path is not None:
            from emoscope.video.sinks import AnnotatedVideoSink

            annotator = AnnotatedVideoSink(annotated_path, video.info.fps / video.step,
                                           (video.info.width, video.info.height))
        for result in analyzer.run(video):
            builder.add(result)
            if table is not None:
                table.write(result)
            if annotator is not None:
                annotator.write(result)
            if task is not None:
                progress.update(task, advance=1)
    finally:
        seconds = time.perf_counter() - started
        for closable in (table, annotator, analyzer, video):
            if closable is not None:
                closable.close()
        if task is not None:
            progress.remove_task(task)
    if builder.frames == 0:
        raise DataError(f"{source}: no frame could be decoded (truncated file or unsupported codec)")
    info = video.info
    report = builder.build(
        VideoModel(source=str(source), fps=info.fps, frame_count=info.frame_count or video.frames_decoded,
                   duration=info.duration or builder.frames * builder.frame_dt, width=info.width, height=info.height),
        AnalysisModel(model=predictor.spec.name, model_created=predictor.spec.created, model_classes=classes, detector=options.detector,
                      options=options.model_dump(), sample_fps=sample_fps, frames_analysed=builder.frames,
                      seconds=seconds, processing_fps=builder.frames / seconds if seconds else 0.0,
                      emoscope_version=__version__),
        metadata=metadata,
        measured=(options.blinks, options.touches, options.gaze),
    )
    json_path = out_dir / f"{stem}.report.json"
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    html_path = _write_html(report, builder, out_dir, stem)
    return AnalysisOutput(report, json_path, html_path, table.path if table is not None else None, annotated_path)


def _expected_frames(video: VideoSource) -> int:
    return int(video.info.frame_count / video.step) if video.info.frame_count else 0


def _write_html(report: Report, builder: ReportBuilder, out_dir: Path, stem: str) -> Path:
    from emoscope.report.charts import interval_chart, pie_chart, timeline_chart
    from emoscope.report.html import write_html

    charts: dict[int, list[Path]] = {}
    for person in report.people:
        prefix = f"{stem}.person{person.track_id}"
        times, probs = builder.series(person.track_id)
        charts[person.track_id] = [
            timeline_chart(person, times, probs, builder.classes, out_dir / f"{prefix}.timeline.png"),
            pie_chart(person, out_dir / f"{prefix}.shares.png"),
            interval_chart(person, out_dir / f"{prefix}.intervals.png"),
        ]
    return write_html(report, charts, out_dir / f"{stem}.report.html")


def find_videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


SUMMARY_FIELDS = ("video", "status", "error", "duration_s", "frames_analysed", "face_visible_share", "people",
                  "dominant_emotion", "blinks_per_minute", "face_touches", "processing_fps", "report")


def summary_row(path: Path, output: AnalysisOutput | None = None, error: str = "") -> dict:
    if output is None:
        return {"video": str(path), "status": "error", "error": error}
    report = output.report
    main = max(report.people, key=lambda p: p.visible_seconds, default=None)
    return {
        "video": str(path), "status": "ok", "error": "",
        "duration_s": f"{report.video.duration:.2f}", "frames_analysed": report.analysis.frames_analysed,
        "face_visible_share": f"{report.face_visible_share:.3f}", "people": len(report.people),
        "dominant_emotion": main.dominant_emotion if main else "",
        "blinks_per_minute": f"{main.blinks.per_minute:.2f}" if main and main.blinks else "",
        "face_touches": main.touches.count if main and main.touches else "",
        "processing_fps": f"{report.analysis.processing_fps:.1f}", "report": str(output.html_path),
    }


def write_summary(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path
