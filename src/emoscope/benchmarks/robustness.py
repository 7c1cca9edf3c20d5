"""`emoscope bench robustness`: accuracy of the expression models under image corruptions.

In the spirit of ImageNet-C: each corruption is a pure function of uint8 gray faces ``(N, H, W)``, a
severity 1..5 and a NumPy generator, registered in :data:`CORRUPTIONS`. The benchmark scores every
model on a stratified sample of a FER2013 split (PrivateTest by default), clean and under each
corruption at each severity, and reports the mean corrupted accuracy and the relative drop.

A corruption's random draws (noise, angles, patch places) do not depend on its severity, and the
benchmark seeds one generator per corruption, so the severities of a corruption differ only in
amount and the same seed gives the same corrupted faces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emoscope.data.face_parts import PART_BOXES
from emoscope.errors import EmoscopeError
from emoscope.files import read_json_output

SEVERITIES = (1, 2, 3, 4, 5)

SEVERITY_PARAMETERS: dict[str, dict[str, tuple[float, ...]]] = {
    "gaussian_blur": {"sigma_px": (0.5, 0.8, 1.1, 1.5, 2.0)},
    "gaussian_noise": {"std_levels": (8, 14, 20, 28, 38)},
    "jpeg": {"quality": (30, 18, 12, 8, 5)},
    "brightness": {"shift_levels": (20, 40, 60, 80, 100)},
    "contrast": {"factor": (0.7, 0.55, 0.4, 0.3, 0.2)},
    "gamma": {"gamma": (1.3, 1.6, 2.0, 2.5, 3.0)},
    "low_light": {"scale": (0.6, 0.45, 0.33, 0.24, 0.16), "noise_std_levels": (3, 5, 7, 9, 11)},
    "resolution": {"side_px": (32, 24, 16, 12, 8)},
    "framing": {"scale": (0.03, 0.06, 0.09, 0.12, 0.15), "shift": (0.02, 0.04, 0.06, 0.08, 0.10)},
    "rotation": {"degrees": (6, 12, 18, 24, 30)},
    "hand_occlusion": {"area": (0.05, 0.09, 0.13, 0.18, 0.24)},
    "glasses_occlusion": {"height_px": (3, 5, 7, 9, 11), "opacity": (0.6, 0.7, 0.8, 0.9, 1.0)},
}
"""Each corruption's parameters at severities 1..5 (pixel levels and sizes are for 48x48 faces),
every one monotone in severity. These are the benchmark's own: training augmentations must NOT
reuse these exact values (nor these functions with them), or the benchmark would measure how well a
model has learnt its test corruptions rather than how robust it is. Framing: the crop's side changes
by up to ``scale`` and its centre moves by up to ``shift`` (fractions of the side); rotation: up to
``degrees`` either way; for both the drawn amount is 50-100% of the bound, with a random sign."""


@dataclass(frozen=True)
class Corruption:
    name: str
    description: str
    function: Callable[..., np.ndarray]  # (float32 faces, rng, **parameters at one severity) -> float32 faces

    def parameters(self, severity: int) -> dict[str, float]:
        if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
            raise EmoscopeError(f"corruption severity must be one of 1..5, got {severity!r}")
        return {key: values[severity - 1] for key, values in SEVERITY_PARAMETERS[self.name].items()}

    def __call__(self, faces: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
        """The corrupted copy of uint8 faces ``(N, H, W)``; ``faces`` is left as it is."""
        parameters = self.parameters(severity)
        if faces.dtype != np.uint8 or faces.ndim != 3:
            raise EmoscopeError(f"corruptions take uint8 gray faces (N, H, W), got {faces.dtype} {faces.shape}")
        out = self.function(faces.astype(np.float32), rng, **parameters)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


CORRUPTIONS: dict[str, Corruption] = {}


def corruption(description: str):
    """Register a corruption under its function's name; its parameters come from the table."""
    def register(function):
        CORRUPTIONS[function.__name__] = Corruption(function.__name__, description, function)
        return function
    return register


