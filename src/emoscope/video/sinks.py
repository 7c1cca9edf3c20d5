"""Sinks consume :class:`FrameResult` as the loop produces them, all through one protocol
(:class:`Sink`: ``write(result)``, ``close()``, a context manager): the per-frame table (CSV or
Parquet), a video (annotated or not), alert delivery, a callback, and (in :mod:`emoscope.report`)
the report. Each writes as it goes, so nothing accumulates in memory.
"""

from __future__ import annotations

import csv
import json
import logging
import queue
import threading
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from emoscope.cues.base import Cue
from emoscope.errors import EmoscopeError, OutputError
from emoscope.faces.images import WRITABLE_IMAGE_SUFFIXES
from emoscope.files import commit, partial_name, temporary_name, write_failed
from emoscope.video.results import FrameResult

log = logging.getLogger(__name__)

FRAME_TABLE_FORMATS = ("csv", "parquet")


class Sink:
    """The protocol every consumer of the loop follows. ``with sink:`` finishes it on the way out:
    :meth:`close` when the loop ended normally, :meth:`abort` when it raised."""

    def write(self, result: FrameResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output (flush, release files, write what was built)."""

    def abort(self) -> None:
        """The loop failed: release what is held; by default keep what was written, as :meth:`close`."""
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class CallbackSink(Sink):
    """Hands each result to a function (a progress line, a live view)."""

    def __init__(self, callback: Callable[[FrameResult], None]):
        self.callback = callback

    def write(self, result: FrameResult) -> None:
        self.callback(result)


# -- the per-frame table ---------------------------------------------------------------------------
CORE_COLUMNS = (("frame", "id"), ("time", "time"), ("track", "id"), ("x1", "value"), ("y1", "value"),
                ("x2", "value"), ("y2", "value"), ("score", "value"), ("label", "text"))


class FrameTable:
    """The table's shape: one row per face per analysed frame (smoothed probabilities, then each
    cue's columns), or one row with no track when no face was found; ``None`` marks a value that
    was not measured. A flag a cue did not set is 0."""

    def __init__(self, classes: Sequence[str], cues: Sequence[Cue]):
        self.cue_columns = [column for cue in cues for column in cue.columns]
        self.columns = [*CORE_COLUMNS, *((f"p_{c}", "value") for c in classes), *self.cue_columns]

    def rows(self, result: FrameResult) -> list[list]:
        if not result.faces:
            return [[result.index, round(result.time, 3)] + [None] * (len(self.columns) - 2)]
        return [[result.index, round(result.time, 3), face.track_id, *(round(float(v), 1) for v in face.box),
                 round(face.score, 3), face.label, *(round(float(p), 4) for p in face.smoothed),
                 *(_cell(face.data.get(name), kind) for name, kind in self.cue_columns)]
                for face in result.faces]


class DataFrameSink(Sink):
    """The frame table kept in memory, as a pandas DataFrame (:meth:`frame`): the rows and columns of
    ``<name>.frames.csv``, with a missing value as NaN (or None in a text column)."""

    def __init__(self, table: FrameTable):
        self.table = table
        self._rows: list[list] = []

    def write(self, result: FrameResult) -> None:
        self._rows.extend(self.table.rows(result))

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self._rows, columns=[name for name, _ in self.table.columns])


def _cell(value, kind: str):
    if kind == "flag":
        return int(bool(value))
    if value is None or kind == "text":
        return value
    return round(float(value), 4)


class FileSink(Sink):
    """A sink writing one file: under a hidden temporary name until :meth:`close` renames it into
    place; after a failed loop (:meth:`abort`) what was written is kept as ``<name>.partial.<ext>``,
    so no file under a final name is ever incomplete. A refused write (disk full, file too large)
    is one :class:`OutputError` naming the file, and leaves no temporary behind. Subclasses write
    to :attr:`temporary` in :meth:`write_file` and implement :meth:`finish`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.temporary = temporary_name(self.path)

    def write(self, result: FrameResult) -> None:
        try:
            self.write_file(result)
        except OSError as exc:
            raise write_failed(self.path, exc) from None

    def write_file(self, result: FrameResult) -> None:
        raise NotImplementedError

    def finish(self) -> bool:
        """Flush and close the writer; False when nothing was written (then no file is left)."""
        raise NotImplementedError

    def _finished(self) -> bool:
        try:
            return self.finish()
        except OSError as exc:
            self.temporary.unlink(missing_ok=True)
            raise write_failed(self.path, exc) from None

    def close(self) -> None:
        if self._finished():
            commit(self.temporary, self.path)

    def abort(self) -> None:
        try:
            written = self._finished()
        except OutputError:
            return  # the loop's own error is the one to report; nothing readable is left to keep
        if written:
            self.path = commit(self.temporary, partial_name(self.path))


class FrameTableSink(FileSink):
    """The per-frame table (see :class:`FrameTable`) as CSV, written row by row."""

    def __init__(self, path: Path, table: FrameTable):
        super().__init__(path)
        self.table = table
        self._file = self.temporary.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow([name for name, _ in table.columns])

    def write_file(self, result: FrameResult) -> None:
        self._writer.writerows(["" if v is None else v for v in row] for row in self.table.rows(result))

    def finish(self) -> bool:
        self._file.close()
        return True


class ParquetFrameTableSink(FileSink):
    """The same table as Parquet (typed columns, compressed, read by pandas/polars/DuckDB without
    parsing), written as a row group every ``rows_per_group`` rows so memory stays bounded."""

    def __init__(self, path: Path, table: FrameTable, rows_per_group: int = 4096):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise EmoscopeError("Parquet frame tables need pyarrow: pip install 'emoscope[parquet]'") from None
        super().__init__(path)
        self.table = table
        self.rows_per_group = rows_per_group
        types = {"id": pa.int64(), "time": pa.float64(), "value": pa.float32(), "text": pa.string(), "flag": pa.int8()}
        self._schema = pa.schema([(name, types[kind]) for name, kind in table.columns])
        self._pa = pa
        self._writer = pq.ParquetWriter(self.temporary, self._schema, compression="zstd")
        self._rows: list[list] = []

    def write_file(self, result: FrameResult) -> None:
        self._rows.extend(self.table.rows(result))
        if len(self._rows) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            columns = list(zip(*self._rows))
            self._writer.write_table(self._pa.table(
                [self._pa.array(column, type=field.type) for column, field in zip(columns, self._schema)],
                schema=self._schema))
            self._rows = []

    def finish(self) -> bool:
        self._flush()
        self._writer.close()
        return True


def check_frame_table_format(fmt: str) -> None:
    if fmt not in FRAME_TABLE_FORMATS:
        raise EmoscopeError(f"unknown frame table format {fmt!r} (choose {', '.join(FRAME_TABLE_FORMATS)})")


def frame_table_path(path_stem: Path, fmt: str) -> Path:
    """``<path_stem>.<fmt>``: where the frame table in ``fmt`` goes."""
    return path_stem.with_name(f"{path_stem.name}.{fmt}")


def frame_table_sink(path_stem: Path, table: FrameTable, fmt: str) -> FrameTableSink | ParquetFrameTableSink:
    """The frame table sink for ``fmt`` (csv | parquet), writing :func:`frame_table_path`."""
    check_frame_table_format(fmt)
    path = frame_table_path(path_stem, fmt)
    return FrameTableSink(path, table) if fmt == "csv" else ParquetFrameTableSink(path, table)


# -- video (annotated or not) ------------------------------------------------------------------------------
class VideoWriterSink(FileSink):
    """Writes each result as ``draw(result)`` renders it (by default the frame as it is): an MP4
    (mp4v codec), or a single image when ``path`` names an image file. The one video writer; what
    is drawn is the caller's choice, e.g. :func:`emoscope.video.draw.draw_faces`. OpenCV's writer
    drops frames without an error (a full disk, say), so the finished MP4's frame count is read back
    and a file short of what was written never gets a name (:meth:`check_frames`)."""

    def __init__(self, path: Path, fps: float,
                 draw: Callable[[FrameResult], np.ndarray] = lambda result: result.frame.image):
        super().__init__(path)
        self.fps = fps
        self.draw = draw
        self._is_image = self.path.suffix.lower() in WRITABLE_IMAGE_SUFFIXES
        self._writer = None
        self._written = False
        self._frames = 0
        if not self.path.parent.is_dir():
            raise EmoscopeError(f"{self.path}: its folder does not exist")

    def write_file(self, result: FrameResult) -> None:
        import cv2

        canvas = self.draw(result)
        if self._is_image:
            if not cv2.imwrite(str(self.temporary), canvas):
                raise OutputError(f"{self.path}: cannot write the annotated image")
            self._written = True
            return
        if self._writer is None:
            height, width = canvas.shape[:2]
            self._writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           (width, height))
            if not self._writer.isOpened():
                raise OutputError(f"{self.path}: cannot write an annotated video here")
            self._written = True
        self._writer.write(canvas)
        self._frames += 1

    def finish(self) -> bool:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            self.check_frames()
        return self._written

    def check_frames(self) -> None:
        """The written MP4 must hold every frame given to it; if not, it is removed (OutputError)."""
        import cv2

        capture = cv2.VideoCapture(str(self.temporary))
        try:
            found = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        finally:
            capture.release()
        if found < self._frames:  # more is fine: an interrupt can land between a finished write and its count
            self.temporary.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: the annotated video holds {found} of the {self._frames} frames "
                              "written (disk full?); not kept")


