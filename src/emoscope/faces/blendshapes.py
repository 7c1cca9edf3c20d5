"""The 52 facial blendshape scores of Google's Face Landmarker bundle, offline.

The bundle (``weights/face_landmarker/face_landmarker.task``, Apache-2.0, see the README beside it)
is a zip of a face detector, a 478-point face mesh and a blendshape network that reads 146 of the
mesh's points (in pixels) and gives 52 ARKit-style scores in [0, 1]: ``_neutral`` and 51 named
movements such as ``mouthSmileLeft`` or ``eyeBlinkLeft``. Its SHA-256 is pinned and checked at every
load; a missing or different file is one :class:`~emoscope.errors.ModelError` line.

:class:`BlendshapeNetwork` runs the blendshape network with LiteRT (``ai-edge-litert``) on a face
mesh emoscope already has: the video loop's, so the ``blendshapes`` cue costs one small network per
face and frame. That mesh is MediaPipe 0.10.21's Face Mesh (``mp.solutions``), an older model than
the bundle's own mesh, which the network was trained with (the cue sees the mesh, not the frame).
:class:`BundleMesh` runs the bundle's mesh on the region the older mesh found, and
:class:`BlendshapeReader` gives the scores of photos (image mode) or a video's frames (video mode,
tracked) from it. The bundle's face detector is not run: the older mesh's own finds the faces.
(MediaPipe 0.10.21's Tasks API, which would run the bundle whole, does not start with protobuf 6: its
graph config is refused.) docs/blendshapes.md measures the difference the mesh makes.

The scores are not FACS-coded action units (docs/blendshapes.md lists rough correspondences).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError, ModelError

BUNDLE = Path(__file__).resolve().parents[1] / "weights" / "face_landmarker" / "face_landmarker.task"
BUNDLE_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"

BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
"""The network's outputs in order, named as MediaPipe names them (face_blendshapes_graph.cc)."""

MESH_SUBSET = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78,
    80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150,
    152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197,
    234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308,
    310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377,
    378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466,
    468, 469, 470, 471, 472, 473, 474, 475, 476, 477])
"""The 146 of the 478 mesh points the network reads (kLandmarksSubsetIdxs in face_blendshapes_graph.cc)."""


def bundle_bytes(path: Path = BUNDLE) -> bytes:
    """The bundle's content, after checking its SHA-256 against :data:`BUNDLE_SHA256`."""
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"face landmarker bundle {path} cannot be read ({exc.strerror or exc}); "
                         "reinstall emoscope") from None
    digest = hashlib.sha256(content).hexdigest()
    if digest != BUNDLE_SHA256:
        raise ModelError(f"face landmarker bundle {path} has SHA-256 {digest[:16]}..., not the pinned "
                         f"{BUNDLE_SHA256[:16]}...: the file is damaged or replaced; reinstall emoscope")
    return content


def bundle_member(name: str, path: Path = BUNDLE) -> bytes:
    """One model file of the checked bundle, e.g. ``face_blendshapes.tflite``."""
    with zipfile.ZipFile(io.BytesIO(bundle_bytes(path))) as bundle:
        return bundle.read(name)


def scores_by_name(scores: np.ndarray) -> dict[str, float]:
    return dict(zip(BLENDSHAPE_NAMES, map(float, scores)))


