"""`emoscope bench faces SET`: the expression models on labelled photos of real faces, beside the peers.

Each model reads every photo two ways: through the product's own path for photos (the detector, eye
alignment and crop of ``emoscope predict``, the biggest face kept; a photo where no face is found
counts as wrong) and on the photo itself given as the face crop. Peer packages read the same photos
through small adapters (``tools/peers/``) run by their own venv's python in a subprocess, so emoscope
never imports them; a peer that cannot run is reported as skipped, with the reason.

Scores are per part of the subject-disjoint split (:mod:`emoscope.data.face_photos`): accuracy,
macro-F1 and per-class recall over FER2013's seven classes, with 95% intervals from resampling
people (a person's photos are not independent), and accuracy per source family. A model with more
classes (FER+'s contempt) is read over the seven only: the other classes' probabilities are dropped.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.data.face_photos import FacePhoto
from emoscope.data.labels import FER7, canonical_name
from emoscope.errors import EmoscopeError
from emoscope.faces import classify_views, create_photo_detector, crop_faces, framing_zooms

ROUTES = ("pipeline", "crops")
ROUTE_TITLES = {"pipeline": "detect, align, crop", "crops": "photo as the crop"}
BOOTSTRAP_SAMPLES = 2000
PEER_TIMEOUT_S = 3600
NOT_INSTALLED = 3
"""An adapter's exit status when its package cannot be imported."""


@dataclass(frozen=True)
class Peer:
    name: str
    adapter: str  # file name in the adapters' folder
    description: str


PEERS = (Peer("fer", "fer_adapter.py", "fer 25.10.3: its Haar detector and bundled mini-Xception (TFLite)"),)
"""Peers that install from PyPI with their weights in the wheel (requirements/peers.txt says how).
hsemotion-onnx, rmn, emotiefflib and deepface download their weights when run, so they are not here."""
DEFAULT_ADAPTERS = Path(__file__).resolve().parents[3] / "tools" / "peers"
DEFAULT_PEERS_PYTHON = Path("runs/peers-venv/bin/python")


class PeerUnavailable(Exception):
    """A peer could not be run; the message is the reason reported."""


def to_fer7(probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """``(N, 7)`` in FER2013 order from probabilities over ``classes`` (names in any common spelling);
    classes outside the seven are dropped. Rows of NaN (no face) stay NaN."""
    names = [canonical_name(name) for name in classes]
    columns = [FER7.classes.index(name) if name in FER7.classes else -1 for name in names]
    out = np.zeros((len(probs), len(FER7)), np.float64)
    for column, target in enumerate(columns):
        if target >= 0:
            out[:, target] = probs[:, column]
    missing = [name for name in FER7.classes if FER7.classes.index(name) not in columns]
    if missing:
        raise EmoscopeError(f"classes {', '.join(classes)} lack {', '.join(missing)}: not a 7-expression model")
    return out


def read_pipeline(photos: Sequence[FacePhoto], predictors: Sequence, detector: str, framing_views: bool = False,
                  tta: str = "none", progress: Callable[[int], None] = lambda done: None) -> dict[str, np.ndarray]:
    """Each predictor's ``(N, 7)`` probabilities through detect -> align -> crop (as ``emoscope predict``);
    a row of NaN where no face was found. Each photo is detected once; the biggest face is read."""
    zooms = framing_zooms(framing_views)
    crops: dict[str, list] = {p.spec.name: [] for p in predictors}
    found = np.zeros(len(photos), bool)
    with create_photo_detector(detector) as face_detector:
        for index, photo in enumerate(photos):
            image = photo.image()
            detections = face_detector.detect(image)
            if len(detections):
                boxes = detections.boxes
                biggest = detections.select([int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))])
                found[index] = True
                for predictor in predictors:
                    crops[predictor.spec.name] += crop_faces(image, biggest, predictor.spec, zooms=zooms)
            progress(index + 1)
    readings = {}
    for predictor in predictors:
        probs = np.full((len(photos), len(FER7)), np.nan)
        probs[found] = to_fer7(classify_views(predictor, crops[predictor.spec.name], len(zooms), tta=tta),
                               predictor.classes)
        readings[predictor.spec.name] = probs
    return readings


def read_crops(photos: Sequence[FacePhoto], predictors: Sequence, tta: str = "none") -> dict[str, np.ndarray]:
    """Each predictor's ``(N, 7)`` probabilities with every photo given whole as the face crop."""
    images = [photo.image() for photo in photos]
    return {p.spec.name: to_fer7(p.predict_proba(images, tta=tta), p.classes) for p in predictors}


