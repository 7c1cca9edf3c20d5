"""The live loop behind ``emoscope gui`` and ``emoscope live``: capture and inference on worker threads,
one :class:`LiveUpdate` per analysed frame on a queue for whoever shows it.

It is the streaming loop of :mod:`emoscope.video` (``VideoSource`` -> ``FrameAnalyzer`` -> sinks),
run one frame at a time so that what is shown is the newest frame, not one a batch behind:

* the capture thread reads frames (a video file paced at its own frame rate when ``realtime``) into
  a one-frame slot; when inference is still busy with the previous frame the new one replaces the
  waiting one, so a slow model drops frames instead of lagging behind the camera;
* the inference thread takes the slot's frame, analyses it (faces, tracks, cues; optionally the
  parts and the gestures), draws it and queues the update; it also runs the requests of the front
  end (record, select a face, change the model...) between frames, so none of that needs a lock.

Nothing raised on the worker threads reaches the terminal: errors end the stream with a message.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.gestures.draw import draw_gestures
from emoscope.gestures.stream import HELD, STARTED, HoldSmoother, gesture_result
from emoscope.gestures.vocabulary import DEFAULT_PHRASES
from emoscope.gui.parts import PartsReader
from emoscope.gui.updates import FrameSlot, LiveUpdate, with_panic_if_possible
from emoscope.report.builder import partial_note
from emoscope.report.sink import completeness_model
from emoscope.video.draw import draw_faces
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.results import FaceResult, FrameResult
from emoscope.video.sinks import Sink
from emoscope.video.source import Frame, OpenedSource, open_source

GESTURE_HOLD_FRAMES = 5
"""Frames a hand sign must hold before it is the gesture (as ``emoscope gesture`` does)."""
FPS_WINDOW_S = 1.0


_END = object()


class LivePlayer:
    """Runs one source through the loop until it ends or :meth:`stop`; create one per source.

    ``sinks`` receive every analysed :class:`FrameResult` (e.g. an annotated-video writer); the
    player closes them when it stops. ``gestures`` adds the held hand sign (``speaker`` says it).
    """

    def __init__(self, predictor, options: AnalysisOptions, parts: PartsReader | None = None,
                 gestures: bool = False, speaker=None, realtime: bool = True, sinks: list[Sink] = ()):
        self.predictor = predictor
        self.options = with_panic_if_possible(options, list(predictor.classes))
        self.parts_reader = parts
        self.gestures = gestures
        self.speaker = speaker
        self.realtime = realtime
        self.sinks = list(sinks)
        self.updates: queue.Queue[LiveUpdate] = queue.Queue(maxsize=2)
        self.source: OpenedSource | None = None
        self.show_parts = False
        self.selected_track: int | None = None
        self.frames = 0
        self.partial: str | None = None  # at the end of a damaged or truncated file: what it left out
        self._slot = FrameSlot()
        self._stop = threading.Event()
        self._ready = threading.Event()  # the analyzer exists: capture may start the clock
        self._paused = threading.Event()
        self._steps = 0
        self._steps_lock = threading.Lock()
        self._requests: queue.Queue[Callable[[], None]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._analyzer: FrameAnalyzer | None = None
        self._last: FrameResult | None = None
        self._times: deque[float] = deque()
        self._recording = None  # the ReportSink while recording
        self._gesture_classifier = None
        self._smoother: HoldSmoother | None = None

    # -- the front end's side (any thread) ---------------------------------------------------------------
    def start(self, source: str | int | Path | OpenedSource, max_seconds: float | None = None) -> OpenedSource:
        """Open ``source`` (a bad one raises DataError here, before any thread starts) and run it."""
        self.source = source if isinstance(source, OpenedSource) else open_source(source, max_seconds)
        self._threads = [threading.Thread(target=self._capture, name="emoscope-capture", daemon=True),
                         threading.Thread(target=self._infer, name="emoscope-infer", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self.source

    @property
    def still(self) -> bool:
        return self.source is not None and self.source.video is None

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    def step(self) -> None:
        """Analyse the next frame, then stay paused."""
        with self._steps_lock:
            self._steps += 1
        self._paused.set()

    def request(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the inference thread, between frames."""
        self._requests.put(action)

    def set_parts(self, on: bool) -> None:
        self.request(lambda: self._set_parts(on))

    def select(self, track_id: int | None) -> None:
        self.request(lambda: self._select(track_id))

    def reconfigure(self, predictor, options: AnalysisOptions) -> None:
        """Switch model or detector from the next frame on (tracks and cues start afresh)."""
        self.request(lambda: self._reconfigure(predictor, options))

    def start_recording(self, out_dir: Path, stem: str) -> None:
        self.request(lambda: self._start_recording(Path(out_dir), stem))

    def stop_recording(self) -> None:
        self.request(self._stop_recording)

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 10.0) -> None:
        """End both threads, close the sinks (a recording is written) and release the capture."""
        self._stop.set()
        self._slot.close()
        for thread in self._threads:
            thread.join(timeout)
        if self.source is not None and self.source.video is not None:
            self.source.video.close()

    # -- capture thread ------------------------------------------------------------------------------
    def _wait_while_paused(self) -> bool:
        """True when a frame may be read now (a step, or not paused); False when stopping."""
        while self._paused.is_set() and not self._stop.is_set():
            with self._steps_lock:
                if self._steps:
                    self._steps -= 1
                    return True
            self._stop.wait(0.02)
        return not self._stop.is_set()

    def _capture(self) -> None:
        source = self.source
        webcam = source.video is not None and isinstance(source.video.source, int)
        pace = self.realtime and source.video is not None and not webcam
        clock_offset = None
        end: object = _END
        while not self._ready.wait(0.05):  # models and detectors load first, or a paced file drops its start
            if self._stop.is_set():
                return
        frames = iter(source.frames)
        try:
            for frame in frames:
                was_paused = self._paused.is_set()
                if not self._wait_while_paused():
                    return
                if was_paused or clock_offset is None:
                    clock_offset = time.monotonic() - frame.time  # the clock restarts after a pause
                if pace:
                    self._stop.wait(max(0.0, clock_offset + frame.time - time.monotonic()))
                # Drop (never block) for a paced file or a camera, unless this frame was asked for.
                self._slot.put(frame, wait=was_paused or not (pace or webcam))
                if self._stop.is_set():
                    return
        except EmoscopeError as exc:
            end = exc
        except Exception as exc:  # noqa: BLE001 - a decoder failure ends the stream with a message
            end = EmoscopeError(f"{source.name}: reading stopped ({type(exc).__name__}: {exc})")
        finally:
            if source.video is not None:
                frames.close()  # ends the source's decoding thread, which must not read a released capture
                source.video.close()  # the end of a video or a camera releases it at once
        self._slot.put(end, wait=True)

    # -- inference thread ----------------------------------------------------------------------------
    def _infer(self) -> None:
        try:
            self._analyzer = FrameAnalyzer(self.predictor, self.options)
            if self.gestures:
                self._open_gestures()
            self._ready.set()
            ended = False
            while not self._stop.is_set():
                self._run_requests()
                item = self._slot.take(timeout=0.05)
                if item is None or ended:
                    continue
                if item is _END or isinstance(item, EmoscopeError):
                    ended = True
                    self._end(str(item) if isinstance(item, EmoscopeError) else self._end_message())
                    continue
                self._analyse(item)
        except EmoscopeError as exc:
            self._emit(message=f"error: {exc}", ended=True)
        except Exception as exc:  # noqa: BLE001 - the app stays up and says what happened
            self._emit(message=f"error: {type(exc).__name__}: {exc}", ended=True)
        finally:
            self._shutdown()

    def _run_requests(self) -> None:
        while True:
            try:
                action = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                action()
            except EmoscopeError as exc:
                self._emit(message=f"error: {exc}")

    def _analyse(self, frame: Frame) -> None:
        result = next(iter(self._analyzer.run([frame])))
        if self._gesture_classifier is not None:
            held = gesture_result(frame, self._gesture_classifier.classify(frame.image, frame.index, frame.time),
                                  self._smoother)
            result.data.update(held.data)
            if self.speaker is not None and held.data[STARTED]:
                self.speaker.say(DEFAULT_PHRASES[held.data[STARTED]])
        self.frames += 1
        now = time.monotonic()
        self._times.append(now)
        while now - self._times[0] > FPS_WINDOW_S:
            self._times.popleft()
        for sink in self.sinks:
            sink.write(result)
        if self._recording is not None:
            self._recording.write(result)
        self._last = result
        self._emit(result)

    def _end_message(self) -> str:
        if self.still:
            return f"{self.source.name}: {len(self._last.faces) if self._last else 0} face(s)"
        if self.frames == 0:
            return f"{self.source.name}: no frame could be decoded (empty, truncated or unsupported video)"
        video = self.source.video
        if isinstance(video.source, int):
            return f"{self.source.name}: the camera stopped sending frames ({self.frames} analysed)"
        message = f"{self.source.name}: end of video ({self.frames} frames analysed, {self._slot.dropped} dropped)"
        read = completeness_model(video)
        if not read.complete:  # said as `emoscope analyze` says it, so a cut file is never taken for a short one
            self.partial = partial_note(read, video.info.fps)
            message += f"; {self.partial}"
        return message

    def _end(self, message: str) -> None:
        if self._recording is not None:
            message += "; " + self._stop_recording(announce=False)
        self._emit(self._last, message=message, ended=True)

    def annotate(self, result: FrameResult) -> np.ndarray:
        """The frame as shown: faces (box, track id, label) and, with gestures, hands and the held sign."""
        canvas = draw_faces(result)
        if HELD in result.data:
            canvas = draw_gestures(replace(result, frame=replace(result.frame, image=canvas)))
        return canvas

    def selected_face(self, result: FrameResult | None) -> FaceResult | None:
        """The chosen track's face, else the largest face."""
        if result is None or not result.faces:
            return None
        for face in result.faces:
            if face.track_id == self.selected_track:
                return face
        return max(result.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))

    def _emit(self, result: FrameResult | None = None, message: str = "", ended: bool = False) -> None:
        face = self.selected_face(result)
        parts = None
        if self.show_parts and self.parts_reader is not None and face is not None and face.crop is not None:
            parts = self.parts_reader.read(face.crop, self.predictor)
        fps = (len(self._times) - 1) / (self._times[-1] - self._times[0]) if len(self._times) > 1 else 0.0
        update = LiveUpdate(result, None if result is None else self.annotate(result), face, parts,
                            result.data.get(HELD) if result is not None else None, fps, self.dropped,
                            self.frames, list(self.predictor.classes), message, ended)
        # Never wait for the front end: if it has not taken the last updates, the oldest frame goes.
        while True:
            try:
                self.updates.put_nowait(update)
                return
            except queue.Full:
                try:
                    dropped = self.updates.get_nowait()
                except queue.Empty:
                    continue
                if dropped.message and not update.message:  # a message outlives the frame it came with
                    update.message, update.ended = dropped.message, dropped.ended or update.ended

    # requests, on the inference thread
    def _set_parts(self, on: bool) -> None:
        self.show_parts = on
        if self._last is not None:
            self._emit(self._last)

    def _select(self, track_id: int | None) -> None:
        self.selected_track = track_id
        if self._last is not None:
            self._emit(self._last)

    def _reconfigure(self, predictor, options: AnalysisOptions) -> None:
        note = self._stop_recording(announce=False) if self._recording is not None else ""
        self._analyzer.close()
        self.predictor = predictor
        self.options = with_panic_if_possible(options, list(predictor.classes))
        self._analyzer = FrameAnalyzer(predictor, self.options)
        self._emit(message=f"model {predictor.spec.name}, detector {self.options.detector}"
                   + (f"; {note}" if note else ""))

    def _open_gestures(self) -> None:
        from emoscope.gestures.classifier import GestureClassifier

        self._gesture_classifier = GestureClassifier(still=self.still)
        self._smoother = HoldSmoother(1 if self.still else GESTURE_HOLD_FRAMES)  # a photo is one frame

    def _start_recording(self, out_dir: Path, stem: str) -> None:
        from emoscope.files import ensure_writable_folder
        from emoscope.report.builder import ReportBuilder
        from emoscope.report.sink import ReportSink

        video = self.source.video
        if video is None:
            raise EmoscopeError("recording needs a video or a webcam, not a still image (use snapshot)")
        if self._recording is not None:
            return
        builder = ReportBuilder(list(self.predictor.classes), frame_dt=video.step / video.info.fps,
                                cues=self._analyzer.cues)
        sink = ReportSink(builder, video, self.predictor, self.options, ensure_writable_folder(out_dir), stem,
                          metadata={"source": "emoscope gui", "recorded": "the frames the app showed"})
        self._recording = sink
        self._emit(message=f"recording into {out_dir} ({stem}.report.json/.html when stopped)")

    def _stop_recording(self, announce: bool = True) -> str:
        if self._recording is None:
            return ""
        sink, self._recording = self._recording, None
        try:
            sink.close()
            note = f"report written: {sink.html_path}"
        except EmoscopeError as exc:
            note = f"no report: {exc}"
        if announce:
            self._emit(message=note)
        return note

    def _shutdown(self) -> None:
        if self._recording is not None:
            self._stop_recording(announce=False)
        for closing in [sink.close for sink in self.sinks] + [
                getattr(self._analyzer, "close", None), getattr(self._gesture_classifier, "close", None),
                getattr(self.speaker, "close", None)]:
            if closing is None:
                continue
            try:
                closing()
            except EmoscopeError as exc:
                self._emit(message=f"error: {exc}", ended=True)
