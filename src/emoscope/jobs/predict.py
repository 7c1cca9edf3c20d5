"""`emoscope predict`: expressions of every face in photos (a file or a folder).

Images are read and detected one by one, but the faces of ``chunk_size`` images go through the
classifier in one batch. A file that cannot be analysed becomes an entry with its error; the other
files' results are kept.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from emoscope.errors import EmoscopeError
from emoscope.faces import (MAX_PIXELS, PHOTO_DETECTOR, classify_views, create_photo_detector, crop_faces, framing_zooms,
                            read_image)
from emoscope.faces.images import WRITABLE_IMAGE_SUFFIXES
from emoscope.files import atomic_output, ensure_writable_folder, sha256_of, write_text_atomic
from emoscope.video.source import find_sources

OUTPUT_FORMATS = ("json", "csv")


class FacePrediction(BaseModel):
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in image pixels")
    score: float = Field(description="detector confidence")
    label: str
    probabilities: dict[str, float]


class ImagePrediction(BaseModel):
    path: str
    width: int | None = None
    height: int | None = None
    faces: list[FacePrediction] = Field(default_factory=list)
    error: str | None = Field(None, description="why the file could not be analysed; None when it was")


class PredictReport(BaseModel):
    model: str
    classes: list[str]
    detector: str
    tta: str
    align: bool
    clahe: bool
    framing_views: bool = False
    images: list[ImagePrediction]

    @property
    def analysed(self) -> int:
        return sum(image.error is None for image in self.images)


def find_images(target: str | Path) -> list[Path]:
    """The photos of :func:`~emoscope.video.source.find_sources` (a file, a folder, a glob or a manifest),
    every file of a folder or glob included: one that is not an image is reported as such."""
    return [Path(item.path) for item in find_sources(target, others_as="image", webcams=False)]


def iter_predictions(paths: Sequence[Path], predictor, detector, tta: str = "none", align: bool = True,
                     clahe: bool = False, chunk_size: int = 16, max_pixels: int = MAX_PIXELS,
                     framing_views: bool = False) -> Iterator[tuple[ImagePrediction, np.ndarray | None]]:
    """``(prediction, image)`` per path in order; ``image`` is the decoded BGR image, None on error.

    Memory holds one chunk of images at a time. ``framing_views``: each face's probabilities are
    the mean over crops at :data:`~emoscope.faces.FRAMING_VIEWS` zooms (3x the model's work).
    """
    classes = list(predictor.classes)
    zooms = framing_zooms(framing_views)
    for start in range(0, len(paths), chunk_size):
        chunk = []  # (prediction, image, detections, crops) per path
        for path in paths[start : start + chunk_size]:
            try:
                image = read_image(path, max_pixels)
                detections = detector.detect(image)
                crops = crop_faces(image, detections, predictor.spec, align=align, clahe=clahe, zooms=zooms)
            except EmoscopeError as exc:
                chunk.append((ImagePrediction(path=str(path), error=str(exc)), None, None, []))
                continue
            height, width = image.shape[:2]
            chunk.append((ImagePrediction(path=str(path), width=width, height=height), image, detections, crops))
        crops = [crop for *_, image_crops in chunk for crop in image_crops]
        probs = classify_views(predictor, crops, len(zooms), tta=tta)
        offset = 0
        for prediction, image, detections, _ in chunk:
            if detections is not None:  # None: the file could not be read; its error is recorded
                prediction.faces = face_predictions(detections, probs[offset : offset + len(detections)], classes)
                offset += len(detections)
            yield prediction, image


def face_predictions(detections, probs: np.ndarray, classes: Sequence[str]) -> list[FacePrediction]:
    """One :class:`FacePrediction` per detected face, from its row of probabilities."""
    return [FacePrediction(box=tuple(round(float(v), 1) for v in box), score=round(float(score), 4),
                           label=classes[int(face_probs.argmax())],
                           probabilities={c: round(float(p), 4) for c, p in zip(classes, face_probs, strict=True)})
            for box, score, face_probs in zip(detections.boxes, detections.scores, probs)]


def predict_faces(image: np.ndarray, predictor, detector, tta: str = "none", align: bool = True,
                  clahe: bool = False, framing_views: bool = False) -> list[FacePrediction]:
    """Every face of one decoded image (gray, BGR or BGRA), with a ready ``detector`` instance
    (``framing_views``: see :func:`iter_predictions`)."""
    zooms = framing_zooms(framing_views)
    detections = detector.detect(image)
    crops = crop_faces(image, detections, predictor.spec, align=align, clahe=clahe, zooms=zooms)
    probs = classify_views(predictor, crops, len(zooms), tta=tta)
    return face_predictions(detections, probs, list(predictor.classes))


def predict_images(paths: Sequence[Path], predictor, detector: str = PHOTO_DETECTOR, tta: str = "none",
                   align: bool = True, clahe: bool = False, framing_views: bool = False, chunk_size: int = 16,
                   on_image: Callable[[ImagePrediction, np.ndarray | None], None] | None = None,
                   log: PredictionLog | None = None) -> PredictReport:
    """The library entry point: a :class:`PredictReport` for image files, errors included per file.

    ``on_image(prediction, image)`` is called as each image is done (progress, annotation);
    ``log`` records each result as it is made and supplies those of an interrupted run.
    """
    settings = {"model": predictor.spec.name, "classes": list(predictor.classes), "detector": detector, "tta": tta,
                "align": align, "clahe": clahe, "framing_views": framing_views}
    if log is not None:
        log.start(settings)
    done = {str(path): log.finished(path) for path in paths} if log is not None else {}
    todo = [path for path in paths if done.get(str(path)) is None]
    with create_photo_detector(detector) as face_detector:
        for prediction, image in iter_predictions(todo, predictor, face_detector, tta, align, clahe, chunk_size,
                                                  framing_views=framing_views):
            if log is not None:
                log.record(prediction)
            if on_image is not None:
                on_image(prediction, image)
            done[prediction.path] = prediction
    return PredictReport(**settings, images=[done[str(path)] for path in paths])


class PredictionLog:
    """Each finished image appended to ``<out>/predictions.partial.jsonl`` (one JSON line, flushed) as
    soon as it is done, so an interrupted folder keeps its results. With ``resume``, the log of an
    interrupted run is read first and its results are reused for images whose content is unchanged
    (same SHA-256, not just the same name) and whose settings (model, detector, TTA...) are the same."""

    def __init__(self, out_dir: Path, resume: bool = False):
        self.path = ensure_writable_folder(out_dir) / "predictions.partial.jsonl"
        self.resume = resume
        self._previous: dict[str, tuple[str, ImagePrediction]] = {}
        self._file = None

    def start(self, settings: dict) -> None:
        if self.resume and self.path.is_file():
            self._previous = self._read(settings)
        self._file = self.path.open("w", encoding="utf-8")  # rewritten: the reused results are recorded again
        self._write({"settings": settings})

    def _read(self, settings: dict) -> dict[str, tuple[str, ImagePrediction]]:
        lines = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines or lines[0].get("settings") != settings:
            raise EmoscopeError(f"{self.path}: made with other settings (model, detector, TTA...); "
                                "rerun them, or run without --resume to start again")
        return {entry["prediction"]["path"]: (entry["sha256"], ImagePrediction(**entry["prediction"]))
                for entry in lines[1:]}

    def finished(self, path: Path) -> ImagePrediction | None:
        """The interrupted run's result for ``path`` if the file is unchanged (it is recorded again)."""
        sha256, prediction = self._previous.get(str(path), (None, None))
        if prediction is None or not Path(path).is_file() or sha256_of(path) != sha256:
            return None
        self._write({"sha256": sha256, "prediction": prediction.model_dump()})
        return prediction

    def record(self, prediction: ImagePrediction) -> None:
        path = Path(prediction.path)
        self._write({"sha256": sha256_of(path) if path.is_file() else None, "prediction": prediction.model_dump()})

    def _write(self, entry: dict) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Stop logging; the log stays for a later ``--resume``."""
        if self._file is not None:
            self._file.close()

    def remove(self) -> None:
        """The final report is written: the log is no longer needed."""
        self.close()
        self.path.unlink(missing_ok=True)




def write_report(report: PredictReport, out_dir: Path, output_format: str = "json") -> Path:
    """``predictions.json`` (the whole report) or ``predictions.csv`` (one row per face; an image
    with no face, or with an error, gets one row with empty face columns)."""
    if output_format not in OUTPUT_FORMATS:
        raise EmoscopeError(f"unknown output format {output_format!r} (choose {', '.join(OUTPUT_FORMATS)})")
    path = ensure_writable_folder(out_dir) / f"predictions.{output_format}"
    if output_format == "json":
        return write_text_atomic(path, json.dumps(report.model_dump(), indent=2))
    prob_columns = [f"p_{c}" for c in report.classes]
    with atomic_output(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "width", "height", "face", "x1", "y1", "x2", "y2", "score", "label",
                         *prob_columns, "error"])
        for image in report.images:
            size = [image.width or "", image.height or ""]
            if not image.faces:
                writer.writerow([image.path, *size, *[""] * (7 + len(prob_columns)), image.error or ""])
            for index, face in enumerate(image.faces):
                writer.writerow([image.path, *size, index, *face.box, face.score, face.label,
                                 *face.probabilities.values(), ""])
    return path


def annotate_image(image: np.ndarray, prediction: ImagePrediction) -> np.ndarray:
    """A copy of ``image`` with each face's box, label and probability drawn on it."""
    from emoscope.faces.draw import draw_face

    canvas = image.copy()
    for face in prediction.faces:
        draw_face(canvas, face.box, f"{face.label} {face.probabilities[face.label]:.2f}")
    return canvas


def save_annotated(image: np.ndarray, prediction: ImagePrediction, out_dir: Path) -> Path:
    """``out_dir/<file name>`` (``.png`` appended to formats OpenCV cannot write)."""
    import cv2

    source = Path(prediction.path)
    name = source.name if source.suffix.lower() in WRITABLE_IMAGE_SUFFIXES else f"{source.name}.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    ok, encoded = cv2.imencode(target.suffix, annotate_image(image, prediction))
    if not ok:
        raise EmoscopeError(f"{target}: cannot encode the annotated image")
    with atomic_output(target) as temporary:
        encoded.tofile(temporary)  # like np.fromfile on reading: works for non-ASCII paths
    return target
