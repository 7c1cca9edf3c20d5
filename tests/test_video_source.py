import threading

import cv2
import numpy as np
import pytest

from emoscope.video.source import VideoSource


@pytest.fixture
def numbered_video(tmp_path):
    """40 frames at 20 fps whose brightness encodes the frame number."""
    path = tmp_path / "n.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (64, 48))
    for i in range(40):
        writer.write(np.full((48, 64, 3), i * 6, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("prefetch", [0, 4])
def test_frames_come_in_order_with_times(numbered_video, prefetch):
    with VideoSource(numbered_video, prefetch=prefetch) as video:
        frames = list(video)
    assert [f.index for f in frames] == list(range(40))
    assert frames[10].time == pytest.approx(0.5)
    brightness = [f.image.mean() for f in frames]
    assert np.all(np.diff(brightness) > 0)  # decoded in order, none dropped or repeated


def test_sampling_and_max_seconds(numbered_video):
    with VideoSource(numbered_video, sample_fps=5) as video:
        assert [f.index for f in video] == list(range(0, 40, 4))
    with VideoSource(numbered_video, max_seconds=0.5) as video:
        assert len(list(video)) == 11


def test_stopping_early_ends_the_decode_thread(numbered_video):
    before = threading.active_count()
    with VideoSource(numbered_video, prefetch=2) as video:
        for frame in video:
            if frame.index == 3:
                break
    assert threading.active_count() == before


def test_a_decode_error_reaches_the_consumer(numbered_video, monkeypatch):
    """An error in the decode thread is raised where the frames are read, after the frames before it."""
    def failing_decode(self):
        yield from list(original(self))[:5]
        raise RuntimeError("decoder broke")

    original = VideoSource._decode
    monkeypatch.setattr(VideoSource, "_decode", failing_decode)
    seen = []
    with VideoSource(numbered_video, prefetch=4) as video, pytest.raises(RuntimeError, match="decoder broke"):
        for frame in video:
            seen.append(frame.index)
    assert seen == [0, 1, 2, 3, 4]
