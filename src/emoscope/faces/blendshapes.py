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
:class:`BlendshapeReader` runs the whole bundle on LiteRT, without the MediaPipe package, on photos
(image mode) or a video's frames (video mode, tracked): :class:`BundleFaceDetector`, then
:class:`BundleMesh` on each face's :class:`FaceRegion`, then the network. (MediaPipe 0.10.21's Tasks
API, which would run the bundle, does not start with protobuf 6: its graph config is refused.)
docs/blendshapes.md measures the difference the mesh makes.

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


@dataclass(frozen=True)
class FaceRegion:
    """A square of the frame holding one face, turned so the eyes are level: what the bundle's mesh reads."""

    centre: np.ndarray  # x, y pixels
    side: float  # pixels
    angle: float  # radians of the eye line (the picture's left eye to its right eye) from horizontal

    SCALE = 1.5  # MediaPipe's margin around a face's extent

    @classmethod
    def of_mesh(cls, mesh: np.ndarray) -> FaceRegion:
        """As MediaPipe tracks a face: the mesh's extent turned upright by the eye line (points 33 to 263)."""
        eye_line = mesh[263, :2] - mesh[33, :2]
        angle = float(np.arctan2(eye_line[1], eye_line[0]))
        turned = mesh[:, :2] @ _rotation(-angle).T
        low, high = turned.min(axis=0), turned.max(axis=0)
        return cls(((low + high) / 2) @ _rotation(-angle), cls.SCALE * float((high - low).max()), angle)

    @classmethod
    def of_detection(cls, centre: np.ndarray, size: np.ndarray, eyes: np.ndarray) -> FaceRegion:
        """As MediaPipe starts a face: the detector's box, turned by its two eye keypoints."""
        eye_line = eyes[1] - eyes[0]
        return cls(np.asarray(centre, np.float64), cls.SCALE * float(np.max(size)),
                   float(np.arctan2(eye_line[1], eye_line[0])))


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


class BundleFaceDetector:
    """The bundle's short-range face detector (BlazeFace, 128 x 128): boxes and six keypoints per face,
    decoded as MediaPipe's face_detector_graph does (896 SSD anchors, sigmoid scores, weighted
    non-maximum suppression at IoU 0.3)."""

    SIZE = 128

    def __init__(self, min_score: float = 0.5, path: Path = BUNDLE, threads: int = 1):
        self.min_score = min_score
        self._interpreter = _interpreter(bundle_member("face_detector.tflite", path), threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}
        self._boxes, self._scores = outputs["regressors"], outputs["classificators"]
        centres = []
        for stride, per_cell in ((8, 2), (16, 6)):  # strides 8, 16, 16, 16 with 2 anchors each, all of size 1
            cells = self.SIZE // stride
            ys, xs = np.mgrid[0:cells, 0:cells]
            grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
            centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        self._anchors = np.concatenate(centres)

    def __call__(self, image_bgr: np.ndarray) -> list[FaceRegion]:
        """The region of each face found, best first."""
        import cv2

        h, w = image_bgr.shape[:2]
        side = max(h, w)  # letterboxed into a square, as MediaPipe keeps the aspect ratio
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top:top + h, left:left + w] = image_bgr
        pixels = cv2.resize(cv2.cvtColor(square, cv2.COLOR_BGR2RGB), (self.SIZE, self.SIZE)).astype(np.float32)
        self._interpreter.set_tensor(self._input, pixels[None] / 127.5 - 1)  # the model reads [-1, 1]
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes)[0]
        logits = np.clip(self._interpreter.get_tensor(self._scores)[0, :, 0].astype(np.float64), -100, 100)
        scores = 1 / (1 + np.exp(-logits))
        keep = scores >= self.min_score
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        offset = np.array([left, top])
        centres = (raw[:, :2] / self.SIZE + anchors) * side - offset
        sizes = raw[:, 2:4] / self.SIZE * side
        keypoints = (raw[:, 4:16].reshape(-1, 6, 2) / self.SIZE + anchors[:, None]) * side - offset
        return [FaceRegion.of_detection(c, s, k[:2]) for c, s, k in _weighted_nms(scores, centres, sizes, keypoints)]


