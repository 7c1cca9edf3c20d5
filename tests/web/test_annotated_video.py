"""The annotated MP4 is read back after writing: a file holding fewer frames than were written (OpenCV's
writer drops them silently on a full disk, or the file is cut short) never gets its final name or a
.partial name; the error is one OutputError naming the file. A complete file still does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emoscope.errors import OutputError
from emoscope.video.sinks import VideoWriterSink

FRAMES = 12


class _ShortWriter:
    """cv2.VideoWriter that stops storing frames after ``keep`` (as on a full disk), or whose file is
    cut to ``cut`` of its size when released."""

    def __init__(self, path, *args, keep=None, cut=None):
        self.path, self.keep, self.cut = path, keep, cut
        self.inner, self.count = _real_writer(path, *args), 0

    def isOpened(self):
        return self.inner.isOpened()

    def write(self, frame):
        self.count += 1
        if self.keep is None or self.count <= self.keep:
            self.inner.write(frame)

    def release(self):
        self.inner.release()
        if self.cut is not None:
            with open(self.path, "r+b") as file:
                file.truncate(int(file.seek(0, 2) * self.cut))


_real_writer = cv2.VideoWriter


def _write(path) -> VideoWriterSink:
    """FRAMES frames of changing grey written through the sink (``draw`` takes the image as the result)."""
    sink = VideoWriterSink(path, fps=10.0, draw=lambda image: image)
    for index in range(FRAMES):
        sink.write(np.full((48, 64, 3), index * 20, np.uint8))
    return sink


def test_a_complete_annotated_video_gets_its_name(tmp_path):
    path = tmp_path / "clip.annotated.mp4"
    _write(path).close()
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    capture.release()
    assert [p.name for p in tmp_path.iterdir()] == ["clip.annotated.mp4"]


@pytest.mark.parametrize("short", [dict(keep=FRAMES // 2), dict(keep=0), dict(cut=0.5)],
                         ids=["half-the-frames-dropped", "every-frame-dropped", "file-cut-in-half"])
@pytest.mark.parametrize("ending", ["close", "abort"])
def test_a_short_annotated_video_never_gets_a_name(tmp_path, monkeypatch, short, ending):
    monkeypatch.setattr(cv2, "VideoWriter", lambda *args: _ShortWriter(*args, **short))
    path = tmp_path / "clip.annotated.mp4"
    sink = _write(path)
    if ending == "close":
        with pytest.raises(OutputError, match=rf"clip\.annotated\.mp4: the annotated video holds \d+ of the "
                                              rf"{FRAMES} frames"):
            sink.close()
    else:
        sink.abort()  # the loop's own error is the one reported; nothing of the short file is kept
    assert list(tmp_path.iterdir()) == []
