"""Sinks consume :class:`FrameResult` as the loop produces them: a per-frame CSV table and an
annotated video. Both write as they go, so nothing accumulates in memory."""

from __future__ import annotations

import csv
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.video.results import FrameResult


class FrameTableSink:
    """One CSV row per face per analysed frame (frames without a face get one row with no track)."""

    def __init__(self, path: Path, classes: list[str]):
        self.path = Path(path)
        self.classes = list(classes)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["frame", "time", "track", "x1", "y1", "x2", "y2", "score", "label",
                               *[f"p_{c}" for c in self.classes], "ear", "blink", "gaze", "hand_on_face",
                               "touching"])

    def write(self, result: FrameResult) -> None:
        if not result.faces:
            self._writer.writerow([result.index, f"{result.time:.3f}"] + [""] * (14 + len(self.classes) - 2))
            return
        for face in result.faces:
            self._writer.writerow([
                result.index, f"{result.time:.3f}", face.track_id, *(f"{v:.1f}" for v in face.box),
                f"{face.score:.3f}", face.label, *(f"{p:.4f}" for p in face.smoothed),
                "" if face.ear is None else f"{face.ear:.4f}", int(face.blink), face.gaze or "",
                int(face.hand_on_face), int(face.touching),
            ])

    def close(self) -> None:
        self._file.close()


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
