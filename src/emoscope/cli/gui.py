"""`emoscope gui` (the desktop app) and `emoscope live` (its loop without Tk)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import BACKEND_HELP, DEFAULT_MODEL_HELP, DETECTOR_HELP, DETECTORS, check_choice, positive
from emoscope.errors import EXIT_PARTIAL, EmoscopeError

app = typer.Typer()


@app.command("gui")
def gui_cmd(
    source: Optional[str] = typer.Argument(None, metavar="[IMAGE|VIDEO|WEBCAM]", help="open this at start"),
    model: Optional[str] = typer.Option(None, help="expression model (default: the one chosen last time)"),
):
    """The desktop app: open an image, a video or a webcam; faces, probabilities, parts, record, snapshot."""
    from emoscope.gui.view import run_app

    run_app(source=source, model=model)


@app.command("live")
def live_cmd(
    source: str = typer.Argument(..., metavar="VIDEO|WEBCAM", help="a video file or a webcam index"),
    out: Optional[Path] = typer.Option(None, help="write the annotated frames to this MP4"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    backend: str = typer.Option("fastest", help=BACKEND_HELP),
    detector: str = typer.Option("mediapipe", help=DETECTOR_HELP),
    max_seconds: Optional[float] = typer.Option(None, callback=positive, help="stop after this much video"),
    realtime: bool = typer.Option(False, help="play a file at its own frame rate, dropping frames when slow "
                                  "(a webcam always runs in real time)"),
    window: Optional[bool] = typer.Option(None, help="show an OpenCV window (default: when a display and an "
                                          "OpenCV GUI exist)"),
):
    """Live analysis without Tk: per-second summaries, optional annotated MP4; Ctrl+C ends it cleanly."""
    from emoscope.files import check_can_write_in
    from emoscope.gui.live import opencv_window_available, run_live
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model, shared_predictor

    check_choice(detector, DETECTORS, "face detector")
    if out is not None:
        if out.suffix.lower() != ".mp4":
            raise EmoscopeError(f"{out}: --out writes an MP4 video (name it .mp4)")
        check_can_write_in(out.parent)
    if window and not opencv_window_available():
        raise EmoscopeError("no OpenCV window here: no display, or an OpenCV build without GUI "
                            "(opencv-python-headless); run without --window")
    predictor = shared_predictor(model or default_model(VIDEO_MODELS), backend)
    summary = run_live(source, predictor, detector=detector, out=out, max_seconds=max_seconds, realtime=realtime,
                       window=window)
    ending = "stopped (Ctrl+C)" if summary.interrupted else summary.message or "stopped"
    print(f"{ending}; {summary.frames} frames in {summary.seconds:.1f} s ({summary.fps:.1f} fps), "
          f"{summary.dropped} dropped" + (f"; written: {summary.out}" if summary.out else ""))
    if summary.message.startswith("error:"):
        raise EmoscopeError(summary.message.removeprefix("error: "))
    if summary.partial:
        raise typer.Exit(EXIT_PARTIAL)
