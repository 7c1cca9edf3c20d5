"""Face detection (MediaPipe, Haar, MTCNN), alignment and crops ready for a classifier; also hand
landmarks (:mod:`~emoscope.faces.hands`) and the MediaPipe plumbing that face detection, the face
mesh and hands share (:mod:`~emoscope.faces.mediapipe_solutions`)."""

# Importing a backend registers its detectors; this order is list_detectors()'s, the default first.
from emoscope.faces import mediapipe_backend, haar, mtcnn  # noqa: F401  # isort: skip
from emoscope.faces.align import FRAMING_VIEWS, classify_views, crop_faces, framing_zooms, mean_over_views
from emoscope.faces.base import FaceDetector
from emoscope.faces.detections import KEYPOINT_NAMES, Detections
from emoscope.faces.images import MAX_PIXELS, as_bgr, read_image
from emoscope.faces.registry import (PHOTO_DETECTOR, create_detector, create_photo_detector, detector_descriptions,
                                     list_detectors)

__all__ = ["FRAMING_VIEWS", "KEYPOINT_NAMES", "MAX_PIXELS", "PHOTO_DETECTOR", "Detections", "FaceDetector", "as_bgr", "create_detector", "create_photo_detector",
           "classify_views", "crop_faces", "detector_descriptions", "framing_zooms", "list_detectors", "mean_over_views",
           "read_image"]
