"""``emoscope live``: the desktop app's loop without Tk. An OpenCV window where a display exists and
OpenCV was built with a GUI (the headless wheel has none), otherwise headless; an optional annotated
MP4; one summary line per second; Ctrl+C (or SIGTERM) ends it and keeps what was written."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emoscope.gui.player import LivePlayer
from emoscope.gui.updates import LiveUpdate, live_options
from emoscope.video.source import open_source
from emoscope.video.sinks import VideoWriterSink

WINDOW = "emoscope live"


def opencv_window_available() -> bool:
    """A display to show on, and an OpenCV build that can open windows there."""
    import cv2

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    return bool(gui) and "NONE" not in gui[0].upper()


@dataclass
class LiveSummary:
    frames: int
    dropped: int
    seconds: float
    message: str
    out: Path | None
    interrupted: bool
    partial: bool = False  # the video ended early: damaged or truncated (the message says what is missing)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def describe_second(update: LiveUpdate, elapsed: float) -> str:
    """One line: time, fps, faces, the selected face's label and probability, panic, gesture."""
    line = f"{elapsed:6.1f}s  fps {update.fps:5.1f}  dropped {update.dropped:4d}"
    faces = update.result.faces if update.result is not None else []
    line += f"  faces {len(faces)}"
    for face in faces:
        line += f"  #{face.track_id} {face.label} {face.smoothed.max():.2f}"
        if face.data.get("panic_active"):
            line += " PANIC"
    if update.gesture:
        line += f"  gesture {update.gesture}"
    return line


def run_live(source: str | int, predictor, detector: str = "mediapipe", out: Path | None = None,
             max_seconds: float | None = None, realtime: bool = False, window: bool | None = None,
             say: Callable[[str], None] = print) -> LiveSummary:
    """Run ``source`` to its end, ``max_seconds``, the window's ``q``/Esc, or Ctrl+C."""
    window = opencv_window_available() if window is None else window
    opened = open_source(source, max_seconds)  # a bad source fails before the output is created
    player = LivePlayer(predictor, live_options(detector), realtime=realtime)
    if out is not None:
        player.sinks.append(VideoWriterSink(Path(out), fps=opened.fps, draw=player.annotate))
    player.start(opened)
    say(f"{opened.name}: {predictor.spec.name}, detector {detector}, "
        + ("window (q to quit)" if window else "headless") + (f", writing {out}" if out else ""))
    started = time.monotonic()
    next_line, last, said, message, interrupted = 1.0, None, None, "", False
    try:
        while True:
            try:
                update = player.updates.get(timeout=0.1)
            except queue.Empty:
                if not player.alive:
                    break
                continue
            if update.result is not None:
                last = update
            if update.message:
                message = update.message
            elapsed = time.monotonic() - started
            if last is not None and elapsed >= next_line:
                say(describe_second(last, elapsed))
                said, next_line = last, int(elapsed) + 1.0
            if window and update.canvas is not None and _show(update):
                break
            if update.ended:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        player.stop()
        if window:
            import cv2

            cv2.destroyAllWindows()
    seconds = time.monotonic() - started
    if last is not None and last is not said:  # the last frames' state, also for a run under a second
        say(describe_second(last, seconds))
    return LiveSummary(player.frames, player.dropped, seconds, message,
                       Path(out) if out is not None and Path(out).is_file() else None, interrupted,
                       partial=player.partial is not None and not interrupted)


def _show(update: LiveUpdate) -> bool:
    """Show the frame; True when the user asked to quit (q or Esc)."""
    import cv2

    cv2.imshow(WINDOW, update.canvas)
    return cv2.waitKey(1) & 0xFF in (ord("q"), 27)