def write_photos(photos: Sequence[FacePhoto], folder: Path) -> list[Path]:
    """The photos as files (for peers, which read paths), named by position to keep them apart."""
    paths = []
    for index, photo in enumerate(photos):
        path = folder / f"{index:05d}{Path(photo.path).suffix.lower() or '.img'}"
        path.write_bytes(photo.image_bytes)
        paths.append(path)
    return paths


def run_peer(peer: Peer, python: Path, adapters: Path, image_paths: Sequence[Path], route: str) -> np.ndarray:
    """A peer's ``(N, 7)`` probabilities on the image files (NaN rows where it found no face); raises
    :class:`PeerUnavailable` with the reason when it cannot run."""
    script = adapters / peer.adapter
    if not Path(python).is_file():
        raise PeerUnavailable(f"no peers python at {python} (see requirements/peers.txt)")
    if not script.is_file():
        raise PeerUnavailable(f"no adapter {script}")
    with tempfile.TemporaryDirectory(prefix="emoscope-peer-") as work:
        out = Path(work) / "out.json"
        try:
            done = subprocess.run([str(python), str(script), "--mode", route, "--out", str(out)],
                                  input=json.dumps([str(p) for p in image_paths]), capture_output=True, text=True,
                                  timeout=PEER_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerUnavailable(f"{peer.name} could not run ({exc})") from None
        last_line = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if done.returncode == NOT_INSTALLED:
            raise PeerUnavailable(f"not installed: {last_line}")
        if done.returncode != 0 or not out.is_file():
            raise PeerUnavailable(f"{peer.name} adapter failed (exit {done.returncode}): {last_line}")
        answer = json.loads(out.read_text(encoding="utf-8"))
    results = answer["results"]
    if len(results) != len(image_paths):
        raise PeerUnavailable(f"{peer.name} adapter answered {len(results)} of {len(image_paths)} images")
    classes = answer["classes"]
    probs = np.array([[np.nan] * len(classes) if r is None else [r[c] for c in classes] for r in results], np.float64)
    return to_fer7(probs, classes)


def check_seven_classes(predictor) -> None:
    """Refuse, in one line, a model that lacks one of FER2013's seven expressions."""
    if not set(FER7.classes) <= {canonical_name(name) for name in predictor.classes}:
        raise EmoscopeError(f"{predictor.spec.name}: classes {', '.join(predictor.classes)} lack some of "
                            f"{', '.join(FER7.classes)}; the faces bench scores 7-expression models")


def predicted(probs: np.ndarray) -> np.ndarray:
    """Class indices, -1 where no face was found (a NaN row)."""
    out = np.full(len(probs), -1, np.int64)
    found = ~np.isnan(probs).any(axis=1)
    out[found] = probs[found].argmax(axis=1)
    return out


def _macro_f1(tp: np.ndarray, truth: np.ndarray, guessed: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in the truth, along the last axis (so it also takes a
    stack of bootstrap samples)."""
    denominator = truth + guessed
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1e-12), 0.0)
    present = truth > 0
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def _per_identity(truth: np.ndarray, guess: np.ndarray, identities: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Per person: true positives, true counts and predicted counts by class, ``(people, 7)`` each."""
    names, person = np.unique(np.asarray(identities, dtype=str), return_inverse=True)
    classes = len(FER7)
    tp, counts, guessed = (np.zeros((len(names), classes)) for _ in range(3))
    np.add.at(counts, (person, truth), 1)
    np.add.at(tp, (person[guess == truth], truth[guess == truth]), 1)
    np.add.at(guessed, (person[guess >= 0], guess[guess >= 0]), 1)
    return tp, counts, guessed


def bootstrap_weights(people: int, samples: int, seed: int) -> np.ndarray:
    """``(samples, people)``: how often each person is drawn in each resample (people drawn with
    replacement, as many as there are)."""
    return np.random.default_rng(seed).multinomial(people, np.full(people, 1 / people), size=samples).astype(np.float64)


def _interval(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]


def score(truth: np.ndarray, guess: np.ndarray, identities: Sequence[str], weights: np.ndarray) -> dict:
    """Accuracy, macro-F1 (both with subject-bootstrap 95% intervals from ``weights``), per-class
    recall and the share of photos with a face found. ``guess`` is -1 where no face was found."""
    truth, guess = np.asarray(truth, np.int64), np.asarray(guess, np.int64)
    tp, counts, guessed = _per_identity(truth, guess, identities)
    total_tp, total_counts = tp.sum(0), counts.sum(0)
    boot_tp, boot_counts, boot_guessed = weights @ tp, weights @ counts, weights @ guessed
    boot_accuracy = boot_tp.sum(1) / np.maximum(boot_counts.sum(1), 1)
    return {
        "photos": int(len(truth)), "people": int(len(tp)),
        "found": round(float((guess >= 0).mean()), 4),
        "accuracy": round(float(total_tp.sum() / total_counts.sum()), 4),
        "accuracy_ci95": _interval(boot_accuracy),
        "macro_f1": round(float(_macro_f1(total_tp, total_counts, guessed.sum(0))), 4),
        "macro_f1_ci95": _interval(_macro_f1(boot_tp, boot_counts, boot_guessed)),
        "recall": {name: (round(float(total_tp[i] / total_counts[i]), 4) if total_counts[i] else None)
                   for i, name in enumerate(FER7.classes)},
    }


def paired_gap(truth: np.ndarray, guess_a: np.ndarray, guess_b: np.ndarray, identities: Sequence[str],
               weights: np.ndarray) -> dict:
    """Accuracy of ``a`` minus that of ``b`` in points, on the same photos, with its subject-bootstrap
    95% interval (the same resamples for both, so the interval is of the difference itself)."""
    _, person = np.unique(np.asarray(identities, dtype=str), return_inverse=True)
    right_a = np.bincount(person, weights=(guess_a == truth).astype(float))
    right_b = np.bincount(person, weights=(guess_b == truth).astype(float))
    photos = np.bincount(person).astype(float)
    boot = 100 * (weights @ (right_a - right_b)) / (weights @ photos)
    return {"points": round(float(100 * (right_a.sum() - right_b.sum()) / photos.sum()), 2),
            "ci95": [round(float(v), 2) for v in np.percentile(boot, [2.5, 97.5])]}


def score_part(photos: Sequence[FacePhoto], readings: dict[tuple[str, str], np.ndarray], samples: int,
               seed: int) -> dict:
    """Every reading (``(source, route)`` -> probabilities) scored on one part, overall and per source family."""
    truth = np.array([FER7.classes.index(p.label) for p in photos])
    identities = [p.identity for p in photos]
    families = np.array([p.source_family for p in photos])
    people = len(set(identities))
    weights = bootstrap_weights(people, samples, seed)
    rows = []
    for (source, route), probs in readings.items():
        guess = predicted(probs)
        row = {"source": source, "route": route, **score(truth, guess, identities, weights), "by_family": {}}
        for family in sorted(set(families)):
            mine = families == family
            row["by_family"][family] = {"photos": int(mine.sum()),
                                        "accuracy": round(float((guess[mine] == truth[mine]).mean()), 4),
                                        "found": round(float((guess[mine] >= 0).mean()), 4)}
        rows.append(row)
    return {"photos": len(photos), "people": people,
            "class_counts": {name: int((truth == i).sum()) for i, name in enumerate(FER7.classes)},
            "family_counts": {family: int((families == family).sum()) for family in sorted(set(families))},
            "rows": rows}


def add_gaps_to_best_peer(part: dict, readings: dict[tuple[str, str], np.ndarray], photos: Sequence[FacePhoto],
                          peer_names: Sequence[str], samples: int, seed: int) -> None:
    """Per route, every model's accuracy gap to the most accurate peer on that route (paired interval)."""
    truth = np.array([FER7.classes.index(p.label) for p in photos])
    identities = [p.identity for p in photos]
    weights = bootstrap_weights(len(set(identities)), samples, seed)
    part["gaps_to_best_peer"] = {}
    for route in ROUTES:
        peers = [row for row in part["rows"] if row["route"] == route and row["source"] in peer_names]
        if not peers:
            continue
        best = max(peers, key=lambda row: row["accuracy"])["source"]
        best_guess = predicted(readings[(best, route)])
        models = {source: probs for (source, model_route), probs in readings.items()
                  if model_route == route and source not in peer_names}
        part["gaps_to_best_peer"][route] = {"peer": best, "models": {
            source: paired_gap(truth, predicted(probs), best_guess, identities, weights)
            for source, probs in models.items()}}


PART_TITLES = {"dev": "Development part (tuned on)", "measure": "Measure-only part (never tuned on)"}


def _ci(row: dict, key: str) -> str:
    low, high = row[f"{key}_ci95"]
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"


def faces_table(results: dict) -> str:
    """The Markdown tables of :func:`bench_faces`-style results: per part, one row per source and route."""
    views = " with framing views" if results["framing_views"] else ""
    tta = f", TTA {results['tta']}" if results["tta"] != "none" else ""
    lines = [f"`{results['command']}`", "",
             f"Set `{results['set']}`; pipeline detector {results['detector']}{views}{tta}; 95% intervals from "
             f"{results['bootstrap_samples']} resamples of people (seed {results['seed']}). `found`: share of photos "
             "where a face was found (a miss counts as wrong). Recall per class in FER2013 order.", ""]
    for name, part in results["parts"].items():
        counts = ", ".join(f"{c} {n}" for c, n in part["class_counts"].items())
        families = sorted(part["family_counts"])
        lines += [f"**{PART_TITLES[name]}**: {part['photos']} photos of {part['people']} people ({counts}).", "",
                  "| model | route | found | accuracy [95% CI] | macro-F1 [95% CI] | " + " | ".join(FER7.classes)
                  + " | " + " | ".join(f"{f} ({part['family_counts'][f]})" for f in families) + " |",
                  "| --- " * (5 + len(FER7) + len(families)) + "|"]
        for row in part["rows"]:
            recall = " | ".join("-" if row["recall"][c] is None else f"{row['recall'][c]:.2f}" for c in FER7.classes)
            by_family = " | ".join(f"{row['by_family'][f]['accuracy']:.3f}" for f in families)
            lines.append(f"| {row['source']} | {ROUTE_TITLES[row['route']]} | {row['found']:.3f} | {_ci(row, 'accuracy')} "
                         f"| {_ci(row, 'macro_f1')} | {recall} | {by_family} |")
        lines.append("")
        for route, gaps in part.get("gaps_to_best_peer", {}).items():
            said = "; ".join(f"{model} {gap['points']:+.1f} [{gap['ci95'][0]:+.1f}, {gap['ci95'][1]:+.1f}]"
                             for model, gap in gaps["models"].items())
            lines += [f"Accuracy minus the best peer's ({gaps['peer']}), {ROUTE_TITLES[route]}, points [paired 95% CI]: "
                      f"{said}.", ""]
    for skipped in results["skipped_peers"]:
        lines += [f"Peer {skipped['peer']} skipped: {skipped['reason']}.", ""]
    return "\n".join(lines)


def bench_faces(parts: dict[str, list[FacePhoto]], predictors: Sequence, detector: str, framing_views: bool = False,
                tta: str = "none", peers: Sequence[Peer] = PEERS, peers_python: Path = DEFAULT_PEERS_PYTHON,
                adapters: Path = DEFAULT_ADAPTERS, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                progress: Callable[[str, int, int], None] = lambda what, done, total: None) -> dict:
    """Scores per part (``{"dev": photos, "measure": photos}``) of every predictor on both routes and
    of every peer that runs. Peers see the same photos, unmodified (framing views and TTA are ours)."""
    results: dict = {"detector": detector, "framing_views": framing_views, "tta": tta, "bootstrap_samples": samples,
                     "seed": seed, "models": [p.spec.name for p in predictors],
                     "peers": {peer.name: peer.description for peer in peers}, "skipped_peers": [], "parts": {},
                     "predictions": {}}
    unavailable: dict[str, str] = {}
    for name, photos in parts.items():
        readings: dict[tuple[str, str], np.ndarray] = {}
        for model, probs in read_pipeline(photos, predictors, detector, framing_views, tta,
                                          lambda done: progress(f"{name}: detect and crop", done, len(photos))).items():
            readings[(model, "pipeline")] = probs
        for model, probs in read_crops(photos, predictors, tta).items():
            readings[(model, "crops")] = probs
        with tempfile.TemporaryDirectory(prefix="emoscope-faces-") as folder:
            paths = write_photos(photos, Path(folder)) if peers else []
            for peer in peers:
                for route in ROUTES:
                    if peer.name in unavailable:
                        break
                    progress(f"{name}: peer {peer.name} ({route})", 0, 1)
                    try:
                        readings[(peer.name, route)] = run_peer(peer, peers_python, adapters, paths, route)
                    except PeerUnavailable as exc:
                        unavailable[peer.name] = str(exc)
                        readings.pop((peer.name, "pipeline"), None)
        results["parts"][name] = score_part(photos, readings, samples, seed)
        add_gaps_to_best_peer(results["parts"][name], readings, photos, [p.name for p in peers], samples, seed)
        results["predictions"][name] = {
            "paths": [p.path for p in photos],
            **{f"{source}/{route}": [FER7.classes[g] if g >= 0 else None for g in predicted(probs)]
               for (source, route), probs in readings.items()}}
    results["skipped_peers"] = [{"peer": peer, "reason": reason} for peer, reason in unavailable.items()]
    return results
