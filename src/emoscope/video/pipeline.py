"""The streaming analysis loop: frames in, :class:`FrameResult` out, constant memory.

Per frame: detect faces (or, with ``detect_every`` > 1, follow the last detected faces by optical
flow between detections), crop them to the model's input spec, and (optionally) run the face mesh
for eyes and gaze and the hand tracker for face touching. Crops of ``batch_frames`` frames are
classified in one batch (a batch of crops is many times faster per face than one call per frame),
then each frame is tracked, smoothed and passed through the cues (:mod:`emoscope.cues`) in order.
Every stage's busy time is summed in :attr:`FrameAnalyzer.profile` (:mod:`emoscope.video.profile`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emoscope.cues.base import HANDS, MESH, Cue, FaceObservation, create_cues, option_values
from emoscope.faces import Detections, classify_views, create_detector, crop_faces, framing_zooms, list_detectors
from emoscope.video.profile import StageProfile
from emoscope.video.results import FaceResult, FrameResult
from emoscope.video.source import Frame
from emoscope.video.tracking import DetectionSchedule, EmaSmoother, FaceFollower, FaceTracker
from emoscope.video.workers import RoundRobinWorkers


LOOKAHEAD_PER_WORKER = 2
"""Frames per detector thread whose detection and face mesh may run ahead of the frame being classified."""


class AnalysisOptions(BaseModel):
    """What the loop measures and how; saved into every report. Besides these fields it takes every
    registered cue's options (:attr:`emoscope.cues.base.Cue.Options`: ``blinks``, ``touches``,
    ``panic_threshold``...), checked by their cue, defaults filled in; any other name is an error."""

    model_config = ConfigDict(extra="allow")

    detector: str = Field("mediapipe", description="face detector, one of emoscope.faces.list_detectors()")
    min_face_score: float = Field(0.5, ge=0, le=1)
    detect_workers: int = Field(2, ge=1, description="detector instances on alternate frames, each on its own "
                                "thread (one MediaPipe detector keeps about one core busy)")
    detect_every: int = Field(5, ge=1, description="run the face detector on every Nth frame and follow steadily "
                              "detected faces by optical flow in between (a lost or doubtful face, a change in the "
                              "number of faces, a frame without faces and a scene cut are detected at once); 1: "
                              "detect every frame (`emoscope bench video --agreement` compares the two)")
    align: bool = Field(True, description="rotate crops so the eyes are level")
    clahe: bool = Field(False, description="CLAHE contrast enhancement of crops")
    framing_views: bool = Field(False, description="classify each face as the mean over crops at 0.9, 1.0 and "
                                "1.1x its framing (3x the classifier's work; narrows what detector framing costs)")
    batch_frames: int = Field(16, ge=1, description="frames whose faces are classified in one batch")
    ema_alpha: float = Field(0.3, gt=0, le=1, description="weight of the newest frame in the EMA")
    hands_every: int = Field(4, ge=1, description="run the hand tracker on every Nth frame; a touch lasts "
                             "seconds, and hands are the costliest stage (~35 ms a frame on 2 cores)")
    hands_search_every: int = Field(2, ge=1, description="while the hand tracker follows one hand, it looks for a "
                                    "second only on every Nth of its runs (a full search of the frame, its costliest "
                                    "part); with none in view it looks on every run; 1: look on every run")
    max_faces: int = Field(4, ge=1, description="faces tracked by the face mesh")
    track_iou: float = Field(0.3, gt=0, le=1)
    track_max_missed: int = Field(15, ge=0, description="frames a track survives without its face")

    @model_validator(mode="before")
    @classmethod
    def _cue_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = {name: value for name, value in data.items() if name in cls.model_fields}
        return own | option_values({name: value for name, value in data.items() if name not in cls.model_fields})

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, name: str) -> str:
        if name not in list_detectors():
            raise ValueError(f"unknown face detector {name!r} (choose {', '.join(list_detectors())})")
        return name



_opencv_lock = threading.Lock()
_opencv_loops = 0  # loops running in this process
_opencv_threads = 0  # OpenCV's thread count before the first of them


@contextmanager
def opencv_single_threaded():
    """OpenCV without its own thread pool while video loops run: the loop already keeps every core busy
    with its own threads (decoding, detection, mesh, hands, classification), and splitting each small
    resize, warp or colour conversion across the pool as well costs more in hand-offs than it saves.
    The last loop to finish restores the pool."""
    import cv2

    global _opencv_loops, _opencv_threads
    with _opencv_lock:
        if _opencv_loops == 0:
            _opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_loops += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_loops -= 1
            if _opencv_loops == 0:
                cv2.setNumThreads(_opencv_threads)


@dataclass
class _Perceived:
    """A frame after detection and landmarking, waiting for its batch to be classified."""

    frame: Frame
    boxes: np.ndarray
    scores: np.ndarray
    crops: list[np.ndarray]  # each face's crops, one per zoom of the framing views (the first: 1.0x)
    meshes: list[np.ndarray | None]  # each face's face-mesh landmarks, None when not found
    hands: np.ndarray  # (N, 21, 2) hand landmarks


class FrameAnalyzer:
    """Runs the loop for one video; create a new one per video (tracks and cues are stateful)."""

    def __init__(self, predictor, options: AnalysisOptions | None = None, detector=None,
                 cues: list[Cue] | None = None):
        """``detector``, a ready instance, replaces ``options.detector`` and runs alone (it may keep
        state between frames; the caller closes it); ``cues`` replaces the registered cues
        (:func:`emoscope.cues.create_cues`), e.g. to share them with a report builder."""
        self.predictor = predictor
        self.options = options or AnalysisOptions()
        self.classes = list(predictor.classes)
        self._zooms = framing_zooms(self.options.framing_views)
        self.cues = create_cues(self.options, self.classes) if cues is None else cues
        self._active = [cue for cue in self.cues if cue.enabled]
        needs = set().union(*(cue.needs for cue in self._active))
        detectors = [detector] if detector is not None else [
            create_detector(self.options.detector, min_score=self.options.min_face_score)
            for _ in range(self.options.detect_workers)]
        self._detection = RoundRobinWorkers(detectors, "detect", owns_instances=detector is None)
        self.schedule = DetectionSchedule(self.options.detect_every)
        self._follower = FaceFollower() if self.options.detect_every > 1 else None
        self._follow_pool = ThreadPoolExecutor(1, thread_name_prefix="emoscope-follow") if self._follower else None
        self.profile = StageProfile()
        self.mesh = self.hands = None
        if needs:
            from emoscope.video.landmarks import FaceMeshRunner, HandsRunner

            self.mesh = FaceMeshRunner(self.options.max_faces) if MESH in needs else None
            self.hands = HandsRunner(search_every=self.options.hands_search_every) if HANDS in needs else None
        self.tracker = FaceTracker(self.options.track_iou, max_missed=self.options.track_max_missed)
        self.smoother = EmaSmoother(self.options.ema_alpha)
        self._last_hands = np.zeros((0, 21, 2), np.float32)
        self._hands_pending: Future | None = None
        self._hands_pool = ThreadPoolExecutor(1, thread_name_prefix="emoscope-hands") if self.hands else None
        self._mesh_pool = ThreadPoolExecutor(1, thread_name_prefix="emoscope-mesh") if self.mesh else None

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Results in frame order. Detection or following with cropping, and the face mesh, of the
        frames ahead run on worker threads (MediaPipe and OpenCV release the GIL) while this thread classifies and
        tracks; each worker sees its frames in order, so results do not depend on timing. The time
        the caller takes between results is the profile's ``sinks``; a source's ``decode_seconds``
        (:class:`~emoscope.video.source.VideoSource`) its ``decode``."""
        try:
            with opencv_single_threaded():
                for result in self._results(frames):
                    handed_over = time.perf_counter()
                    yield result
                    self.profile.add("sinks", time.perf_counter() - handed_over)
        finally:
            self.profile.add("decode", getattr(frames, "decode_seconds", 0.0))

    def _results(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        # With detections only every Nth frame, look further ahead so one is always under way, but no
        # further than the classifier's batch, which results wait for anyway (a live view keeps its latency).
        per_workers = LOOKAHEAD_PER_WORKER * len(self._detection.instances)
        lookahead = max(per_workers, min(per_workers * self.options.detect_every, self.options.batch_frames))
        window: list[_Perceived] = []
        started: deque[tuple[Frame, Future, Future | None, Future | None]] = deque()

        def drain(keep: int) -> Iterator[FrameResult]:
            nonlocal window
            while len(started) > keep:
                window.append(self._perceive(*started.popleft()))
                if len(window) >= self.options.batch_frames:
                    yield from self._finish(window)
                    window = []

        for position, frame in enumerate(frames):
            detecting = (self._detection.submit(self._detect_and_crop, frame.image)
                         if self.schedule.planned(position) else None)
            if self._follower is not None:
                detecting = self._follow_pool.submit(self._follow_or_detect, frame.image, detecting)
            meshing = self._mesh_pool.submit(self._mesh_for, frame.image, detecting) if self.mesh is not None else None
            handling = (self._hands_pool.submit(self._timed, "hands", self.hands, frame.image)
                        if self.hands is not None and position % self.options.hands_every == 0 else None)
            started.append((frame, detecting, meshing, handling))
            yield from drain(lookahead)
        yield from drain(0)
        if window:
            yield from self._finish(window)

    def close(self) -> None:
        if self._follow_pool is not None:  # before the detectors: it may still be waiting for one
            self._follow_pool.shutdown(wait=True)
        self._detection.close()
        for pool in (self._hands_pool, self._mesh_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        for part in (self.mesh, self.hands):
            if part is not None:
                part.close()

    # -- stage 1: per frame, in decode order ---------------------------------------------------
    def _timed(self, stage: str, work, *args):
        with self.profile.stage(stage):
            return work(*args)

    def _detect_and_crop(self, detector, image: np.ndarray) -> tuple[Detections, list[np.ndarray]]:
        """On a detector's thread: cropping is per-frame work too, and OpenCV releases the GIL."""
        with self.profile.stage("detection"):
            detections = detector.detect(image)
        return detections, self._crop(image, detections)

    def _crop(self, image: np.ndarray, detections: Detections) -> list[np.ndarray]:
        with self.profile.stage("crop"):
            return crop_faces(image, detections, self.predictor.spec, align=self.options.align,
                              clahe=self.options.clahe, zooms=self._zooms)

    def _mesh_for(self, image: np.ndarray, detecting: Future) -> np.ndarray:
        """On the mesh's thread, frames in order: the mesh sized to the faces found in the frame."""
        faces = len(detecting.result()[0])
        with self.profile.stage("mesh"):
            return self.mesh(image, faces)

    def _follow_or_detect(self, image: np.ndarray, detecting: Future | None) -> tuple[Detections, list[np.ndarray]]:
        """On the follower's thread, frames in order: a planned detection starts following its faces; a
        frame in between gets the followed faces, or is detected after all (see :class:`DetectionSchedule`)."""
        if detecting is None:
            with self.profile.stage("tracking"):
                followed = self._follower.follow(image)
            if followed is not None:
                return followed, self._crop(image, followed)
            detecting = self._detection.submit(self._detect_and_crop, image)
        detections, crops = detecting.result()
        with self.profile.stage("tracking"):
            self._follower.start(image, detections)
        return detections, crops

    def _perceive(self, frame: Frame, detecting: Future, mesh_pending: Future | None,
                  hands_pending: Future | None) -> _Perceived:
        from emoscope.video.landmarks import match_to_boxes

        detections, crops = detecting.result()
        boxes = detections.boxes
        meshes: list[np.ndarray | None] = [None] * len(boxes)
        if mesh_pending is not None:
            found = mesh_pending.result()
            for i, j in enumerate(match_to_boxes(found, boxes)):
                if j >= 0:
                    meshes[i] = found[j]
        return _Perceived(frame, boxes, detections.scores, crops, meshes, self._hands_for(hands_pending))

    def _hands_for(self, submitted: Future | None) -> np.ndarray:
        """Hand landmarks, refreshed every ``hands_every`` frames and held in between.

        The hand tracker runs on a worker thread on every ``hands_every``-th frame as it is read, so a
        call has the whole lookahead to finish in (MediaPipe releases the GIL). To stay deterministic,
        frame k gets the hands of frame k - hands_every, submitted one period earlier, whose result is
        then surely waited for: touches lag by one period (a few hundredths of a second at video
        rates), never by however long the thread happened to take. ``submitted``: this frame's call.
        """
        if submitted is not None:
            if self._hands_pending is not None:
                self._last_hands = self._hands_pending.result()
            self._hands_pending = submitted
        return self._last_hands

    # -- stage 2: one classifier call per window, then tracking and cues in order --------------
    def _finish(self, window: list[_Perceived]) -> Iterator[FrameResult]:
        crops = [crop for item in window for crop in item.crops]
        with self.profile.stage("classification"):
            probs = classify_views(self.predictor, crops, len(self._zooms))
        offset = 0
        for item in window:
            frame_probs = probs[offset : offset + len(item.boxes)]
            offset += len(item.boxes)
            yield self._track(item, frame_probs)

    def _track(self, item: _Perceived, probs: np.ndarray) -> FrameResult:
        frame = item.frame
        started = time.perf_counter()
        ids = self.tracker.update(item.boxes)
        self._forget(self.tracker.dropped)
        result = FrameResult(frame, hands=len(item.hands))
        cue_seconds = 0.0
        for i, track_id in enumerate(ids):
            track_id = int(track_id)
            smoothed = self.smoother.update(track_id, probs[i])
            face = FaceResult(track_id, item.boxes[i], float(item.scores[i]), probs[i], smoothed,
                              self.classes[int(np.argmax(smoothed))], crop=item.crops[i * len(self._zooms)])
            seen = FaceObservation(track_id, frame.time, item.boxes[i], smoothed, item.meshes[i], item.hands)
            cues_started = time.perf_counter()
            for cue in self._active:
                face.data.update(cue.update(seen))
            cue_seconds += time.perf_counter() - cues_started
            result.faces.append(face)
        cues_started = time.perf_counter()
        for cue in self._active:
            result.events.extend(cue.end_frame(frame.time, [face.data for face in result.faces]))
        ended = time.perf_counter()
        cue_seconds += ended - cues_started
        self.profile.add("cues", cue_seconds)
        self.profile.add("tracking", ended - started - cue_seconds)
        return result

    def _forget(self, track_ids: list[int]) -> None:
        self.smoother.forget(track_ids)
        for track_id in track_ids:
            for cue in self._active:
                cue.forget(track_id)
