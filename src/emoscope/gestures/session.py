"""A gesture session: any input (photo, video, webcam, hand crop or Sign MNIST CSV) to per-frame
labels, spoken phrases and an optional labelled copy. The CLI's ``gesture`` command is a thin shell
over :func:`run_session` and :func:`classify_sign_mnist_csv`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.gestures.classifier import (DEFAULT_MODEL, GestureClassifier, GestureFrame, GestureOptions,
                                          require_hand_sized)
from emoscope.gestures.draw import AnnotatedOutput, draw_gestures
from emoscope.gestures.speech import Speaker
from emoscope.gestures.stream import GestureStep, HoldSmoother, gesture_steps, read_frames
from emoscope.gestures.vocabulary import GESTURE_OF_LETTER, UNKNOWN


@dataclass
class SessionSummary:
    frames: int = 0
    frames_with_hands: int = 0
    started: list[tuple[float, str]] = field(default_factory=list)  # (seconds, gesture) as announced
    wav: Path | None = None


def is_csv(source: str) -> bool:
    return source.lower().endswith((".csv", ".csv.gz"))


def run_session(
    source: str,
    speaker: Speaker,
    phrases: dict[str, str],
    options: GestureOptions | None = None,
    hold_frames: int = 5,
    as_crop: bool = False,
    annotate: str | Path | None = None,
    max_seconds: float | None = None,
    model: str = DEFAULT_MODEL,
    on_step: Callable[[GestureStep], None] = lambda step: None,
) -> SessionSummary:
    """Classify every frame, hold-smooth, speak each new gesture's phrase once, and summarise.

    A still image is a single frame, so it needs no hold. ``as_crop``: the image is already a hand
    crop framed like Sign MNIST, judged by the model alone.
    """
    source_frames = read_frames(int(source) if source.isdigit() else source, max_seconds)
    if as_crop and not source_frames.still:
        raise EmoscopeError(f"{source}: --crop takes an image file that is already a hand crop, not a video")
    first = next(source_frames.frames, None)
    if first is None:
        raise EmoscopeError(f"{source}: no frame could be read")
    if not as_crop:
        require_hand_sized(first.image, source)
    classifier = GestureClassifier(options, model=model, still=source_frames.still)
    output = AnnotatedOutput(annotate, source_frames.fps) if annotate else None
    summary = SessionSummary()
    try:
        if as_crop:
            steps = [_crop_step(classifier, first.image)]
        else:
            frames = itertools.chain([first], source_frames.frames)
            steps = gesture_steps(frames, classifier, 1 if source_frames.still else hold_frames)
        for step in steps:
            summary.frames += 1
            summary.frames_with_hands += bool(step.frame.hands)
            if step.started:
                summary.started.append((step.frame.time, step.started))
                speaker.say(phrases[step.started])
            on_step(step)
            if output is not None:
                output.write(draw_gestures(step.image, step.frame, step.stable))
    except KeyboardInterrupt:
        pass  # Ctrl+C ends a webcam session like the end of a video: what was said is still written
    finally:
        classifier.close()
        if output is not None:
            output.close()
    summary.wav = speaker.close()
    return summary


def describe(step: GestureStep) -> str:
    """One line per frame: time, raw label, held label, and each hand's evidence."""
    frame = step.frame
    parts = [f"frame {frame.index:5d} {frame.time:7.2f}s  {frame.label:<8}  held: {step.stable:<8}"]
    for number, hand in enumerate(frame.hands, 1):
        best = max(hand.scores, key=hand.scores.get)
        evidence = [f"{best} {hand.scores[best]:.2f}"]
        if hand.rule_scores:
            evidence.append(f"rules {hand.rule_scores[best]:.2f}")
        if hand.crop_probs:
            evidence.append(f"model {hand.crop_probs[best]:.2f} (other {hand.crop_probs['other']:.2f})")
        parts.append(f"hand {number}: {hand.gesture} [{', '.join(evidence)}]")
    if step.started:
        parts.append(f">> {step.started}")
    return "  ".join(parts)


def _crop_step(classifier: GestureClassifier, image: np.ndarray) -> GestureStep:
    frame = GestureFrame(0, 0.0, classifier.classify_crops([image]))
    started = HoldSmoother(1).update(frame.label)
    return GestureStep(frame, frame.label, started, image)


@dataclass
class CsvResult:
    letters: np.ndarray  # each row's true letter
    gestures: list[str]  # each row's verdict: a gesture or "unknown"

    def recall(self) -> dict[str, float]:
        """Per gesture letter: the share of its rows called that gesture; "other": share called unknown."""
        truth = np.array([GESTURE_OF_LETTER.get(letter, UNKNOWN) for letter in self.letters])
        called = np.asarray(self.gestures)
        out = {}
        for letter, gesture in [*GESTURE_OF_LETTER.items(), ("other", UNKNOWN)]:
            rows = truth == gesture
            if rows.any():
                out[letter] = float((called[rows] == gesture).mean())
        return out


def classify_sign_mnist_csv(path: str | Path, model: str = DEFAULT_MODEL) -> CsvResult:
    """Every row of a Sign Language MNIST CSV through the crop model (the rows are hand crops)."""
    from emoscope.data.sign_mnist import load_sign_mnist

    rows = load_sign_mnist(path)
    classifier = GestureClassifier(GestureOptions(route="crop"), model=model)
    results = classifier.classify_crops(list(rows.images))
    return CsvResult(rows.meta["letters"], [r.gesture for r in results])
