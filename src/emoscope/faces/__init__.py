"""Face detection (MediaPipe, Haar, MTCNN), alignment and crops ready for a classifier."""

from emoscope.faces.align import crop_faces
from emoscope.faces.detections import KEYPOINT_NAMES, Detections
from emoscope.faces.detectors import DETECTORS, FaceDetector, create_detector
from emoscope.faces.images import MAX_PIXELS, as_bgr, read_image

__all__ = ["DETECTORS", "KEYPOINT_NAMES", "MAX_PIXELS", "Detections", "FaceDetector", "as_bgr", "create_detector",
           "crop_faces", "read_image"]