def _interpreter(model: bytes, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise EmoscopeError("blendshapes need ai-edge-litert: pip install 'emoscope[video]'") from None
    from emoscope.faces.mediapipe_solutions import native_stderr_silenced

    with native_stderr_silenced():  # LiteRT logs "INFO: Created TensorFlow Lite XNNPACK delegate" to fd 2
        interpreter = Interpreter(model_content=model, num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


class BlendshapeNetwork:
    """The bundle's blendshape network alone: one face's 478 mesh points in pixels -> 52 scores."""

    def __init__(self, path: Path = BUNDLE, threads: int = 1):
        self._interpreter = _interpreter(bundle_member("face_blendshapes.tflite", path), threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def __call__(self, mesh: np.ndarray) -> np.ndarray:
        """``(52,)`` float32 scores from ``(478, 2+)`` landmarks (x, y in pixels; z, if any, is not read)."""
        points = np.ascontiguousarray(mesh[MESH_SUBSET, :2], dtype=np.float32)[None]
        self._interpreter.set_tensor(self._input, points)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).astype(np.float32)


class BundleMesh:
    """The bundle's own 478-point face mesh (the model the blendshape network was trained with), on the
    face region a mesh emoscope already has gives: as MediaPipe tracks a face, that mesh's extent turned
    upright by the eye line (points 33 to 263), a square 1.5x its longer side, resampled to 256 x 256."""

    SIZE = 256
    SCALE = 1.5

    def __init__(self, path: Path = BUNDLE, threads: int = 1):
        self._interpreter = _interpreter(bundle_member("face_landmarks_detector.tflite", path), threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]  # (1, 1, 1, 478 * 3) crop pixels

    def __call__(self, image_bgr: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """``(478, 2)`` points in pixels for the face ``mesh`` (``(478, 2+)`` pixels) marks in the frame."""
        import cv2

        eye_line = mesh[263, :2] - mesh[33, :2]
        angle = -np.arctan2(eye_line[1], eye_line[0])
        upright = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        turned = mesh[:, :2] @ upright.T
        low, high = turned.min(axis=0), turned.max(axis=0)
        centre = ((low + high) / 2) @ upright  # back in the frame (upright is orthonormal)
        to_crop = self.SIZE / (self.SCALE * float((high - low).max())) * upright
        affine = np.hstack([to_crop, (self.SIZE / 2 - to_crop @ centre)[:, None]]).astype(np.float32)
        crop = cv2.warpAffine(image_bgr, affine, (self.SIZE, self.SIZE), flags=cv2.INTER_LINEAR)
        pixels = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255  # the model reads [0, 1]
        self._interpreter.set_tensor(self._input, pixels)
        self._interpreter.invoke()
        points = self._interpreter.get_tensor(self._output).reshape(478, 3)[:, :2]
        return ((points - self.SIZE / 2) @ np.linalg.inv(to_crop).T + centre).astype(np.float32)


@dataclass(frozen=True)
class FaceBlendshapes:
    """One face found by :class:`BlendshapeReader`."""

    landmarks: np.ndarray  # (478, 2) face-mesh points, pixels
    scores: np.ndarray  # (52,) in the order of BLENDSHAPE_NAMES

    @property
    def box(self) -> np.ndarray:
        """x1, y1, x2, y2 of the mesh's extent, pixels."""
        return np.concatenate([self.landmarks.min(axis=0), self.landmarks.max(axis=0)])

    def as_dict(self) -> dict[str, float]:
        return scores_by_name(self.scores)


class BlendshapeReader:
    """Blendshape scores of every face in BGR frames: MediaPipe's face mesh finds the faces, the bundle's
    mesh (:class:`BundleMesh`; ``bundle_mesh=False``: MediaPipe's own) places the points, and
    :class:`BlendshapeNetwork` scores them.

    ``video=False``: each call is a separate photo (the mesh's detector runs on each). ``video=True``:
    frames of one video in order; the mesh is tracked from frame to frame, which skips the detector
    while a face stays in view. Use one instance per video and ``close`` it (or use ``with``)."""

    def __init__(self, video: bool = False, max_faces: int = 4, min_confidence: float = 0.5,
                 bundle_mesh: bool = True, path: Path = BUNDLE):
        from emoscope.faces.mediapipe_solutions import SolutionRunner

        self.network = BlendshapeNetwork(path)
        self.bundle_mesh = BundleMesh(path) if bundle_mesh else None
        self._mesh = SolutionRunner(lambda mp: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence),
            findings="multi_face_landmarks")

    def __call__(self, image_bgr: np.ndarray) -> list[FaceBlendshapes]:
        from emoscope.faces.mediapipe_solutions import landmark_pixels

        h, w = image_bgr.shape[:2]
        meshes = [landmark_pixels(face, w, h)[:, :2] for face in self._mesh.process(image_bgr).multi_face_landmarks or ()]
        if self.bundle_mesh is not None:
            meshes = [self.bundle_mesh(image_bgr, mesh) for mesh in meshes]
        return [FaceBlendshapes(mesh, self.network(mesh)) for mesh in meshes]

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> BlendshapeReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