def _each(faces: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.stack([transform(face) for face in faces]).astype(np.float32)


def _signed_band(rng: np.random.Generator, n: int, bound: float) -> np.ndarray:
    """``n`` amounts of 50-100% of ``bound`` with random signs."""
    return rng.choice((-1.0, 1.0), n) * rng.uniform(0.5, 1.0, n) * bound


def _centre(faces: np.ndarray) -> tuple[float, float]:
    # Pixel centres sit at integer coordinates: a 48-pixel side's centre is 23.5.
    return (faces.shape[2] - 1) / 2, (faces.shape[1] - 1) / 2


def _warp(face: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The face through an affine map, the border replicated (a re-cut crop shows more of the same
    scene, never a black frame that no detector crop has)."""
    import cv2

    return cv2.warpAffine(face, matrix, (face.shape[1], face.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _blend(faces: np.ndarray, masks: np.ndarray, shades: np.ndarray) -> np.ndarray:
    return faces * (1 - masks) + shades[:, None, None] * masks


@corruption("Gaussian blur (defocus, motion-free)")
def gaussian_blur(faces, rng, sigma_px):
    import cv2

    return _each(faces, lambda face: cv2.GaussianBlur(face, (0, 0), sigma_px))


@corruption("additive Gaussian pixel noise (sensor noise)")
def gaussian_noise(faces, rng, std_levels):
    return faces + rng.standard_normal(faces.shape).astype(np.float32) * std_levels


@corruption("JPEG compression at falling quality")
def jpeg(faces, rng, quality):
    import cv2

    def compress(face):
        _, encoded = cv2.imencode(".jpg", face.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)

    return _each(faces, compress)


@corruption("brighter: a constant added to every pixel (overexposure)")
def brightness(faces, rng, shift_levels):
    return faces + shift_levels


@corruption("lower contrast: pixels pulled towards the face's mean")
def contrast(faces, rng, factor):
    means = faces.mean(axis=(1, 2), keepdims=True)
    return means + (faces - means) * factor


@corruption("gamma curve, brightening or darkening the mid-tones (random per face)")
def gamma(faces, rng, gamma):
    exponents = gamma ** rng.choice((-1.0, 1.0), len(faces))
    return 255 * (faces / 255) ** exponents[:, None, None]


@corruption("low light: darkened, then sensor noise")
def low_light(faces, rng, scale, noise_std_levels):
    return faces * scale + rng.standard_normal(faces.shape).astype(np.float32) * noise_std_levels


@corruption("low resolution: downscaled, then upscaled back")
def resolution(faces, rng, side_px):
    import cv2

    height, width = faces.shape[1:]
    side = int(side_px)
    return _each(faces, lambda face: cv2.resize(cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA),
                                                (width, height), interpolation=cv2.INTER_LINEAR))


@corruption("crop framing jitter: the face re-cut around a scaled and shifted square")
def framing(faces, rng, scale, shift):
    n, side = len(faces), faces.shape[1]
    scales = 1 + _signed_band(rng, n, scale)
    lengths = rng.uniform(0.5, 1.0, n) * shift * side
    # Shifts in a random direction: each axis stays within the bound.
    directions = rng.uniform(0, 2 * math.pi, n)
    cx, cy = _centre(faces)
    out = []
    for face, s, length, direction in zip(faces, scales, lengths, directions):
        # output pixel p shows source pixel (crop centre) + (p - centre) * s
        crop_x, crop_y = cx + length * math.cos(direction), cy + length * math.sin(direction)
        matrix = np.array([[1 / s, 0, cx - crop_x / s], [0, 1 / s, cy - crop_y / s]])
        out.append(_warp(face, matrix))
    return np.stack(out)


@corruption("in-plane rotation about the face's centre")
def rotation(faces, rng, degrees):
    import cv2

    angles = _signed_band(rng, len(faces), degrees)
    centre = _centre(faces)
    return np.stack([_warp(face, cv2.getRotationMatrix2D(centre, float(angle), 1.0))
                     for face, angle in zip(faces, angles)])


SUPERSAMPLE = 4
"""Patches are drawn on a 4x canvas and averaged down, so their edges are anti-aliased."""


def _patch_masks(faces: np.ndarray, draw: Callable[[np.ndarray, int], None]) -> np.ndarray:
    """Float masks in 0..1, one per face, from ``draw(canvas, index)`` filling 255 on a 4x canvas
    (coordinates given in face pixels times :data:`SUPERSAMPLE`)."""
    import cv2

    height, width = faces.shape[1:]
    masks = []
    for index in range(len(faces)):
        canvas = np.zeros((height * SUPERSAMPLE, width * SUPERSAMPLE), np.uint8)
        draw(canvas, index)
        masks.append(cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA))
    return np.stack(masks).astype(np.float32) / 255


def _ellipse(canvas, centre, axes, angle):
    import cv2

    at = lambda value: int(round(value * SUPERSAMPLE))  # noqa: E731
    cv2.ellipse(canvas, (at(centre[0]), at(centre[1])), (at(axes[0]), at(axes[1])), angle, 0, 360, 255, -1)


@corruption("a hand-like blob (palm and four fingers) over the lower face or a cheek")
def hand_occlusion(faces, rng, area):
    n, side = len(faces), faces.shape[1]
    # palm ellipse (r, 0.8r) plus four fingers (0.22r, 0.7r): about 4.45 r^2 in all
    radius = math.sqrt(area * side * side / 4.45)
    centres = np.column_stack([rng.uniform(0.2, 0.8, n), rng.uniform(0.5, 0.88, n)]) * side
    tilts = rng.uniform(-60, 60, n)  # fingers point up, tilted either way
    shades = rng.uniform(110, 210, n).astype(np.float32)

    def draw(canvas, index):
        (x, y), tilt = centres[index], tilts[index]
        _ellipse(canvas, (x, y), (radius, 0.8 * radius), tilt)
        cos, sin = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
        for offset in (-0.6, -0.2, 0.2, 0.6):
            # a finger at (offset * r, -1.2 r) in the hand's frame, rotated by the tilt
            dx, dy = offset * radius, -1.2 * radius
            _ellipse(canvas, (x + dx * cos - dy * sin, y + dx * sin + dy * cos), (0.22 * radius, 0.7 * radius), tilt)

    return _blend(faces, _patch_masks(faces, draw), shades)


@corruption("a dark glasses-like bar over the eye line")
def glasses_occlusion(faces, rng, height_px, opacity):
    import cv2

    n, side = len(faces), faces.shape[1]
    template = side / 48
    x1, y1, _, y2 = PART_BOXES["right-eye"]
    _, _, x2, _ = PART_BOXES["left-eye"]
    eye_line = (y1 + y2) / 2 * template
    offsets = rng.uniform(-2, 2, n) * template
    tilts = rng.uniform(-6, 6, n)
    shades = rng.uniform(0, 40, n).astype(np.float32)
    width, height = (x2 - x1 - 4) * template, height_px * template

    def draw(canvas, index):
        box = ((side / 2 * SUPERSAMPLE, (eye_line + offsets[index]) * SUPERSAMPLE),
               (width * SUPERSAMPLE, height * SUPERSAMPLE), tilts[index])
        cv2.fillConvexPoly(canvas, np.rint(cv2.boxPoints(box)).astype(np.int32), 255)

    return _blend(faces, _patch_masks(faces, draw) * opacity, shades)


def corruption_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one corruption: the same for all its severities (see the module docstring)."""
    return np.random.default_rng([seed, list(CORRUPTIONS).index(name)])


def corruption_names(names: Sequence[str] | None) -> list[str]:
    """The named corruptions once each, in the order given (all of them for none)."""
    for name in names or []:
        if name not in CORRUPTIONS:
            raise EmoscopeError(f"unknown corruption {name!r} (choose {', '.join(CORRUPTIONS)})")
    return list(dict.fromkeys(names or CORRUPTIONS))


def _accuracy(predictor, images) -> float:
    return float((predictor.predict_proba(images.images).argmax(axis=1) == images.labels).mean())


def bench_robustness(predictors: Sequence, faces: int = 1000, seed: int = 0, split: str = "test",
                     corruptions: Sequence[str] | None = None,
                     on_cell: Callable[[str, int], None] | None = None) -> dict:
    """Clean and corrupted accuracy of each predictor on the same ``faces`` FER2013 faces of ``split``
    (a stratified sample; a 5-class model is scored on those of its classes). ``on_cell`` is told
    each (corruption, severity) once all models are scored on it."""
    from emoscope.benchmarks.classifier_speed import check_fer2013_model
    from emoscope.data import load_dataset
    from emoscope.data.splits import stratified_sample
    from emoscope.evaluation.evaluate import align_labels

    names = corruption_names(corruptions)
    for predictor in predictors:
        check_fer2013_model(predictor, "robustness")
    dataset = load_dataset("fer2013", split=split)
    chosen = dataset.subset(stratified_sample(dataset.labels, min(faces, len(dataset)), seed=seed))
    aligned = [align_labels(chosen, predictor) for predictor in predictors]
    rows = [{"model": p.spec.name, "backend": p.backend, "label_set": p.spec.label_set, "faces": len(images),
             "clean": round(_accuracy(p, images), 4), "corrupted": {}} for p, images in zip(predictors, aligned)]
    for name in names:
        for severity in SEVERITIES:
            corrupted = replace(chosen, images=CORRUPTIONS[name](chosen.images, severity, corruption_rng(seed, name)))
            for predictor, row in zip(predictors, rows):
                cell = round(_accuracy(predictor, align_labels(corrupted, predictor)), 4)
                row["corrupted"].setdefault(name, []).append(cell)
            if on_cell:
                on_cell(name, severity)
    for row in rows:
        by_corruption = {name: float(np.mean(cells)) for name, cells in row["corrupted"].items()}
        mean = round(float(np.mean(list(row["corrupted"].values()))), 4)
        row["mean_corrupted"] = mean
        row["relative_drop"] = round((row["clean"] - mean) / row["clean"], 4) if row["clean"] else None
        row["worst_corruption"] = min(by_corruption, key=by_corruption.get)
    return {"dataset": "fer2013", "split": f"fer2013:{split}", "faces": len(chosen), "seed": seed,
            "severities": list(SEVERITIES),
            "corruptions": {name: {"description": CORRUPTIONS[name].description,
                                   "parameters": {k: list(v) for k, v in SEVERITY_PARAMETERS[name].items()}}
                            for name in names},
            "models": rows}


def robustness_table(results: dict) -> str:
    """docs/robustness.md's Markdown tables: one row per model, then each corruption (mean over its
    severities) across the models."""
    models = results["models"]
    lines = [f"{results['faces']} {results['split']} faces (stratified, seed {results['seed']}), "
             f"{len(results['corruptions'])} corruptions x {len(results['severities'])} severities; "
             "mean corrupted = mean accuracy over all of them, drop = (clean - mean corrupted) / clean.", "",
             "| model | faces | clean | mean corrupted | relative drop | worst corruption (mean accuracy) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in models:
        worst = row["worst_corruption"]
        drop = "-" if row["relative_drop"] is None else f"{100 * row['relative_drop']:.1f}%"
        lines.append(f"| {row['model']} | {row['faces']} | {row['clean']:.4f} | {row['mean_corrupted']:.4f} | "
                     f"{drop} | {worst} ({np.mean(row['corrupted'][worst]):.4f}) |")
    lines += ["", "| corruption | " + " | ".join(row["model"] for row in models) + " |",
              "| --- | " + " | ".join("---" for _ in models) + " |"]
    for name, about in results["corruptions"].items():
        cells = " | ".join(f"{np.mean(row['corrupted'][name]):.4f}" for row in models)
        lines.append(f"| {name}: {about['description']} | {cells} |")
    return "\n".join(lines) + "\n"


COMPARABLE_KEYS = ("dataset", "split", "faces", "seed", "severities", "corruptions")
"""What two robustness runs must share for their numbers to be compared model by model."""


def read_robustness_run(path: Path) -> dict:
    """An earlier ``emoscope bench robustness`` JSON, checked for what a comparison needs."""
    return read_json_output(path, "robustness run", "emoscope bench robustness", (*COMPARABLE_KEYS, "models"))


def before_after(before: dict, after: dict) -> list[dict]:
    """Clean and mean corrupted accuracy of each model in both runs (matched by name), before and after,
    with the change in points. Refuses runs over different faces, seeds or corruptions."""
    for key in COMPARABLE_KEYS:
        if before.get(key) != after.get(key):
            raise EmoscopeError(f"the before run differs in {key!r} ({before.get(key)!r} vs {after.get(key)!r}): "
                                "rerun it with the same --faces, --seed, --split and corruptions")
    earlier = {row["model"]: row for row in before["models"]}
    rows = []
    for row in after["models"]:
        if row["model"] in earlier:
            old = earlier[row["model"]]
            rows.append({"model": row["model"], "clean_before": old["clean"], "clean_after": row["clean"],
                         "clean_change_points": round(100 * (row["clean"] - old["clean"]), 2),
                         "mean_corrupted_before": old["mean_corrupted"], "mean_corrupted_after": row["mean_corrupted"],
                         "mean_corrupted_change_points": round(100 * (row["mean_corrupted"] - old["mean_corrupted"]), 2)})
    if not rows:
        raise EmoscopeError("the before run shares no model name with this one")
    return rows


def before_after_table(rows: list[dict]) -> str:
    lines = ["| model | clean before | clean after | change (points) | mean corrupted before | "
             "mean corrupted after | change (points) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['clean_before']:.4f} | {r['clean_after']:.4f} | {r['clean_change_points']:+.2f} | "
              f"{r['mean_corrupted_before']:.4f} | {r['mean_corrupted_after']:.4f} | "
              f"{r['mean_corrupted_change_points']:+.2f} |" for r in rows]
    return "\n".join(lines) + "\n"
