"""A gesture session: any input (photo, video, webcam, hand crop or Sign MNIST CSV) to per-frame
labels, spoken phrases and an optional labelled copy. The CLI's ``gesture`` command is a thin shell
over :func:`run_session` and :func:`classify_sign_mnist_csv`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.gestures.classifier import (DEFAULT_MODEL, GestureClassifier, GestureFrame, GestureOptions,
                                          require_hand_sized)
from emoscope.gestures.draw import draw_gestures
from emoscope.gestures.speech import Speaker
from emoscope.gestures.stream import GESTURE_FRAME, HELD, STARTED, HoldSmoother, gesture_result, gesture_results
from emoscope.gestures.vocabulary import GESTURE_OF_LETTER, UNKNOWN
from emoscope.video.results import FrameResult
from emoscope.video.sinks import CallbackSink, Sink, VideoWriterSink
from emoscope.video.source import open_source


class SessionRecord(Sink):
    """Counts frames and hands and records each gesture as it is announced."""

    def __init__(self):
        self.frames = 0
        self.frames_with_hands = 0
        self.started: list[tuple[float, str]] = []  # (seconds, gesture) as announced
        self.wav: Path | None = None

    def write(self, result: FrameResult) -> None:
        self.frames += 1
        self.frames_with_hands += bool(result.hands)
        if result.data[STARTED]:
            self.started.append((result.time, result.data[STARTED]))


class SpeechSink(Sink):
    """Says each newly held gesture's phrase; on close, the speaker's WAV (if any) is written."""

    def __init__(self, speaker: Speaker, phrases: dict[str, str]):
        self.speaker = speaker
        self.phrases = phrases
        self.wav: Path | None = None

    def write(self, result: FrameResult) -> None:
        if result.data[STARTED]:
            self.speaker.say(self.phrases[result.data[STARTED]])

    def close(self) -> None:
        self.wav = self.speaker.close()


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
    on_step: Callable[[FrameResult], None] = lambda result: None,
) -> SessionRecord:
    """Classify every frame, hold-smooth, speak each new gesture's phrase once, and summarise.

    A still image is a single frame, so it needs no hold. ``as_crop``: the image is already a hand
    crop framed like Sign MNIST, judged by the model alone. Results go through the video loop's
    sinks: the record, speech, ``on_step`` and, with ``annotate`` (an image or .mp4 path), the
    annotated output.
    """
    with ExitStack() as stack:
        opened = stack.enter_context(open_source(source, max_seconds))
        if as_crop and not opened.still:
            raise EmoscopeError(f"{source}: --crop takes an image file that is already a hand crop, not a video")
        frames = iter(opened.frames)
        first = next(frames, None)
        if first is None:
            raise EmoscopeError(f"{source}: no frame could be read")
        if not as_crop:
            require_hand_sized(first.image, source)
        classifier = GestureClassifier(options, model=model, still=opened.still)
        stack.callback(classifier.close)
        record, speech = SessionRecord(), SpeechSink(speaker, phrases)
        sinks = [record, stack.enter_context(speech), CallbackSink(on_step)]
        if annotate:
            writer = VideoWriterSink(Path(annotate), opened.fps, draw=draw_gestures)
            sinks.append(stack.enter_context(writer))
        if as_crop:
            crop = GestureFrame(0, 0.0, classifier.classify_crops([first.image]))
            results = iter([gesture_result(first, crop, HoldSmoother(1))])
        else:
            results = gesture_results(itertools.chain([first], frames), classifier, 1 if opened.still else hold_frames)
        try:
            for result in results:
                for sink in sinks:
                    sink.write(result)
        except KeyboardInterrupt:
            pass  # Ctrl+C ends a webcam session like the end of a video: what was said is still written
    record.wav = speech.wav
    return record


def describe(result: FrameResult) -> str:
    """One line per frame: time, raw label, held label, and each hand's evidence."""
    frame: GestureFrame = result.data[GESTURE_FRAME]
    parts = [f"frame {frame.index:5d} {frame.time:7.2f}s  {frame.label:<8}  held: {result.data[HELD]:<8}"]
    for number, hand in enumerate(frame.hands, 1):
        best = max(hand.scores, key=hand.scores.get)
        evidence = [f"{best} {hand.scores[best]:.2f}"]
        if hand.landmark_probs:
            evidence.append(f"landmarks {hand.landmark_probs[best]:.2f} (other {hand.landmark_probs['other']:.2f})")
        if hand.rule_scores:
            evidence.append(f"rules {hand.rule_scores[best]:.2f}")
        if hand.crop_probs:
            evidence.append(f"model {hand.crop_probs[best]:.2f} (other {hand.crop_probs['other']:.2f})")
        parts.append(f"hand {number}: {hand.gesture} [{', '.join(evidence)}]")
    if result.data[STARTED]:
        parts.append(f">> {result.data[STARTED]}")
    return "  ".join(parts)


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
