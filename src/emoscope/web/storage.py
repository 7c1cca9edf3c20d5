"""Where the web app keeps files: one folder per candidate and per interview under the data folder,
named by the database's UUIDs only (never by anything a client sent)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from emoscope.report.sink import report_paths
from emoscope.video.sinks import frame_table_path

OUTPUT_NAME = "interview"
"""The stem of every interview's outputs: interview.report.json, interview.frames.csv ..."""
CHART = re.compile(rf"{OUTPUT_NAME}\.person\d+\.(timeline|shares|intervals)\.png")
"""The chart files :class:`~emoscope.report.sink.ReportSink` writes, the only ones served."""
VIDEO_NAME = "upload.video"  # ffmpeg finds the container from the content, not the name


@dataclass(frozen=True)
class Storage:
    root: Path

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def create(self) -> Storage:
        for folder in (self.root, self.tmp, self.root / "candidates"):
            folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():  # uploads cut off by a stopped server
            leftover.unlink(missing_ok=True)
        return self

    def candidate_dir(self, candidate_id: str) -> Path:
        return self.root / "candidates" / candidate_id

    def interview_dir(self, candidate_id: str, interview_id: str) -> Path:
        return self.candidate_dir(candidate_id) / interview_id

    def video(self, candidate_id: str, interview_id: str) -> Path:
        return self.interview_dir(candidate_id, interview_id) / VIDEO_NAME

    def report(self, candidate_id: str, interview_id: str) -> tuple[Path, Path]:
        """(JSON, HTML) of an interview's report."""
        return report_paths(self.interview_dir(candidate_id, interview_id), OUTPUT_NAME)

    def frames(self, candidate_id: str, interview_id: str) -> Path | None:
        """The per-frame table (CSV or Parquet, whichever was written), None when absent."""
        stem = self.interview_dir(candidate_id, interview_id) / f"{OUTPUT_NAME}.frames"
        return next((path for path in (frame_table_path(stem, fmt) for fmt in ("csv", "parquet"))
                     if path.is_file()), None)

    def charts(self, candidate_id: str, interview_id: str) -> list[str]:
        folder = self.interview_dir(candidate_id, interview_id)
        return sorted(p.name for p in folder.glob(f"{OUTPUT_NAME}.person*.png") if CHART.fullmatch(p.name)) \
            if folder.is_dir() else []

    def clear_outputs(self, candidate_id: str, interview_id: str) -> None:
        """Remove what a stopped analysis left (partial tables), keeping the uploaded video."""
        folder = self.interview_dir(candidate_id, interview_id)
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name != VIDEO_NAME:
                    path.unlink(missing_ok=True)

    def remove_interview(self, candidate_id: str, interview_id: str) -> None:
        shutil.rmtree(self.interview_dir(candidate_id, interview_id), ignore_errors=True)

    def remove_candidate(self, candidate_id: str) -> None:
        shutil.rmtree(self.candidate_dir(candidate_id), ignore_errors=True)
