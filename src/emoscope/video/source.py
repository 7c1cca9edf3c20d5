"""Every input, from a name to frames: :func:`find_sources` turns what a user typed (a photo, a video, a
folder, a glob, a manifest CSV or a webcam index) into items, :func:`open_source` opens one as frames;
:class:`VideoSource` decodes a video file or webcam frame by frame with optional frame-rate sampling.

Frames are decoded one at a time, so memory stays flat however long the video is.
"""

from __future__ import annotations

import csv
import glob
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoscope.errors import DataError
from emoscope.faces.images import IMAGE_SUFFIXES, read_image

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
"""What a folder or glob counts as a video, by extension (photos: ``IMAGE_SUFFIXES``)."""

MANIFEST_METADATA = ("candidate", "question", "group")
"""Manifest columns copied into each item's metadata (a manifest needs only ``path``)."""


_END = object()  # end of the decoded stream

IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
                    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
"""Leading bytes of still-image formats, which OpenCV would otherwise open as a one-frame "video"."""

END_SLACK_S = 0.5
"""Containers may count a few more frames than they hold (seen: 98 counted, 95 decodable): a
shortfall at the end counts as damage only beyond this much video (or 2% of it)."""


def image_format(path: Path) -> str | None:
    """The still-image format a file's content is in (whatever its name says), or None."""
    with path.open("rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for signature, name in IMAGE_SIGNATURES if head.startswith(signature)), None)


@dataclass
class Completeness:
    """How much of the source was read: the container's frame count against what could be decoded."""

    frames_expected: int  # frames up to the end (or max_seconds); 0 when the source does not say
    frames_read: int = 0  # source frames decoded or skipped over by sampling
    skipped: list[tuple[int, int]] = field(default_factory=list)  # (first, last) frames that could not be decoded
    missing_at_end: int = 0  # frames counted by the container after the last one decoded

    def tolerated_end(self, fps: float) -> int:
        return max(int(END_SLACK_S * fps), int(0.02 * self.frames_expected))

    def complete(self, fps: float) -> bool:
        return not self.skipped and self.missing_at_end <= self.tolerated_end(fps)


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


MAX_WEBCAM_INDEX = 255  # /dev/video0 ... /dev/video255


def is_webcam(source: str | int | Path) -> bool:
    """A webcam index (an int, or text of digits) rather than a file."""
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def source_kind(path: str | Path) -> str | None:
    """"image" or "video" by the file's extension, None for neither."""
    suffix = Path(path).suffix.lower()
    return "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else None


@dataclass(frozen=True)
class SourceItem:
    path: str  # a file, or a webcam index as text
    kind: str  # "image", "video" or "webcam"
    metadata: dict = field(default_factory=dict)  # a manifest row's columns (MANIFEST_METADATA)


def find_sources(source: str | int | Path, others_as: str | None = None, webcams: bool = True) -> list[SourceItem]:
    """The items a source names, in a stable order: a webcam index (with ``webcams``), one file, the
    files of a folder (not recursive), of a glob (``**`` recurses) or of a manifest CSV (a ``path``
    column, relative to the manifest, plus :data:`MANIFEST_METADATA`; its rows are kept as given, so a
    missing file is that item's error later). In a folder or glob, files of neither kind are left out,
    or with ``others_as`` kept as that kind (``predict`` then says which file is not an image). A file
    named directly keeps its kind or ``others_as`` ("video" when neither)."""
    if webcams and is_webcam(source):
        _parse_source(source)
        return [SourceItem(str(int(source)), "webcam")]
    text = str(source)
    path = Path(text)
    if path.is_file() and path.suffix.lower() == ".csv":
        return [SourceItem(item, source_kind(item) or others_as or "video", metadata)
                for item, metadata in _manifest_rows(path)]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    elif glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    elif path.is_file():
        return [SourceItem(text, source_kind(path) or others_as or "video")]
    else:
        raise DataError(f"{text}: no such file, folder or glob match")
    items = [SourceItem(str(p), kind) for p in files if (kind := source_kind(p) or others_as) is not None]
    if not items:
        known = "files" if others_as else f"videos or photos (by extension: {', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)})"
        raise DataError(f"{text}: no {known} found")
    return items


def _manifest_rows(path: Path) -> list[tuple[str, dict]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            records = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the manifest ({exc})") from None
    if not records or "path" not in records[0]:
        raise DataError(f"{path}: a manifest needs a 'path' column and at least one row "
                        f"(optional: {', '.join(MANIFEST_METADATA)})")
    rows = []
    for record in records:
        item = Path((record.get("path") or "").strip())
        if not str(item) or str(item) == ".":
            continue
        # relative paths are relative to the manifest, so a manifest travels with its videos
        resolved = item if item.is_absolute() else path.parent / item
        rows.append((str(resolved), {key: record[key] for key in MANIFEST_METADATA if record.get(key)}))
    if not rows:
        raise DataError(f"{path}: the manifest lists no paths")
    return rows


@dataclass
class OpenedSource:
    """One photo, video or webcam as frames; closing releases the video or camera."""

    frames: Iterable[Frame]
    video: VideoSource | None  # None for a still image
    fps: float
    name: str  # for people: the file's name, or "webcam N"

    @property
    def still(self) -> bool:
        return self.video is None

    def close(self) -> None:
        if self.video is not None:
            self.video.close()

    def __enter__(self) -> OpenedSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(source: str | int | Path, max_seconds: float | None = None) -> OpenedSource:
    """A photo (by extension), a video file or a webcam index, opened now so that a bad one fails here,
    as one :class:`~emoscope.errors.DataError` line."""
    if is_webcam(source):
        import cv2

        # OpenCV logs its own warnings for a camera that is not there; our DataError says it in one line
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            video = VideoSource(int(source), max_seconds=max_seconds)
        finally:
            cv2.utils.logging.setLogLevel(level)
        return OpenedSource(video, video, video.info.fps, f"webcam {int(source)}")
    path = Path(source)
    if source_kind(path) == "image":
        return OpenedSource([Frame(0, 0.0, read_image(path))], None, 1.0, path.name)
    video = VideoSource(path, max_seconds=max_seconds)
    return OpenedSource(video, video, video.info.fps, path.name)


def _parse_source(source: str | int | Path) -> str | int:
    if is_webcam(source):
        if not 0 <= int(source) <= MAX_WEBCAM_INDEX:
            raise DataError(f"webcam {source}: no such camera index (0-{MAX_WEBCAM_INDEX})")
        return int(source)  # webcam index
    return str(source)


SINGLE_THREAD_DECODE_PIXELS = 1280 * 720
"""Files up to this frame size decode on one FFmpeg thread: on the 640x360 sample clip that takes 1.3 CPU ms
a frame instead of 1.6-1.8 with FFmpeg's own threads, at the same speed, and the video loop keeps the other
cores busy with its own stages. Larger frames take FFmpeg's threads, so decoding does not cap the loop."""


def open_capture(source: str | int):
    """An OpenCV capture of a webcam or file, decoding files up to :data:`SINGLE_THREAD_DECODE_PIXELS` on one thread."""
    import cv2

    if isinstance(source, int):
        return cv2.VideoCapture(source)
    # CAP_ANY, as without the thread count: naming FFmpeg would print OpenCV's own warning on a file it cannot open
    capture = cv2.VideoCapture(source, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])
    if capture.get(cv2.CAP_PROP_FRAME_WIDTH) * capture.get(cv2.CAP_PROP_FRAME_HEIGHT) > SINGLE_THREAD_DECODE_PIXELS:
        capture.release()
        return cv2.VideoCapture(source)
    return capture


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
            if path.is_dir():
                raise DataError(f"{path}: a folder, not a video file (`emoscope analyze` takes folders)")
            if not path.is_file():
                raise DataError(f"video not found: {path}")
            if path.stat().st_size == 0:
                raise DataError(f"{path}: empty file (0 bytes)")
            if (still := image_format(path)) is not None:
                raise DataError(f"{path}: a {still} image, not a video (for photos use `emoscope predict`)")
        self._cv2 = cv2
        self._capture = open_capture(self.source)
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
        self.decode_seconds = 0.0  # time spent in the decoder (the video loop's profile reads it)
        expected = self.info.frame_count
        if expected and max_seconds is not None:
            expected = min(expected, int(max_seconds * self.info.fps) + 1)  # frames with time <= max_seconds
        self.completeness = Completeness(expected)

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
            started = time.perf_counter()
            if index + 0.5 < next_kept:
                # grab() skips decoding the image: sampling stays cheap
                ok, image = self._capture.grab(), None
            else:
                ok, image = self._capture.read()
                ok = ok and image is not None
            self.decode_seconds += time.perf_counter() - started
            if not ok:
                resumed = self._resync(index)
                if resumed is None:
                    break
                self.completeness.skipped.append((index, resumed - 1))
                index = resumed
                continue  # the frame at `resumed` is read again in order
            self.completeness.frames_read += 1
            if image is not None:
                self.frames_decoded += 1
                yield Frame(index, index / self.info.fps, image)
                next_kept += step
            index += 1
        self.completeness.missing_at_end = max(0, self.completeness.frames_expected - index)

    def _resync(self, failed: int) -> int | None:
        """After a frame that cannot be decoded, the first later frame that can (seeking lands on the
        next keyframe), or None at the real end. Galloping then bisecting keeps this to a few dozen
        seeks. A seek counts only when the decoder really is at that frame afterwards: in a truncated
        file, OpenCV "succeeds" by returning the last good frame again."""
        last = self.completeness.frames_expected - 1
        if failed >= last:
            return None

        def decodable(frame: int) -> bool:
            self._capture.set(self._cv2.CAP_PROP_POS_FRAMES, frame)
            ok = self._capture.grab()
            return ok and int(self._capture.get(self._cv2.CAP_PROP_POS_FRAMES)) == frame + 1

        bad, probe, gap = failed, failed + 1, 1
        while not decodable(probe):
            if probe == last:
                return None
            bad, gap = probe, gap * 2
            probe = min(probe + gap, last)
        good = probe
        while good - bad > 1:  # the earliest decodable frame in (bad, good]
            middle = (bad + good) // 2
            bad, good = (bad, middle) if decodable(middle) else (middle, good)
        self._capture.set(self._cv2.CAP_PROP_POS_FRAMES, good)
        return good

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