def _weighted_nms(scores, centres, sizes, keypoints, iou_threshold: float = 0.3):
    """MediaPipe's WEIGHTED suppression: each cluster around the best remaining box becomes the
    score-weighted mean of its boxes and keypoints."""
    corners = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    areas = np.prod(sizes, axis=1)
    order = list(np.argsort(-scores))
    found = []
    while order:
        best = order[0]
        low = np.maximum(corners[best, :2], corners[order, :2])
        high = np.minimum(corners[best, 2:], corners[order, 2:])
        overlap = np.prod(np.clip(high - low, 0, None), axis=1)
        iou = overlap / (areas[best] + areas[order] - overlap)
        cluster = [i for i, v in zip(order, iou) if v > iou_threshold]
        weights = scores[cluster] / scores[cluster].sum()
        found.append((weights @ centres[cluster], weights @ sizes[cluster],
                      np.tensordot(weights, keypoints[cluster], axes=1)))
        order = [i for i, v in zip(order, iou) if v <= iou_threshold]
    return found


class BundleMesh:
    """The bundle's own 478-point face mesh (the model the blendshape network was trained with) on a
    :class:`FaceRegion`, resampled to 256 x 256; also the model's face-presence score."""

    SIZE = 256

    def __init__(self, path: Path = BUNDLE, threads: int = 1):
        self._interpreter = _interpreter(bundle_member("face_landmarks_detector.tflite", path), threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._points, self._presence = outputs[0]["index"], outputs[1]["index"]  # (1, 1, 1, 478 * 3), (1, 1, 1, 1)

    def __call__(self, image_bgr: np.ndarray, region: FaceRegion) -> tuple[np.ndarray, float]:
        """``(478, 2)`` points in pixels, and the probability that the region holds a face."""
        import cv2

        to_crop = self.SIZE / region.side * _rotation(-region.angle)
        affine = np.hstack([to_crop, (self.SIZE / 2 - to_crop @ region.centre)[:, None]]).astype(np.float32)
        crop = cv2.warpAffine(image_bgr, affine, (self.SIZE, self.SIZE), flags=cv2.INTER_LINEAR)
        pixels = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255  # the model reads [0, 1]
        self._interpreter.set_tensor(self._input, pixels)
        self._interpreter.invoke()
        points = self._interpreter.get_tensor(self._points).reshape(478, 3)[:, :2]
        presence = 1 / (1 + np.exp(-float(self._interpreter.get_tensor(self._presence).ravel()[0])))
        return ((points - self.SIZE / 2) @ np.linalg.inv(to_crop).T + region.centre).astype(np.float32), presence


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
    """Blendshape scores of every face in BGR frames, from the bundle alone (no MediaPipe package): its
    detector finds the faces, its mesh places the points, its network scores them.

    ``video=False``: each call is a separate photo (the detector runs on each). ``video=True``: frames
    of one video in order; as in MediaPipe, each face is tracked by the region of its last mesh, and
    the detector runs when no face is tracked and every ``redetect_every`` frames for newcomers. A
    face whose mesh's presence score falls below ``min_presence`` is dropped. Use one instance per
    video (it holds the tracked faces)."""

    def __init__(self, video: bool = False, max_faces: int = 4, min_score: float = 0.5,
                 min_presence: float = 0.5, redetect_every: int = 15, path: Path = BUNDLE):
        self.detector = BundleFaceDetector(min_score, path)
        self.mesh = BundleMesh(path)
        self.network = BlendshapeNetwork(path)
        self.video, self.max_faces, self.min_presence, self.redetect_every = video, max_faces, min_presence, redetect_every
        self._tracked: list[FaceRegion] = []
        self._frames = 0

    def __call__(self, image_bgr: np.ndarray) -> list[FaceBlendshapes]:
        regions = self._tracked if self.video else []
        if not regions or (self.video and self._frames % self.redetect_every == 0):
            regions = regions + [r for r in self.detector(image_bgr) if not any(_holds(t, r.centre) for t in regions)]
        self._frames += 1
        faces = []
        for region in regions[:self.max_faces]:
            points, presence = self.mesh(image_bgr, region)
            if presence >= self.min_presence:
                faces.append(FaceBlendshapes(points, self.network(points)))
        self._tracked = [FaceRegion.of_mesh(face.landmarks) for face in faces]
        return faces


def _holds(region: FaceRegion, point: np.ndarray) -> bool:
    return bool(np.linalg.norm(np.asarray(point) - region.centre) < region.side / FaceRegion.SCALE / 2)
