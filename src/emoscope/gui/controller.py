"""The desktop app's state and actions, with no Tk in it (so they can be tested and reused): the view
calls an action, then :meth:`AppController.poll` from its ``after()`` loop and draws what it says.

Every action that can fail on bad input (an unreadable file, a video with no frames, a camera index
that does not exist, a model that does not load) puts one line in :attr:`AppController.status` and
leaves the app as usable as before.
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscope.data.face_parts import is_part_model
from emoscope.data.labels import FIVE, canonical_name
from emoscope.errors import EmoscopeError, OutputError
from emoscope.gui.player import LivePlayer
from emoscope.gui.updates import LiveUpdate, live_options
from emoscope.gui.settings import GuiSettings, load_settings, save_settings

EXPRESSION_DATASETS = ("fer2013", "ferplus")
"""A shipped model is a whole-face expression model when its card measures it on one of these (the
gesture and part models are measured on other data)."""


def expression_models() -> list[str]:
    """Shipped whole-face expression models, by their cards (fer-fast, fer5, fer-best, ferplus...)."""
    from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

    names = []
    for name in list_pretrained():
        card = WEIGHTS_DIR / f"{name}.card.json"
        if is_part_model(name) or not card.is_file():
            continue
        try:
            dataset = json.loads(card.read_text(encoding="utf-8"))["test_split"].split(":")[0]
        except (OSError, ValueError, KeyError):
            continue
        if dataset in EXPRESSION_DATASETS:
            names.append(name)
    return names


def view_probabilities(classes: list[str], probs: np.ndarray, view: str) -> list[tuple[str, float]]:
    """The bars to show: every class, or (``view`` "5") the real-time study's five classes,
    renormalised. A model without those classes keeps its own."""
    pairs = list(zip(classes, (float(p) for p in probs)))
    if view != "5":
        return pairs
    five = [(name, p) for name, p in pairs if canonical_name(name) in FIVE.classes]
    total = sum(p for _, p in five)
    if len(five) == len(pairs) or not five or total <= 0:
        return pairs
    return [(name, p / total) for name, p in five]


@dataclass
class Selected:
    """What the bars and the result line describe."""

    track_id: int
    bars: list[tuple[str, float]]
    label: str
    prob: float


class AppController:
    def __init__(self, settings_path: Path | None = None):
        from emoscope.faces import list_detectors

        self.settings_path = settings_path
        self.settings: GuiSettings = load_settings(settings_path)
        self.models = expression_models()
        self.detectors = list_detectors()
        self.status = "open an image (Ctrl+I), a video (Ctrl+O) or a webcam (Ctrl+W)"
        self.mode = "complete"  # or "parts"
        self.player: LivePlayer | None = None
        self.last: LiveUpdate | None = None
        self.fps = 0.0
        self.dropped = 0
        self.recording = False
        self.source_name = ""
        self._source: str | int | None = None
        self._parts_reader = None
        self.predictor = None
        self.model_name = ""
        try:
            self._load_model(self.settings.model)
        except EmoscopeError as exc:
            fallback = "fer-fast" if "fer-fast" in self.models else (self.models or [None])[0]
            self.status = f"error: {exc}; using {fallback}"
            if fallback is not None:
                self._load_model(fallback)
        if self.settings.detector not in self.detectors:
            self.settings.detector = "mediapipe"

    # -- sources -------------------------------------------------------------------------------------
    def open(self, source: str | int) -> bool:
        """Open an image, a video file or a webcam index in place of the current source."""
        if self.predictor is None:
            self.status = "error: no expression model loaded; choose one"
            return False
        self.close_source()
        player = LivePlayer(self.predictor, live_options(self.settings.detector), parts=self._parts_if_needed(),
                            gestures=self.settings.gestures, speaker=self._speaker(), realtime=True)
        player.show_parts = self.mode == "parts" and player.parts_reader is not None
        try:
            opened = player.start(source)
        except EmoscopeError as exc:
            self.status = f"error: {exc}"
            if player.speaker is not None:
                player.speaker.close()
            return False
        self.player, self._source, self.source_name = player, source, opened.name
        self.last = None
        self.status = f"{opened.name}: " + ("analysing" if player.still else "playing (Space pauses, . steps)")
        return True

    def open_webcam(self, index: int | None = None) -> bool:
        index = self.settings.webcam if index is None else index
        if index < 0:
            self.status = f"error: webcam {index}: no such camera index"
            return False
        self.settings.webcam = index
        self._save()
        return self.open(index)

    def close_source(self) -> None:
        """Stop the current source; its capture and threads are released (a recording is written)."""
        player, self.player = self.player, None
        if player is None:
            return
        player.stop()
        self.recording = False
        self._drain(player)  # its last words, e.g. where the recording went

    # -- playback ------------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.player is None or self.player.still:
            return
        self.player.pause(not self.player.paused)
        self.status = f"{self.source_name}: {'paused' if self.player.paused else 'playing'}"

    def step(self) -> None:
        if self.player is None or self.player.still:
            return
        self.player.step()
        self.status = f"{self.source_name}: paused; one frame on"

    # -- what is predicted ------------------------------------------------------------------------------
    def parts_predict(self) -> None:
        """Show each part's own prediction and occlusion effect for the selected face."""
        reader = self._parts_if_needed(force=True)
        if reader is None:
            return
        self.mode = "parts"
        if self.player is not None:
            self.player.parts_reader = reader
            self.player.set_parts(True)
        self.status = "parts predict: each part read by its own model; occlusion = drop with the part masked"

    def complete_predict(self) -> None:
        """The whole-face prediction (the study's "complete predict")."""
        self.mode = "complete"
        if self.player is not None:
            self.player.set_parts(False)
        self.status = "complete predict: the whole face"

    def next_face(self) -> None:
        """Select the next face (by track id) for the bars and parts."""
        if self.player is None or self.last is None or self.last.result is None or not self.last.result.faces:
            return
        ids = sorted(face.track_id for face in self.last.result.faces)
        current = self.last.selected.track_id if self.last.selected is not None else ids[0]
        chosen = ids[(ids.index(current) + 1) % len(ids)] if current in ids else ids[0]
        self.player.select(chosen)
        self.status = f"face #{chosen} selected"

    def set_model(self, name_or_path: str) -> bool:
        """Switch the expression model (a shipped name or a file); remembered for the next start."""
        try:
            self._load_model(name_or_path)
        except EmoscopeError as exc:
            self.status = f"error: {exc}; still using {self.model_name}"
            return False
        if name_or_path in self.models:
            self.settings.model = name_or_path
            self._save()
        if self.player is not None:
            self.recording = False
            self.player.reconfigure(self.predictor, live_options(self.settings.detector))
        self.status = f"model {self.model_name} ({len(self.predictor.classes)} classes)"
        return True

    def set_detector(self, name: str) -> None:
        if name not in self.detectors:
            self.status = f"error: unknown face detector {name!r}"
            return
        self.settings.detector = name
        self._save()
        if self.player is not None:
            self.recording = False
            self.player.reconfigure(self.predictor, live_options(name))
        self.status = f"detector {name}"

    def set_view(self, view: str) -> None:
        self.settings.view = "5" if view == "5" else "7"
        self._save()

    def set_gestures(self, on: bool) -> None:
        """Gestures (and speech) apply from the next source opened: they need their own hand tracker."""
        self.settings.gestures = on
        self._save()
        self.status = f"gestures {'on' if on else 'off'} from the next source opened"

    def set_speech(self, on: bool) -> None:
        self.settings.speech = on
        self._save()
        self.status = f"speech {'on' if on else 'off'} from the next source opened"

    # -- outputs -------------------------------------------------------------------------------------
    def toggle_record(self) -> None:
        """Start or stop recording the report of what is shown (the JSON/HTML of `emoscope analyze`)."""
        if self.player is None:
            self.status = "error: nothing to record; open a video or a webcam first"
            return
        if self.player.still:
            self.status = "error: recording needs a video or a webcam, not a still image (use snapshot)"
            return
        if self.recording:
            self.player.stop_recording()
            self.recording = False
            self.status = "writing the report..."
            return
        from emoscope.jobs.analyze import default_name

        stem = f"{default_name(self._source)}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.player.start_recording(Path(self.settings.out_dir), stem)
        self.recording = True

    def snapshot(self, path: Path | None = None) -> Path | None:
        """Save the annotated frame shown now as a PNG (atomically)."""
        import cv2

        from emoscope.files import atomic_output, ensure_writable_folder

        if self.last is None or self.last.canvas is None:
            self.status = "error: no frame to save yet"
            return None
        if path is None:
            stem = Path(self.source_name).stem or "frame"
            index = self.last.result.index if self.last.result is not None else 0
            path = Path(self.settings.out_dir) / f"{stem}-frame{index}-{time.strftime('%Y%m%d-%H%M%S')}.png"
        try:
            ensure_writable_folder(path.parent)
            with atomic_output(path) as temporary:
                if not cv2.imwrite(str(temporary), self.last.canvas):
                    raise OutputError(f"{path}: cannot write the snapshot")
        except EmoscopeError as exc:
            self.status = f"error: {exc}"
            return None
        self.status = f"snapshot saved: {path}"
        return path

    # -- the view's loop -------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Take the player's new updates; True when something changed that the view should draw."""
        return self.player is not None and self._drain(self.player)

    def _drain(self, player: LivePlayer) -> bool:
        changed = False
        while True:
            try:
                update = player.updates.get_nowait()
            except queue.Empty:
                return changed
            changed = True
            if update.result is not None:
                self.last = update
            self.fps, self.dropped = update.fps, update.dropped
            if update.message:
                self.status = update.message
                if update.message.startswith(("report written", "no report")):
                    self.recording = False
            if update.ended and self.recording:
                self.recording = False

    def selected(self) -> Selected | None:
        face = self.last.selected if self.last is not None else None
        if face is None:
            return None
        bars = view_probabilities(self.last.classes, face.smoothed, self.settings.view)
        label, prob = max(bars, key=lambda bar: bar[1])
        return Selected(face.track_id, bars, label, prob)

    def result_line(self) -> str:
        """The study's line at the bottom: the result and its probability."""
        chosen = self.selected()
        if chosen is None:
            return "no face" if self.last is not None else ""
        line = f"#{chosen.track_id} {chosen.label} {chosen.prob:.2f}"
        parts = self.last.parts if self.last is not None else None
        if self.mode == "parts" and parts is not None:
            line = "parts: " + ", ".join(f"{p.part} {p.label} {p.prob:.2f}" for p in parts.parts)
        return line

    def panic_text(self) -> str | None:
        """'PANIC' while a face's panic episode is active, 'calm' otherwise, None when not scored."""
        if self.last is None or self.last.result is None:
            return None
        scores = [face.data for face in self.last.result.faces if "panic_active" in face.data]
        if not scores:
            return None
        return "PANIC" if any(data["panic_active"] for data in scores) else "calm"

    def shutdown(self) -> None:
        self.close_source()
        self._save()

    # -- helpers -------------------------------------------------------------------------------------
    def _load_model(self, name_or_path: str) -> None:
        from emoscope.runtime.predictor import shared_predictor

        predictor = shared_predictor(name_or_path)
        if is_part_model(predictor.spec.name):
            raise EmoscopeError(f"{name_or_path}: a part model reads one facial part; choose a whole-face model")
        self.predictor, self.model_name = predictor, predictor.spec.name

    def _parts_if_needed(self, force: bool = False):
        if self._parts_reader is None and (force or self.mode == "parts"):
            from emoscope.gui.parts import PartsReader

            try:
                self._parts_reader = PartsReader()
            except EmoscopeError as exc:
                self.status = f"error: parts predict needs the part models: {exc}"
        return self._parts_reader

    def _speaker(self):
        if not (self.settings.gestures and self.settings.speech):
            return None
        from emoscope.gestures.speech import Speaker

        return Speaker(play=True, warn=self._warn)

    def _warn(self, line: str) -> None:
        self.status = line

    def _save(self) -> None:
        try:
            save_settings(self.settings, self.settings_path)
        except (OSError, EmoscopeError) as exc:
            self.status = f"settings not saved: {exc}"
