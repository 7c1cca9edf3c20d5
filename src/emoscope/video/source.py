"""Frame-by-frame video input (files or a webcam index) with optional frame-rate sampling.

Frames are decoded one at a time, so memory stays flat however long the video is.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.errors import DataError


_END = object()  # end of the decoded stream


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source, counting every decoded frame
    time: float  # seconds from the start
    image: np.ndarray  # uint8 HxWx3 BGR


@dataclass(frozen=True)
class VideoInfo:
    source: str
    fps: float
    frame_count: int  # 0 when unknown (webcam, some containers)
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.frame_count and self.fps else 0.0


def _parse_source(source: str | int | Path) -> str | int:
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return int(source)  # webcam index
    return str(source)


class VideoSource:
    """Iterate a video file or webcam as :class:`Frame` objects.

    ``sample_fps`` keeps about that many frames per second of video (all frames when ``None``
    or when the video is slower); ``max_seconds`` stops early (a webcam otherwise runs forever);
    ``prefetch`` bounds the decoded frames waiting in memory (0 decodes in the caller's thread).
    """

    def __init__(self, source: str | int | Path, sample_fps: float | None = None, max_seconds: float | None = None,
                 prefetch: int = 16):
        # FFmpeg would print its own lines ("moov atom not found") next to our one-line error
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        import cv2

        self.source = _parse_source(source)
        if isinstance(self.source, str):
            path = Path(self.source)
            if not path.is_file():
                raise DataError(f"video not found: {path}")
            if path.stat().st_size == 0:
                raise DataError(f"{path}: empty file (0 bytes)")
        self._capture = cv2.VideoCapture(self.source)
        if not self._capture.isOpened():
            what = f"webcam {self.source}" if isinstance(self.source, int) else self.source
            raise DataError(f"{what}: cannot open as video (corrupt file or unsupported codec)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.info = VideoInfo(
            source=str(self.source),
            fps=float(fps) if fps and 0 < fps < 1000 else 30.0,  # webcams and odd containers report 0
            frame_count=max(count, 0),
            width=int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.sample_fps = sample_fps
        self.max_seconds = max_seconds
        self.prefetch = prefetch
        self.frames_decoded = 0

    @property
    def step(self) -> float:
        """Source frames per kept frame (1 = keep every frame)."""
        if not self.sample_fps or self.sample_fps >= self.info.fps:
            return 1.0
        return self.info.fps / self.sample_fps

    def __iter__(self) -> Iterator[Frame]:
        """Frames in order. Decoding runs in a background thread ``prefetch`` frames ahead (OpenCV
        releases the GIL while decoding), so it overlaps with the analysis on a second core."""
        if self.prefetch <= 0:
            yield from self._decode()
            return
        frames: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce() -> None:
            end: object = _END
            try:
                for frame in self._decode():
                    while not stop.is_set():
                        try:
                            frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            except Exception as exc:  # raised in the consumer's thread, not lost with this one
                end = exc
            finally:
                frames.put(end)

        worker = threading.Thread(target=produce, name="emoscope-decode", daemon=True)
        worker.start()
        try:
            while (frame := frames.get()) is not _END:
                if isinstance(frame, Exception):
                    raise frame
                yield frame
        finally:
            stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    frames.get(timeout=0.1)
                except queue.Empty:
                    pass
            worker.join()

    def _decode(self) -> Iterator[Frame]:
        step, next_kept = self.step, 0.0
        index = 0
        while True:
            if self.max_seconds is not None and index / self.info.fps > self.max_seconds:
                break
            if index + 0.5 < next_kept:
                # grab() skips decoding the image: sampling stays cheap
                if not self._capture.grab():
                    break
                index += 1
                continue
            ok, image = self._capture.read()
            if not ok or image is None:
                break
            self.frames_decoded += 1
            yield Frame(index, index / self.info.fps, image)
            next_kept += step
            index += 1

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
