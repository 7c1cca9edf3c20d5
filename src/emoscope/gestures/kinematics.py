"""A kinematic hand model that makes labelled 21-point hands, the way MediaPipe Hands reports them,
for testing the landmark rules without photos.

Each finger is a chain of bones with joint angles inside anatomical limits; bone lengths follow
typical adult proportions with per-hand variation. A sign is a set of joint-angle ranges (and, for
the thumb, often a point it must touch, reached by a small search over its joint angles); a view
adds handedness (a mirror), palm or back towards the camera, a random 3-D wrist rotation, a
perspective projection to pixels, MediaPipe-like depth (compressed and noisier than x, y) and
Gaussian landmark noise. Everything is drawn from one seeded generator, so a run is reproducible.

Hand frame (a right hand): ``R`` points to the thumb side, ``U`` from the wrist to the middle
knuckle (length 1, the unit of every distance here), ``N`` out of the palm. Long fingers flex
towards ``N``; the thumb's metacarpal spreads from ``U`` towards ``R`` and lifts towards ``N``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from emoscope.gestures.landmarks import FINGER_JOINTS, LONG_FINGERS

R, U, N = np.eye(3)
Range = tuple[float, float]

FINGER_LIMITS: dict[str, Range] = {"mcp": (-20.0, 95.0), "abduction": (-25.0, 25.0), "pip": (0.0, 110.0),
                                   "dip": (-10.0, 90.0)}
"""Degrees; flexion is positive, abduction is towards the thumb side from the finger's rest direction."""
THUMB_LIMITS: dict[str, Range] = {"spread": (-10.0, 90.0), "lift": (0.0, 80.0), "mcp": (-20.0, 70.0),
                                  "ip": (-20.0, 85.0)}
"""Degrees: CMC radial abduction (in the palm plane, from ``U``), CMC palmar abduction (out of the
palm), MCP and IP flexion."""

KNUCKLES = {"index": (0.23, 0.95), "middle": (0.0, 1.0), "ring": (-0.21, 0.94), "pinky": (-0.40, 0.85)}
"""Typical MCP positions (R, U) in the palm plane."""
REST_SPLAY = {"index": 6.0, "middle": 0.0, "ring": -6.0, "pinky": -14.0}
"""Degrees towards the thumb side that each finger points with zero abduction: fingers fan out."""
BONE_LENGTHS = {"index": (0.44, 0.26, 0.22), "middle": (0.50, 0.30, 0.24), "ring": (0.46, 0.29, 0.24),
                "pinky": (0.36, 0.21, 0.21), "thumb": (0.42, 0.34, 0.30)}
"""Proximal, middle, distal (to the fingertip) per finger; for the thumb metacarpal, proximal,
distal. Ratios from adult hand anthropometry, relative to the wrist-to-middle-knuckle length."""
THUMB_BASE = (0.22, 0.20, 0.0)
"""The thumb's CMC joint (MediaPipe landmark 1) in the hand frame."""

HANDS = ("right", "left")
FACINGS = ("palm", "back")


@dataclass(frozen=True)
class Bones:
    """One hand's proportions."""

    knuckles: dict[str, np.ndarray]  # long finger -> MCP position (3,)
    lengths: dict[str, np.ndarray]  # finger (and thumb) -> (3,) bone lengths
    thumb_base: np.ndarray

    @classmethod
    def typical(cls) -> Bones:
        return cls({f: np.array([*KNUCKLES[f], 0.0]) for f in LONG_FINGERS},
                   {f: np.array(v) for f, v in BONE_LENGTHS.items()}, np.array(THUMB_BASE))

    @classmethod
    def sampled(cls, rng: np.random.Generator, variation: float = 0.06) -> Bones:
        """Typical proportions, each bone scaled by about ``1 ± variation``, knuckles moved a little."""
        typical = cls.typical()
        return cls({f: k + rng.normal(0, 0.02, 3) * (1, 1, 0.5) for f, k in typical.knuckles.items()},
                   {f: v * np.exp(rng.normal(0, variation, 3)) for f, v in typical.lengths.items()},
                   typical.thumb_base + rng.normal(0, 0.02, 3))


@dataclass(frozen=True)
class HandPose:
    """Joint angles in degrees: ``fingers[name]`` is (mcp, abduction, pip, dip); ``thumb`` is
    (spread, lift, mcp, ip)."""

    fingers: dict[str, np.ndarray]
    thumb: np.ndarray


