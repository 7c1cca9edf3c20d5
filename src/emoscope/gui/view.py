"""The Tk window of ``emoscope gui``: ttk widgets over :class:`~emoscope.gui.controller.AppController`.

The window only draws: every action goes to the controller, and an ``after()`` loop polls it for the
player's updates (the player's threads never touch Tk, which is not thread-safe).
"""

from __future__ import annotations

import signal
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk

import numpy as np

from emoscope.data.face_parts import PARTS
from emoscope.gui.controller import AppController
from emoscope.video.source import IMAGE_SUFFIXES, VIDEO_SUFFIXES

POLL_MS = 15
CLOSE_CHECK_MS = 100  # how soon Ctrl+C or SIGTERM closes the window
BAR_COLOUR, TROUGH_COLOUR = "#2e86de", "#e3e8ec"
BAR_LENGTH, BAR_HEIGHT = 160, 14  # pixels at 96 dpi
PANIC_COLOURS = {"PANIC": "#e74c3c", "calm": "#27ae60", None: "#bdc3c7"}
PART_SIDE = 72  # pixels a part crop is shown at
VIEWS = {"7 classes": "7", "5 classes": "5"}
VIDEO_TYPES = [("videos", " ".join(f"*{suffix}" for suffix in VIDEO_SUFFIXES)), ("all files", "*")]
IMAGE_TYPES = [("images", " ".join(f"*{suffix}" for suffix in IMAGE_SUFFIXES)), ("all files", "*")]
MODEL_TYPES = [("models", "*.safetensors *.onnx"), ("all files", "*")]

SHORTCUTS = {
    "open_image": ("<Control-i>", "Ctrl+I"), "open_video": ("<Control-o>", "Ctrl+O"),
    "webcam": ("<Control-w>", "Ctrl+W"), "pause": ("<space>", "Space"), "step": ("<period>", "."),
    "parts": ("<p>", "P"), "complete": ("<c>", "C"), "record": ("<r>", "R"), "snapshot": ("<s>", "S"),
    "next_face": ("<n>", "N"), "model_file": ("<Control-m>", "Ctrl+M"), "view": ("<v>", "V"),
    "gestures": ("<g>", "G"), "close": ("<Control-q>", "Ctrl+Q"),
}
"""Every action's key, and how its button shows it."""


def use_theme(root: tk.Tk) -> float:
    """Sun Valley's light ttk theme (sv-ttk, the `gui` extra, as Pillow is), and Tk scaled to the screen's
    real pixels per point: the window's size in pixels is multiplied by the returned factor (1 at 96 dpi),
    so a high-DPI screen shows it at the same physical size."""
    import sv_ttk

    sv_ttk.set_theme("light", root)
    dpi = root.winfo_fpixels("1i")
    root.tk.call("tk", "scaling", dpi / 72)
    return max(1.0, dpi / 96)


def _ask(kind: str, filetypes) -> Callable[[], str]:
    return lambda: filedialog.askopenfilename(title=f"Open {kind}", filetypes=filetypes)


