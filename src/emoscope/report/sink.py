"""The report as a sink: fed every result of the loop, it writes the JSON report, the charts and the
HTML page when the loop is done."""

from __future__ import annotations

import time
from pathlib import Path

from emoscope.version import __version__
from emoscope.errors import DataError
from emoscope.files import atomic_output, sha256_of, write_text_atomic
from emoscope.report.builder import ReportBuilder
from emoscope.report.schema import AnalysisModel, CompletenessModel, Report, VideoModel
from emoscope.video.results import FrameResult
from emoscope.video.sinks import Sink
from emoscope.video.source import VideoSource


def report_paths(out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Where the report of ``stem`` goes: its JSON and its HTML page."""
    return out_dir / f"{stem}.report.json", out_dir / f"{stem}.report.html"


class ReportSink(Sink):
    """Builds the report of one video; :meth:`close` writes ``<stem>.report.json``, chart PNGs and
    ``<stem>.report.html`` into ``out_dir`` (or only builds :attr:`report` when ``out_dir`` is None;
    nothing when the loop failed: see :meth:`Sink.abort`).

    ``video`` is the source being analysed (its frame count and duration are read at the end),
    ``predictor`` the expression model, ``options`` the loop's options (saved in the report).
    """

    def __init__(self, builder: ReportBuilder, video: VideoSource, predictor, options, out_dir: Path | None,
                 stem: str, sample_fps: float | None = None, metadata: dict[str, str] | None = None):
        self.builder = builder
        self.video = video
        self.predictor = predictor
        self.options = options
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.stem = stem
        self.sample_fps = sample_fps
        self.metadata = metadata
        self.report: Report | None = None
        self.json_path, self.html_path = (None, None) if out_dir is None else report_paths(self.out_dir, stem)
        self._started = time.perf_counter()

    def write(self, result: FrameResult) -> None:
        self.builder.add(result)

    def abort(self) -> None:
        """Nothing is written for a failed analysis."""

    def close(self) -> None:
        seconds = time.perf_counter() - self._started
        builder, video = self.builder, self.video
        if builder.frames == 0:
            raise DataError(f"{video.source}: no frame could be decoded (truncated file or unsupported codec)")
        info, spec = video.info, self.predictor.spec
        live = isinstance(video.source, int)  # a webcam
        self.report = builder.build(
            VideoModel(source=str(video.source), fps=info.fps, frame_count=info.frame_count or video.frames_decoded,
                       duration=info.duration or builder.frames * builder.frame_dt, width=info.width,
                       height=info.height, sha256=None if live else sha256_of(Path(video.source))),
            AnalysisModel(model=spec.name, model_created=spec.created, model_classes=builder.classes,
                          detector=self.options.detector, options=self.options.model_dump(),
                          report_options=builder.options.model_dump(), sample_fps=self.sample_fps,
                          frames_analysed=builder.frames, seconds=seconds,
                          processing_fps=builder.frames / seconds if seconds else 0.0, emoscope_version=__version__),
            metadata=self.metadata,
            completeness=None if live else completeness_model(video),
            analysed_until=None if video.max_seconds is None else video.max_seconds + 1 / info.fps,
        )
        if self.out_dir is None:
            return
        self._write_html()
        # the JSON last: its presence says the report is complete (what `analyze --resume` trusts)
        write_text_atomic(self.json_path, self.report.model_dump_json(indent=2))

    def _write_html(self) -> None:
        from emoscope.report.charts import cue_timeline_chart, interval_chart, pie_chart, timeline_chart
        from emoscope.report.html import write_html

        charts: dict[int, list[Path]] = {}
        for person in self.report.people:
            prefix = self.out_dir / f"{self.stem}.person{person.track_id}"
            times, probs = self.builder.series(person.track_id)
            drawings = {"timeline": lambda path: timeline_chart(person, times, probs, self.builder.classes, path),
                        "shares": lambda path: pie_chart(person, path),
                        "intervals": lambda path: interval_chart(person, path)}
            for timeline in self.builder.cue_timelines(person.track_id):
                drawings[timeline.title.replace(" ", "_")] = (
                    lambda path, timeline=timeline: cue_timeline_chart(person, timeline, path))
            charts[person.track_id] = []
            for name, draw in drawings.items():
                path = prefix.with_name(f"{prefix.name}.{name}.png")
                with atomic_output(path) as temporary:
                    draw(temporary)
                charts[person.track_id].append(path)
        write_html(self.report, charts, self.html_path, self.builder.cues)


def completeness_model(video: VideoSource) -> CompletenessModel:
    """How much of ``video`` was read so far, as a report states it."""
    read = video.completeness
    return CompletenessModel(complete=read.complete(video.info.fps), frames_expected=read.frames_expected or None,
                             frames_decoded=read.frames_read, skipped=read.skipped,
                             missing_at_end=read.missing_at_end)
