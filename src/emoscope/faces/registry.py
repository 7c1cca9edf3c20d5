"""Face detectors by name: each backend module registers its detectors here when imported.

    register_detector("haar", HaarDetector, "OpenCV's frontal cascade, no keypoints")

    detector = create_detector("haar", min_score=0.5)

Backend modules import their optional dependency (mediapipe, OpenCV, torch) only when a detector
is created, so registering, listing and describing detectors costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emoscope.errors import EmoscopeError
from emoscope.faces.base import FaceDetector


@dataclass(frozen=True)
class DetectorEntry:
    name: str
    factory: Callable[..., FaceDetector]
    """``factory(min_score=..., **kwargs)``: a ready detector."""
    description: str


_REGISTRY: dict[str, DetectorEntry] = {}


def register_detector(name: str, factory: Callable[..., FaceDetector], description: str) -> None:
    if name in _REGISTRY:
        raise ValueError(f"face detector {name!r} registered twice")
    _REGISTRY[name] = DetectorEntry(name, factory, description)


def list_detectors() -> list[str]:
    """Detector names in registration order, the default (``mediapipe``) first."""
    return list(_REGISTRY)


def detector_descriptions() -> dict[str, str]:
    """Each detector's name and a one-line description of what it suits, in :func:`list_detectors` order."""
    return {name: entry.description for name, entry in _REGISTRY.items()}


PHOTO_DETECTOR = "mediapipe-full"
"""The photo detector by default: photos are often group shots, with faces at any distance."""


def create_photo_detector(name: str = PHOTO_DETECTOR, **kwargs) -> FaceDetector:
    """A detector for still photos: like :func:`create_detector`, and a photo where no face is found is
    searched once more inside a border, for faces that fill it (``close_ups``, see ``BaseDetector``)."""
    return create_detector(name, close_ups=True, **kwargs)


def create_detector(name: str = "mediapipe", min_score: float = 0.5, **kwargs) -> FaceDetector:
    """A detector by name (see :func:`list_detectors`); ``kwargs`` go to the backend's constructor."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise EmoscopeError(f"unknown face detector {name!r} (choose {', '.join(_REGISTRY)})")
    try:
        return entry.factory(min_score=min_score, **kwargs)
    except ImportError as exc:
        raise EmoscopeError(f"the {name} face detector needs {exc.name or 'a missing package'}, which is not "
                            "installed (pip install 'emoscope[video]'; mtcnn also needs torch)") from None
