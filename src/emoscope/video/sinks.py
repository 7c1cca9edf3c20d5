"""Sinks consume :class:`FrameResult` as the loop produces them: a per-frame table (CSV or Parquet)
and an annotated video. Both write as they go, so nothing accumulates in memory."""

from __future__ import annotations

import csv
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.video.results import FrameResult


FRAME_TABLE_FORMATS = ("csv", "parquet")


def frame_table_columns(classes: list[str]) -> list[tuple[str, str]]:
    """(name, kind) of each column; kind is id (integer), time, value (a measurement), text or flag (0/1)."""
    return [("frame", "id"), ("time", "time"), ("track", "id"), *[(c, "value") for c in ("x1", "y1", "x2", "y2")],
            ("score", "value"), ("label", "text"), *[(f"p_{c}", "value") for c in classes], ("ear", "value"),
            ("blink", "flag"), ("gaze", "text"), ("hand_on_face", "flag"), ("touching", "flag"), ("panic", "value"),
            ("panic_active", "flag")]


def frame_table_rows(result: FrameResult, n_classes: int) -> list[list]:
    """One row per face (smoothed probabilities), or one row with no track when no face was found;
    ``None`` marks a value that was not measured."""
    if not result.faces:
        return [[result.index, round(result.time, 3)] + [None] * (14 + n_classes)]
    return [[result.index, round(result.time, 3), face.track_id, *(round(float(v), 1) for v in face.box),
             round(face.score, 3), face.label, *(round(float(p), 4) for p in face.smoothed),
             None if face.ear is None else round(face.ear, 4), int(face.blink), face.gaze,
             int(face.hand_on_face), int(face.touching), None if face.panic is None else round(face.panic, 4),
             int(face.panic_active)]
            for face in result.faces]


class FrameTableSink:
    """The per-frame table (see :func:`frame_table_columns`) as CSV, written row by row."""

    def __init__(self, path: Path, classes: list[str]):
        self.path = Path(path)
        self.n_classes = len(classes)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow([name for name, _ in frame_table_columns(classes)])

    def write(self, result: FrameResult) -> None:
        self._writer.writerows(["" if v is None else v for v in row]
                               for row in frame_table_rows(result, self.n_classes))

    def close(self) -> None:
        self._file.close()


class ParquetFrameTableSink:
    """The same table as Parquet (typed columns, compressed, read by pandas/polars/DuckDB without
    parsing), written as a row group every ``rows_per_group`` rows so memory stays bounded."""

    def __init__(self, path: Path, classes: list[str], rows_per_group: int = 4096):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise EmoscopeError("Parquet frame tables need pyarrow: pip install 'emoscope[parquet]'") from None
        self.path = Path(path)
        self.n_classes = len(classes)
        self.rows_per_group = rows_per_group
        types = {"id": pa.int64(), "time": pa.float64(), "value": pa.float32(), "text": pa.string(), "flag": pa.int8()}
        self._schema = pa.schema([(name, types[kind]) for name, kind in frame_table_columns(classes)])
        self._pa = pa
        self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        self._rows: list[list] = []

    def write(self, result: FrameResult) -> None:
        self._rows.extend(frame_table_rows(result, self.n_classes))
        if len(self._rows) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            columns = list(zip(*self._rows))
            self._writer.write_table(self._pa.table(
                [self._pa.array(column, type=field.type) for column, field in zip(columns, self._schema)],
                schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def check_frame_table_format(fmt: str) -> None:
    if fmt not in FRAME_TABLE_FORMATS:
        raise EmoscopeError(f"unknown frame table format {fmt!r} (choose {', '.join(FRAME_TABLE_FORMATS)})")


def frame_table_sink(path_stem: Path, classes: list[str], fmt: str) -> FrameTableSink | ParquetFrameTableSink:
    """The frame table sink for ``fmt`` (csv | parquet), writing ``<path_stem>.<fmt>``."""
    check_frame_table_format(fmt)
    path = path_stem.with_name(f"{path_stem.name}.{fmt}")
    return FrameTableSink(path, classes) if fmt == "csv" else ParquetFrameTableSink(path, classes)


class AnnotatedVideoSink:
    """Writes each analysed frame with boxes, track IDs and labels drawn on it (MP4, mp4v codec)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import cv2

        self.path = Path(path)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise EmoscopeError(f"{self.path}: cannot write an annotated video here")

    def write(self, result: FrameResult) -> None:
        from emoscope.faces.draw import GREEN, draw_face

        canvas = result.frame.image.copy()
        for face in result.faces:
            text = f"#{face.track_id} {face.label} {face.smoothed.max():.2f}"
            if face.eyes_closed:
                text += " eyes closed"
            draw_face(canvas, face.box, text, (0, 0, 255) if face.touching else GREEN)
        self._writer.write(canvas)

    def close(self) -> None:
        self._writer.release()