# -- alerts ---------------------------------------------------------------------------------------
class AlertSink(Sink):
    """Logs the alerts of each frame (:attr:`FrameResult.events`) and, with a webhook URL, POSTs
    them as JSON from a background thread.

    The video loop only puts the alert on a queue: a slow or dead webhook never stalls it. When the
    queue is full, the alert is logged as dropped instead of waiting.
    """

    def __init__(self, webhook_url: str | None = None, timeout: float = 2.0, max_pending: int = 100):
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise EmoscopeError(f"webhook must be an http(s) URL, got {webhook_url!r}")
        self.webhook_url = webhook_url
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread = None
        if webhook_url:
            self._thread = threading.Thread(target=self._deliver, name="emoscope-webhook", daemon=True)
            self._thread.start()

    def write(self, result: FrameResult) -> None:
        for event in result.events:
            self.send(event)

    def send(self, alert: dict) -> None:
        log.warning("panic alert: %s", json.dumps(alert))
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            log.warning("webhook queue full; alert dropped")

    def _deliver(self) -> None:
        while (alert := self._queue.get()) is not None:
            request = urllib.request.Request(self.webhook_url, data=json.dumps(alert).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):
                    self.delivered += 1
            except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
                self.failed += 1
                log.warning("webhook %s failed: %s", self.webhook_url, exc)

    def close(self, wait_s: float = 5.0) -> None:
        """Deliver what is queued (waiting at most ``wait_s``), then stop the thread."""
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=wait_s)
            except queue.Full:
                pass  # the thread is a daemon: it goes with the process
            self._thread.join(wait_s)
            self._thread = None