def _chain(start: np.ndarray, directions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joint positions along bones: (..., 3, 3) directions -> (..., 4, 3) points from ``start``."""
    steps = directions * lengths[..., :, None]
    return np.concatenate([np.broadcast_to(start, steps[..., :1, :].shape), start + np.cumsum(steps, axis=-2)],
                          axis=-2)


def finger_points(name: str, angles: np.ndarray, bones: Bones) -> np.ndarray:
    """MCP, PIP, DIP, tip of a long finger; flexion bends the finger in the plane of its rest
    direction and the palm normal."""
    mcp, abduction, pip, dip = np.radians(angles)
    heading = np.radians(REST_SPLAY[name]) + abduction
    rest = np.cos(heading) * U + np.sin(heading) * R
    bends = np.cumsum([mcp, pip, dip])
    directions = np.cos(bends)[:, None] * rest + np.sin(bends)[:, None] * N
    return _chain(bones.knuckles[name], directions, bones.lengths[name])


def thumb_points(angles: np.ndarray, bones: Bones) -> np.ndarray:
    """CMC, MCP, IP, tip of the thumb for (..., 4) angles (batched for the contact search)."""
    spread, lift, mcp, ip = np.moveaxis(np.radians(angles), -1, 0)
    metacarpal = (np.cos(lift)[..., None] * (np.cos(spread)[..., None] * U + np.sin(spread)[..., None] * R)
                  + np.sin(lift)[..., None] * N)
    # The thumb bends towards the little finger, in the plane of its metacarpal and -R.
    across = -R - np.sum(-R * metacarpal, axis=-1, keepdims=True) * metacarpal
    across /= np.linalg.norm(across, axis=-1, keepdims=True)
    bends = np.stack([np.zeros_like(mcp), mcp, mcp + ip], axis=-1)[..., None]
    directions = np.cos(bends) * metacarpal[..., None, :] + np.sin(bends) * across[..., None, :]
    return _chain(bones.thumb_base, directions, bones.lengths["thumb"])


def hand_points(pose: HandPose, bones: Bones) -> np.ndarray:
    """(21, 3) landmarks of a right hand in the hand frame, in MediaPipe's order."""
    points = np.zeros((21, 3))
    points[1:5] = thumb_points(pose.thumb, bones)
    for name in LONG_FINGERS:
        points[list(FINGER_JOINTS[name])] = finger_points(name, pose.fingers[name], bones)
    return points


def _uniform(rng: np.random.Generator, ranges: tuple[Range, ...]) -> np.ndarray:
    low, high = np.array(ranges).T
    return rng.uniform(low, high)


def reach(target: np.ndarray, bones: Bones, rng: np.random.Generator,
          ranges: tuple[Range, ...] = tuple(THUMB_LIMITS.values())) -> np.ndarray:
    """Thumb angles within ``ranges`` that bring the thumb tip closest to ``target``: a random
    search, then three finer ones around the best (no solver dependency, bounded by construction)."""
    low, high = np.array(ranges).T
    candidates = rng.uniform(low, high, (512, 4))
    best = candidates[0]
    for radius in (None, 12.0, 4.0, 1.5):
        if radius is not None:
            candidates = np.clip(best + rng.uniform(-radius, radius, (128, 4)), low, high)
        misses = np.linalg.norm(thumb_points(candidates, bones)[:, 3] - target, axis=-1)
        best = candidates[np.argmin(misses)]
    return best


# Joint-angle ranges (mcp, abduction, pip, dip) of long-finger states; abduction is replaced per sign.
EXTENDED = ((-10, 12), (-3, 3), (0, 20), (0, 15))
FOLDED = ((55, 95), (-4, 4), (80, 110), (25, 70))
FIST = ((75, 95), (-4, 4), (90, 110), (35, 70))
HELD = ((35, 90), (-4, 4), (60, 110), (10, 70))  # curled only as far as the thumb holds them
HOOKED = ((15, 45), (-3, 3), (85, 110), (55, 85))  # E: tips curled down onto the thumb
FORWARD = ((35, 65), (-5, 5), (0, 25), (0, 15))  # K's middle finger, pointing at the viewer
F_INDEX = ((45, 75), (0, 8), (45, 80), (15, 45))

THUMB_OUT = ((50, 90), (0, 35), (-10, 15), (-15, 15))  # L, 5
THUMB_BESIDE = ((5, 20), (5, 35), (-10, 10), (-15, 15))  # A, against the side of the index
THUMB_FLAT = ((-5, 10), (0, 15), (0, 30), (0, 30))  # B: against the side of the palm


def abducted(state: tuple[Range, ...], degrees: Range) -> tuple[Range, ...]:
    """A finger state with its abduction range replaced."""
    return (state[0], degrees, *state[2:])


SPREAD_OUT = {"index": (2, 12), "middle": (-3, 3), "ring": (-12, -2), "pinky": (-18, -6)}


def fanned(*names: str) -> list[tuple[Range, ...]]:
    """Extended fingers spread apart, as in W or an open hand."""
    return [abducted(EXTENDED, SPREAD_OUT[name]) for name in names]


@dataclass(frozen=True)
class Sign:
    """How a hand shape is made: finger states, and the thumb as angle ranges or a contact point."""

    fingers: dict[str, tuple[Range, ...]]
    thumb: tuple[Range, ...] | None = None
    touch: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
    """Where the thumb tip goes, from the finger points (offsets along N: in front of the fingers)."""

    def pose(self, bones: Bones, rng: np.random.Generator) -> HandPose:
        fingers = {name: _uniform(rng, self.fingers[name]) for name in LONG_FINGERS}
        if self.touch is None:
            return HandPose(fingers, _uniform(rng, self.thumb))
        points = {name: finger_points(name, fingers[name], bones) for name in LONG_FINGERS}
        return HandPose(fingers, reach(self.touch(points) + rng.normal(0, 0.02, 3), bones, rng))


def fingers(index=FOLDED, middle=FOLDED, ring=FOLDED, pinky=FOLDED) -> dict[str, tuple[Range, ...]]:
    return {"index": index, "middle": middle, "ring": ring, "pinky": pinky}


def between(a: np.ndarray, b: np.ndarray, front: float = 0.0) -> np.ndarray:
    return (a + b) / 2 + front * N


FIST_FINGERS = fingers(FIST, FIST, FIST, FIST)
V_FINGERS = fingers(abducted(EXTENDED, (5, 15)), abducted(EXTENDED, (-15, -5)), HELD, HELD)


def on_ring_and_little(p: dict[str, np.ndarray]) -> np.ndarray:
    """Over the middle phalanges of the ring and little fingers, holding them down (V, U)."""
    return between(p["ring"][2], p["pinky"][2], 0.1)


def on_index_tip(p: dict[str, np.ndarray]) -> np.ndarray:
    return p["index"][3]


LETTER_SIGNS: dict[str, dict[str, Sign]] = {
    "A": {
        "thumb beside the fist": Sign(FIST_FINGERS, THUMB_BESIDE),
        "thumb slightly over the index": Sign(FIST_FINGERS, touch=lambda p: p["index"][1] + 0.15 * N + 0.05 * R),
    },
    "F": {
        "three fingers together": Sign(fingers(F_INDEX, EXTENDED, EXTENDED, EXTENDED), touch=on_index_tip),
        "three fingers spread": Sign(fingers(F_INDEX, *fanned("middle", "ring", "pinky")), touch=on_index_tip),
    },
    "L": {"thumb out, index up": Sign(fingers(index=EXTENDED), THUMB_OUT)},
    "V": {
        "thumb across ring and little": Sign(V_FINGERS, touch=on_ring_and_little),
        "thumb tucked into the palm": Sign(V_FINGERS, touch=lambda p: between(p["middle"][0], p["ring"][0], 0.12)),
    },
}
LOOKALIKE_SIGNS: dict[str, dict[str, Sign]] = {
    "U": {"two fingers together": Sign(fingers(abducted(EXTENDED, (-8, -4)), EXTENDED, HELD, HELD),
                                       touch=on_ring_and_little)},
    "W": {"three fingers spread": Sign(fingers(*fanned("index", "middle", "ring"), HELD),
                                       touch=lambda p: p["pinky"][3])},
    "K": {"middle forward, thumb between": Sign(fingers(abducted(EXTENDED, (0, 8)), FORWARD, HELD, HELD),
                                                touch=lambda p: 0.6 * p["middle"][0] + 0.4 * p["middle"][1]
                                                + 0.1 * R + 0.05 * N)},
    "S": {"thumb across the fist": Sign(FIST_FINGERS, touch=lambda p: between(p["middle"][1], p["middle"][2], 0.12))},
    "E": {"fingertips on the thumb": Sign(fingers(HOOKED, HOOKED, HOOKED, HOOKED),
                                          touch=lambda p: between(p["index"][3], p["ring"][3], -0.05))},
    "T": {"thumb between index and middle": Sign(FIST_FINGERS,
                                                 touch=lambda p: between(p["index"][1], p["middle"][1]))},
    "D": {"index up, thumb on middle": Sign(fingers(index=EXTENDED, middle=HOOKED), touch=lambda p: p["middle"][3])},
    "B": {"flat hand, thumb in": Sign(fingers(EXTENDED, EXTENDED, EXTENDED, EXTENDED), THUMB_FLAT)},
    "5": {"open hand": Sign(fingers(*fanned(*LONG_FINGERS)), THUMB_OUT)},
}
"""Shapes that share most of a letter's features: W/U/K with V, S/E/T with A, D and 5 with L, B with F."""
SIGNS = {**LETTER_SIGNS, **LOOKALIKE_SIGNS}


@dataclass(frozen=True)
class View:
    """How the camera sees the hand; the noise is in palm lengths before projection."""

    hand: str = "right"
    facing: str = "palm"
    roll: float = 0.0  # degrees about the camera axis
    yaw: float = 0.0  # degrees about the image vertical, away from straight on
    pitch: float = 0.0
    palm_pixels: float = 150.0  # wrist-to-middle-knuckle length in the image
    distance: float = 8.0  # camera distance in palm lengths (perspective)
    depth_scale: float = 1.0  # MediaPipe's z is relative depth, often compressed
    xy_noise: float = 0.0
    z_noise: float = 0.0

    @classmethod
    def sampled(cls, rng: np.random.Generator, hand: str, facing: str) -> View:
        return cls(hand, facing, roll=rng.uniform(-180, 180), yaw=rng.uniform(-45, 45), pitch=rng.uniform(-35, 35),
                   palm_pixels=rng.uniform(60, 250), distance=rng.uniform(4, 12), depth_scale=rng.uniform(0.5, 1.0),
                   xy_noise=0.02, z_noise=0.05)


def _rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = [k for k in range(3) if k != axis]
    matrix = np.eye(3)
    matrix[[i, i, j, j], [i, j, i, j]] = c, -s, s, c
    return matrix


FACING_CAMERA = {"palm": np.diag([1.0, -1.0, -1.0]), "back": np.diag([-1.0, -1.0, 1.0])}
"""Hand frame -> camera frame (x right, y down, z away from the camera) with fingers up and the
palm (or the back) towards the camera."""


def project(points: np.ndarray, view: View, rng: np.random.Generator | None = None) -> np.ndarray:
    """(21, 3) hand-frame points of a right hand -> (21, 3) image landmarks of ``view`` (pixels x, y
    and MediaPipe-style z: relative to the wrist, smaller is nearer, in the scale of x)."""
    mirrored = points * ([-1.0, 1.0, 1.0] if view.hand == "left" else 1.0)
    turn = _rotation(2, view.roll) @ _rotation(1, view.yaw) @ _rotation(0, view.pitch) @ FACING_CAMERA[view.facing]
    camera = mirrored @ turn.T
    if rng is not None:
        camera = camera + rng.normal(0, 1, camera.shape) * (view.xy_noise, view.xy_noise, view.z_noise)
    shrink = view.distance / (view.distance + camera[:, 2])  # perspective: nearer joints look bigger
    pixels = camera[:, :2] * shrink[:, None] * view.palm_pixels + 320.0
    depth = (camera[:, 2] - camera[0, 2]) * view.depth_scale * view.palm_pixels
    return np.c_[pixels, depth]


@dataclass(frozen=True)
class GeneratedHand:
    label: str  # a letter of LETTER_SIGNS or a look-alike of LOOKALIKE_SIGNS
    variant: str
    view: View
    pose: HandPose
    landmarks: np.ndarray  # (21, 3) as MediaPipe returns them


def generate(label: str, count: int, seed: int = 0) -> Iterator[GeneratedHand]:
    """``count`` hands of one shape, its variants taken in turn, split evenly over right/left hand
    and palm/back facing; the same ``seed`` gives the same hands."""
    rng = np.random.default_rng([seed, *map(ord, label)])
    variants = list(SIGNS[label].items())
    views = [(hand, facing) for hand in HANDS for facing in FACINGS]
    for i in range(count):
        variant, sign = variants[i % len(variants)]
        hand, facing = views[(i // len(variants)) % len(views)]
        bones = Bones.sampled(rng)
        pose = sign.pose(bones, rng)
        view = View.sampled(rng, hand, facing)
        yield GeneratedHand(label, variant, view, pose, project(hand_points(pose, bones), view, rng))