class App:
    """The window. ``ask_image``/``ask_video``/``ask_model`` return a path (or "" when cancelled);
    the defaults are Tk's file dialogs."""

    def __init__(self, root: tk.Tk, controller: AppController, ask_image=None, ask_video=None, ask_model=None):
        self.root, self.c = root, controller
        self.ask = {"image": ask_image or _ask("an image", IMAGE_TYPES),
                    "video": ask_video or _ask("a video", VIDEO_TYPES),
                    "model": ask_model or _ask("a model file", MODEL_TYPES)}
        self._photo = None  # Tk forgets images nobody holds a reference to
        self._part_photos: list = []
        self._bar_classes: list[str] = []
        self._frame_shown = None
        self.closed = False
        root.title("emoscope")
        self.scale = use_theme(root)
        root.geometry(f"{round(1200 * self.scale)}x{round(680 * self.scale)}")
        root.minsize(round(900 * self.scale), round(560 * self.scale))
        style = ttk.Style(root)
        style.configure("Result.TLabel", font=("TkDefaultFont", 16, "bold"))
        self.actions: dict[str, Callable[[], None]] = {
            "open_image": self.open_image, "open_video": self.open_video, "webcam": self.open_webcam,
            "pause": self.c.toggle_pause, "step": self.c.step, "parts": self.c.parts_predict,
            "complete": self.c.complete_predict, "record": self.c.toggle_record, "snapshot": self.c.snapshot,
            "next_face": self.c.next_face, "model_file": self.open_model_file, "view": self.toggle_view,
            "gestures": self.toggle_gestures, "close": self.close,
        }
        self._build()
        for action, (key, _) in SHORTCUTS.items():
            root.bind_all(key, self._on_key(action))
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._refresh_controls()
        self._poll_id = self.root.after(POLL_MS, self._poll)

    # -- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        root = self.root
        root.columnconfigure(0, weight=1)
        root.rowconfigure(2, weight=1)
        bar = ttk.Frame(root, padding=(6, 4))
        bar.grid(row=0, column=0, sticky="ew")
        self.buttons: dict[str, ttk.Button] = {}
        labels = [("open_image", "Open image"), ("open_video", "Open video"), ("webcam", "Webcam")]
        for action, text in labels:
            self._button(bar, action, text)
        self.webcam_index = tk.IntVar(value=self.c.settings.webcam)
        ttk.Spinbox(bar, from_=0, to=63, width=3, textvariable=self.webcam_index).pack(side="left", padx=(0, 8))
        for action, text in [("pause", "Pause"), ("step", "Step"), ("record", "Record"), ("snapshot", "Snapshot"),
                             ("close", "Close")]:
            self._button(bar, action, text)

        pick = ttk.Frame(root, padding=(6, 0, 6, 4))
        pick.grid(row=1, column=0, sticky="ew")
        ttk.Label(pick, text="Model").pack(side="left")
        self.model_box = ttk.Combobox(pick, values=self.c.models, state="readonly", width=14)
        self.model_box.pack(side="left", padx=(4, 2))
        self.model_box.bind("<<ComboboxSelected>>", lambda e: self._after_action(self.c.set_model(self.model_box.get())))
        self._button(pick, "model_file", "Model file...")
        ttk.Label(pick, text="Detector").pack(side="left", padx=(12, 0))
        self.detector_box = ttk.Combobox(pick, values=self.c.detectors, state="readonly", width=10)
        self.detector_box.pack(side="left", padx=4)
        self.detector_box.bind("<<ComboboxSelected>>",
                               lambda e: self._after_action(self.c.set_detector(self.detector_box.get())))
        ttk.Label(pick, text="View").pack(side="left", padx=(12, 0))
        self.view_box = ttk.Combobox(pick, values=list(VIEWS), state="readonly", width=9)
        self.view_box.pack(side="left", padx=4)
        self.view_box.bind("<<ComboboxSelected>>", lambda e: self._after_action(self.c.set_view(VIEWS[self.view_box.get()])))
        self.gestures_on = tk.BooleanVar(value=self.c.settings.gestures)
        self.speech_on = tk.BooleanVar(value=self.c.settings.speech)
        self.gestures_check = ttk.Checkbutton(pick, text="Gestures (G)", variable=self.gestures_on,
                                              command=lambda: self._after_action(self.c.set_gestures(self.gestures_on.get())))
        self.gestures_check.pack(side="left", padx=(12, 0))
        self.speech_check = ttk.Checkbutton(pick, text="Speech", variable=self.speech_on,
                                            command=lambda: self._after_action(self.c.set_speech(self.speech_on.get())))
        self.speech_check.pack(side="left", padx=4)

        body = ttk.Frame(root, padding=(6, 0))
        body.grid(row=2, column=0, sticky="nsew")
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.video = tk.Label(body, background="#202020")
        self.video.grid(row=0, column=0, sticky="nsew")
        side = ttk.Frame(body, padding=(8, 0, 0, 0), width=300)
        side.grid(row=0, column=1, sticky="ns")
        predict = ttk.Frame(side)
        predict.pack(anchor="w", pady=(0, 6))
        self._button(predict, "complete", "Complete predict")
        self._button(predict, "parts", "Parts predict")
        self._button(predict, "next_face", "Next face")
        self.face_title = ttk.Label(side, text="no face", font=("TkDefaultFont", 11, "bold"))
        self.face_title.pack(anchor="w")
        self.bars_frame = ttk.Frame(side)
        self.bars_frame.pack(anchor="w", fill="x", pady=(4, 8))
        self.bars: list[tuple[ttk.Label, tk.Canvas, ttk.Label]] = []
        ttk.Label(side, text="Parts (own model; occlusion effect)", font=("TkDefaultFont", 10, "bold")).pack(anchor="w")
        parts = ttk.Frame(side)
        parts.pack(anchor="w", pady=(2, 8))
        part_side = round(PART_SIDE * self.scale)
        blank = tk.PhotoImage(width=part_side, height=part_side)
        self._blank = blank
        self.part_images, self.part_texts = [], []
        for i, part in enumerate(PARTS):
            image = tk.Label(parts, image=blank, background="#ecf0f1", borderwidth=0)
            image.grid(row=i // 2 * 2, column=i % 2, padx=2, pady=(2, 0))
            text = ttk.Label(parts, text=part, width=21, anchor="center", justify="center")
            text.grid(row=i // 2 * 2 + 1, column=i % 2, padx=2)
            self.part_images.append(image)
            self.part_texts.append(text)
        self.panic = tk.Label(side, text="panic: not scored", background=PANIC_COLOURS[None], width=24, pady=4)
        self.panic.pack(anchor="w", pady=(0, 4))
        self.gesture = ttk.Label(side, text="gesture: off")
        self.gesture.pack(anchor="w")

        bottom = ttk.Frame(root, padding=(6, 4))
        bottom.grid(row=3, column=0, sticky="ew")
        bottom.columnconfigure(0, weight=1)
        self.result = ttk.Label(bottom, text="", style="Result.TLabel")
        self.result.grid(row=0, column=0, columnspan=2, sticky="w")
        self.status = ttk.Label(bottom, text=self.c.status, anchor="w")
        self.status.grid(row=1, column=0, sticky="ew")
        self.fps = ttk.Label(bottom, text="", anchor="e", width=34)
        self.fps.grid(row=1, column=1, sticky="e")

    def _button(self, parent, action: str, text: str) -> None:
        button = ttk.Button(parent, text=f"{text} ({SHORTCUTS[action][1]})", command=self._run(action))
        button.pack(side="left", padx=2)
        self.buttons[action] = button

    # -- actions -------------------------------------------------------------------------------------
    def _run(self, action: str) -> Callable[[], None]:
        return lambda: self._after_action(self.actions[action]())

    def _on_key(self, action: str):
        def handler(event):
            if isinstance(event.widget, (ttk.Spinbox, ttk.Entry, tk.Entry)) and len(SHORTCUTS[action][0]) == 3:
                return None  # a plain letter typed into a field is text, not a shortcut
            self._after_action(self.actions[action]())
            return "break"
        return handler

    def _after_action(self, _=None) -> None:
        if not self.closed:
            self._refresh_controls()
            self._render()

    def open_image(self) -> None:
        path = self.ask["image"]()
        if path:
            self.c.open(str(path))

    def open_video(self) -> None:
        path = self.ask["video"]()
        if path:
            self.c.open(str(path))

    def open_webcam(self) -> None:
        try:
            index = int(self.webcam_index.get())
        except (tk.TclError, ValueError):
            self.c.status = "error: the webcam index must be a whole number"
            return
        self.c.open_webcam(index)

    def open_model_file(self) -> None:
        path = self.ask["model"]()
        if path:
            self.c.set_model(str(path))

    def toggle_view(self) -> None:
        self.c.set_view("5" if self.c.settings.view == "7" else "7")

    def toggle_gestures(self) -> None:
        self.gestures_on.set(not self.gestures_on.get())
        self.c.set_gestures(self.gestures_on.get())

    def close(self) -> None:
        """Release the source and its threads, remember the settings, close the window."""
        if self.closed:
            return
        self.closed = True
        self.root.after_cancel(self._poll_id)  # or Tcl reports the dead callback if its event loop runs on
        self.c.shutdown()
        # Tk variables and images must die on this thread: collected later on a worker thread, they raise
        self.webcam_index = self.gestures_on = self.speech_on = None
        self._photo, self._part_photos, self._blank = None, [], None
        self.root.destroy()

    # -- drawing -------------------------------------------------------------------------------------
    def _poll(self) -> None:
        if self.closed:
            return
        if self.c.poll():
            self._render()
        self._poll_id = self.root.after(POLL_MS, self._poll)

    def _refresh_controls(self) -> None:
        self.model_box.set(self.c.model_name)
        self.detector_box.set(self.c.settings.detector)
        self.view_box.set(next(k for k, v in VIEWS.items() if v == self.c.settings.view))
        player = self.c.player
        self.buttons["pause"].configure(text=f"{'Play' if player is not None and player.paused else 'Pause'} (Space)")
        self.buttons["record"].configure(text=f"{'Stop recording' if self.c.recording else 'Record'} (R)")

    def _render(self) -> None:
        c = self.c
        self.status.configure(text=c.status)
        still = c.player is not None and c.player.still  # a photo has no frame rate
        self.fps.configure(text=("" if still else f"FPS {c.fps:.1f}  dropped {c.dropped}")
                           + ("  REC" if c.recording else ""))
        self.result.configure(text=c.result_line())
        update = c.last
        if update is not None and update.canvas is not None:
            self._show_frame(update.canvas)
        chosen = c.selected()
        self.face_title.configure(text=f"face #{chosen.track_id}" if chosen else "no face")
        self._show_bars(chosen.bars if chosen else [])
        self._show_parts(update.parts if update is not None and c.mode == "parts" else None)
        panic = c.panic_text()
        self.panic.configure(text=f"panic: {panic or 'not scored'}", background=PANIC_COLOURS[panic])
        self.gesture.configure(text=f"gesture: {update.gesture}" if update is not None and update.gesture
                               else f"gesture: {'on' if c.settings.gestures else 'off'}")
        self._refresh_controls()

    def _show_frame(self, canvas: np.ndarray) -> None:
        import cv2
        from PIL import Image, ImageTk

        width, height = max(self.video.winfo_width(), 64), max(self.video.winfo_height(), 64)
        scale = min(width / canvas.shape[1], height / canvas.shape[0])
        size = (max(1, int(canvas.shape[1] * scale)), max(1, int(canvas.shape[0] * scale)))
        rgb = cv2.cvtColor(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        self._photo = ImageTk.PhotoImage(Image.fromarray(rgb))
        self.video.configure(image=self._photo)

    def _show_bars(self, bars: list[tuple[str, float]]) -> None:
        names = [name for name, _ in bars]
        if names != self._bar_classes and bars:
            for widgets in self.bars:
                for widget in widgets:
                    widget.destroy()
            self.bars = []
            for row, name in enumerate(names):
                label = ttk.Label(self.bars_frame, text=name, width=9)
                # a canvas, not a ttk.Progressbar: themes draw those as thin images in their own colour
                bar = tk.Canvas(self.bars_frame, width=round(BAR_LENGTH * self.scale),
                                height=round(BAR_HEIGHT * self.scale), background=TROUGH_COLOUR,
                                highlightthickness=0)
                bar.create_rectangle(0, 0, 0, 0, fill=BAR_COLOUR, width=0, tags="fill")
                value = ttk.Label(self.bars_frame, text="", width=5)
                label.grid(row=row, column=0, sticky="w")
                bar.grid(row=row, column=1, pady=1)
                value.grid(row=row, column=2, sticky="e")
                self.bars.append((label, bar, value))
            self._bar_classes = names
        values = dict(bars)
        for name, (_, bar, value) in zip(self._bar_classes, self.bars):
            p = values.get(name, 0.0)
            bar.coords("fill", 0, 0, p * int(bar.cget("width")), int(bar.cget("height")))
            value.configure(text=f"{p:.2f}" if bars else "")

    def _show_parts(self, parts) -> None:
        from PIL import Image, ImageTk

        self._part_photos = []
        for i, part in enumerate(PARTS):
            reading = parts.parts[i] if parts is not None else None
            if reading is None:
                self.part_images[i].configure(image=self._blank)
                self.part_texts[i].configure(text=part)
                continue
            part_side = round(PART_SIDE * self.scale)
            photo = ImageTk.PhotoImage(Image.fromarray(reading.crop).resize((part_side, part_side)))
            self._part_photos.append(photo)
            self.part_images[i].configure(image=photo)
            # the second line: the whole face's probability of its class with this part masked, and the change
            self.part_texts[i].configure(text=f"{part}: {reading.label} {reading.prob:.2f}\n"
                                              f"masked: {reading.masked_prob:.2f} ({-reading.drop:+.2f})")


def run_app(source: str | None = None, model: str | None = None) -> None:
    """Open the window (and ``source``, if given) and run until it is closed."""
    import os
    import sys

    from emoscope.errors import EmoscopeError

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise EmoscopeError("no display to open the window on (DISPLAY is not set); "
                            "for a terminal use `emoscope live SOURCE`")
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        raise EmoscopeError(f"cannot open a window: {exc}") from None
    controller = AppController()
    app = App(root, controller)
    if model is not None:
        controller.set_model(model)
    if source is not None:
        controller.open(source if not source.isdigit() else int(source))
    app._after_action()
    # Ctrl+C in the terminal and SIGTERM close the app like its Close button. The handler only flags
    # the request: an exception raised from it would land in whatever Tk callback is running, which
    # Tk prints as a traceback and then carries on.
    close_requested = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: close_requested.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def watch_for_close() -> None:
        if close_requested.is_set():
            app.close()
        elif not app.closed:
            root.after(CLOSE_CHECK_MS, watch_for_close)

    watch_for_close()
    try:
        root.mainloop()
    finally:
        app.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
