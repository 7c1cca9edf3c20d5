"""The streaming analysis loop: frames in, :class:`FrameResult` out, constant memory.

Per frame: detect faces, crop them to the model's input spec, and (optionally) run the face mesh
for eyes and gaze and the hand tracker for face touching. Crops of ``batch_frames`` frames are
classified in one batch (a batch of crops is many times faster per face than one call per frame),
then each frame is tracked, smoothed and passed through the per-person cue detectors in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emoscope.cues.blinks import BlinkDetector, eye_aspect_ratio
from emoscope.cues.debounce import Debouncer
from emoscope.cues.gaze import gaze_direction
from emoscope.cues.panic import CrowdMonitor, panic_columns
from emoscope.cues.touch import hand_touches_face
from emoscope.data.labels import PANIC_CLASSES
from emoscope.faces import Detections, create_detector, crop_faces
from emoscope.video.results import FaceResult, FrameResult
from emoscope.video.source import Frame
from emoscope.video.tracking import EmaSmoother, FaceTracker
from emoscope.video.workers import RoundRobinWorkers


LOOKAHEAD_PER_WORKER = 2
"""Frames per detector thread whose detection and face mesh may run ahead of the frame being classified."""


class AnalysisOptions(BaseModel):
    """What the loop measures and how; saved into every report."""

    model_config = ConfigDict(extra="forbid")

    detector: str = Field("mediapipe", description="mediapipe | mediapipe-full | haar | mtcnn")
    min_face_score: float = Field(0.5, ge=0, le=1)
    detect_workers: int = Field(2, ge=1, description="detector instances on alternate frames, each on its own "
                                "thread (one MediaPipe detector keeps about one core busy)")
    align: bool = Field(True, description="rotate crops so the eyes are level")
    clahe: bool = Field(False, description="CLAHE contrast enhancement of crops")
    batch_frames: int = Field(16, ge=1, description="frames whose faces are classified in one batch")
    ema_alpha: float = Field(0.3, gt=0, le=1, description="weight of the newest frame in the EMA")
    blinks: bool = True
    gaze: bool = True
    touches: bool = True
    hands_every: int = Field(4, ge=1, description="run the hand tracker on every Nth frame; a touch lasts "
                             "seconds, and hands are the costliest stage (~35 ms a frame on 2 cores)")
    touch_enter_frames: int = Field(3, ge=1, description="touching frames in a row that start an episode")
    touch_exit_frames: int = Field(5, ge=1, description="frames without touching that end an episode")
    panic: bool = Field(False, description="score panic per person and watch the crowd")
    panic_classes: list[str] = Field(default_factory=lambda: list(PANIC_CLASSES),
                                     description="expressions whose probabilities add up to the panic score")
    panic_threshold: float = Field(0.5, gt=0, le=1, description="smoothed panic score that counts as panic")
    panic_enter_frames: int = Field(5, ge=1, description="frames above the threshold that start an episode")
    panic_exit_frames: int = Field(10, ge=1, description="frames below it that end an episode")
    crowd_level: float = Field(0.3, gt=0, le=1, description="share of visible faces in panic that raises an alert")
    max_faces: int = Field(4, ge=1, description="faces tracked by the face mesh")
    track_iou: float = Field(0.3, gt=0, le=1)
    track_max_missed: int = Field(15, ge=0, description="frames a track survives without its face")

    @property
    def uses_mesh(self) -> bool:
        return self.blinks or self.gaze


@dataclass
class _Perceived:
    """A frame after detection and landmarking, waiting for its batch to be classified."""

    frame: Frame
    boxes: np.ndarray
    scores: np.ndarray
    crops: list[np.ndarray]
    ears: list[float | None]
    gazes: list[str | None]
    touching: list[bool]
    hands: int


class FrameAnalyzer:
    """Runs the loop for one video; create a new one per video (tracks and cues are stateful)."""

    def __init__(self, predictor, options: AnalysisOptions | None = None, detector=None, on_alert=None):
        """``detector``, a ready instance, replaces ``options.detector`` and runs alone (it may keep
        state between frames); ``on_alert(dict)`` receives crowd panic alerts (e.g. :meth:`AlertSender.send`)."""
        self.predictor = predictor
        self.options = options or AnalysisOptions()
        detectors = [detector] if detector is not None else [
            create_detector(self.options.detector, min_score=self.options.min_face_score)
            for _ in range(self.options.detect_workers)]
        self._detection = RoundRobinWorkers(detectors, "detect")
        self.mesh = self.hands = None
        if self.options.uses_mesh or self.options.touches:
            from emoscope.video.landmarks import FaceMeshRunner, HandsRunner

            self.mesh = FaceMeshRunner(self.options.max_faces) if self.options.uses_mesh else None
            self.hands = HandsRunner() if self.options.touches else None
        self.tracker = FaceTracker(self.options.track_iou, max_missed=self.options.track_max_missed)
        self.smoother = EmaSmoother(self.options.ema_alpha)
        self.blinkers: dict[int, BlinkDetector] = {}
        self.touchers: dict[int, Debouncer] = {}
        self.panickers: dict[int, Debouncer] = {}
        self.classes = list(predictor.classes)
        self.panic_columns = panic_columns(self.classes, self.options.panic_classes) if self.options.panic else None
        self.crowd = CrowdMonitor(self.options.crowd_level)
        self.on_alert = on_alert
        self._frames_seen = 0
        self._last_hands = np.zeros((0, 21, 2), np.float32)
        self._hands_pending: Future | None = None
        self._hands_pool = ThreadPoolExecutor(1, thread_name_prefix="emoscope-hands") if self.hands else None
        self._mesh_pool = ThreadPoolExecutor(1, thread_name_prefix="emoscope-mesh") if self.mesh else None

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Results in frame order. Detection with cropping, and the face mesh, of the frames ahead run
        on worker threads (MediaPipe and OpenCV release the GIL) while this thread classifies and
        tracks; each worker sees its frames in order, so results do not depend on timing."""
        lookahead = LOOKAHEAD_PER_WORKER * len(self._detection.instances)
        window: list[_Perceived] = []
        started: deque[tuple[Frame, Future, Future | None]] = deque()

        def drain(keep: int) -> Iterator[FrameResult]:
            nonlocal window
            while len(started) > keep:
                window.append(self._perceive(*started.popleft()))
                if len(window) >= self.options.batch_frames:
                    yield from self._finish(window)
                    window = []

        for frame in frames:
            started.append((frame, self._detection.submit(self._detect_and_crop, frame.image),
                            self._mesh_pool.submit(self.mesh, frame.image) if self.mesh is not None else None))
            yield from drain(lookahead)
        yield from drain(0)
        if window:
            yield from self._finish(window)

    def close(self) -> None:
        self._detection.close()
        for pool in (self._hands_pool, self._mesh_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        for part in (self.mesh, self.hands):
            if part is not None:
                part.close()

    # -- stage 1: per frame, in decode order ---------------------------------------------------
    def _detect_and_crop(self, detector, image: np.ndarray) -> tuple[Detections, list[np.ndarray]]:
        """On a detector's thread: cropping is per-frame work too, and OpenCV releases the GIL."""
        detections = detector.detect(image)
        return detections, crop_faces(image, detections, self.predictor.spec, align=self.options.align,
                                      clahe=self.options.clahe)

    def _perceive(self, frame: Frame, detecting: Future, mesh_pending: Future | None) -> _Perceived:
        from emoscope.video.landmarks import match_to_boxes

        detections, crops = detecting.result()
        boxes = detections.boxes
        ears: list[float | None] = [None] * len(boxes)
        gazes: list[str | None] = [None] * len(boxes)
        if mesh_pending is not None:
            meshes = mesh_pending.result()
            for i, j in enumerate(match_to_boxes(meshes, boxes)):
                if j >= 0:
                    ears[i] = eye_aspect_ratio(meshes[j]) if self.options.blinks else None
                    gazes[i] = gaze_direction(meshes[j]) if self.options.gaze else None
        hands = self._hands_for(frame)
        touching = [hand_touches_face(hands, box) for box in boxes]
        return _Perceived(frame, boxes, detections.scores, crops, ears, gazes, touching, len(hands))

    def _hands_for(self, frame: Frame) -> np.ndarray:
        """Hand landmarks, refreshed every ``hands_every`` frames and held in between.

        The hand tracker runs on a worker thread, in parallel with detection and the face mesh on
        this one (MediaPipe releases the GIL). To stay deterministic, frame k waits for the result
        of frame k - hands_every, submitted one period earlier: touches lag by one period (a few
        hundredths of a second at video rates), never by however long the thread happened to take.
        """
        if self.hands is None:
            return self._last_hands
        if self._frames_seen % self.options.hands_every == 0:
            if self._hands_pending is not None:
                self._last_hands = self._hands_pending.result()
            self._hands_pending = self._hands_pool.submit(self.hands, frame.image)
        self._frames_seen += 1
        return self._last_hands

    # -- stage 2: one classifier call per window, then tracking and cues in order --------------
    def _finish(self, window: list[_Perceived]) -> Iterator[FrameResult]:
        crops = [crop for item in window for crop in item.crops]
        probs = self.predictor.predict_proba(crops) if crops else np.zeros((0, len(self.classes)), np.float32)
        offset = 0
        for item in window:
            frame_probs = probs[offset : offset + len(item.crops)]
            offset += len(item.crops)
            yield self._track(item, frame_probs)

    def _track(self, item: _Perceived, probs: np.ndarray) -> FrameResult:
        frame = item.frame
        ids = self.tracker.update(item.boxes)
        self._forget(self.tracker.dropped)
        result = FrameResult(frame, hands=item.hands)
        for i, track_id in enumerate(ids):
            track_id = int(track_id)
            smoothed = self.smoother.update(track_id, probs[i])
            face = FaceResult(track_id, item.boxes[i], float(item.scores[i]), probs[i], smoothed,
                              self.classes[int(np.argmax(smoothed))], gaze=item.gazes[i])
            if item.ears[i] is not None:
                blinker = self.blinkers.setdefault(track_id, BlinkDetector())
                face.ear = item.ears[i]
                face.blink = blinker.update(item.ears[i], frame.time)
                face.eyes_closed = blinker.eyes_closed
            if self.hands is not None:
                toucher = self.touchers.setdefault(
                    track_id, Debouncer(self.options.touch_enter_frames, self.options.touch_exit_frames))
                face.touch_started = toucher.update(item.touching[i], frame.time)
                face.hand_on_face = item.touching[i]
                face.touching = toucher.active
            if self.panic_columns is not None:
                self._score_panic(face, frame.time)
            result.faces.append(face)
        if self.panic_columns is not None and result.faces:
            alert = self.crowd.update(frame.time, len(result.faces), sum(f.panic_active for f in result.faces))
            if alert is not None:
                result.crowd_alert = alert.as_dict()
                if self.on_alert is not None:
                    self.on_alert(result.crowd_alert)
        return result

    def _score_panic(self, face: FaceResult, time: float) -> None:
        face.panic = float(face.smoothed[self.panic_columns].sum())
        panicker = self.panickers.setdefault(
            face.track_id, Debouncer(self.options.panic_enter_frames, self.options.panic_exit_frames))
        face.panic_above = face.panic >= self.options.panic_threshold
        face.panic_started = panicker.update(face.panic_above, time)
        face.panic_active = panicker.active

    def _forget(self, track_ids: list[int]) -> None:
        self.smoother.forget(track_ids)
        for track_id in track_ids:
            self.blinkers.pop(track_id, None)
            self.touchers.pop(track_id, None)
            self.panickers.pop(track_id, None)
