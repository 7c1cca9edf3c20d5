"""`emoscope predict`: the expression of every face in photos."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from emoscope.jobs.predict import OUTPUT_FORMATS
from emoscope.cli.options import (DEFAULT_MODEL_HELP, DETECTOR_HELP, DETECTORS, TTA_HELP, check_choice, console,
                                  progress, warn)
from emoscope.errors import DataError, EmoscopeError
from emoscope.faces.registry import PHOTO_DETECTOR
from emoscope.runtime.tta import TTA_MODES

app = typer.Typer()


@app.command("predict")
def predict_cmd(
    target: Path = typer.Argument(..., metavar="IMAGE|FOLDER|GLOB|MANIFEST",
                               help="an image file, a folder or glob of images, or a manifest CSV (a path column)"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    detector: str = typer.Option(PHOTO_DETECTOR, help=DETECTOR_HELP),
    out: Optional[Path] = typer.Option(None, help="folder for predictions.json/.csv (default: a table on stdout)"),
    output_format: str = typer.Option("json", "--format", help=" | ".join(OUTPUT_FORMATS)),
    annotate: bool = typer.Option(False, help="also save the images with boxes and labels, to <out>/annotated"),
    tta: str = typer.Option("none", help=TTA_HELP),
    clahe: bool = typer.Option(False, help="CLAHE contrast enhancement of the face crops"),
    no_align: bool = typer.Option(False, "--no-align", help="do not rotate the crops to level the eyes"),
    framing_views: bool = typer.Option(False, help="average the model over crops at 0.9, 1.0 and 1.1x the "
                                       "detector's framing: 3x the model's work, narrows what the detector's "
                                       "framing costs (docs/accuracy.md)"),
    resume: bool = typer.Option(False, help="with --out: reuse the results an interrupted run logged for "
                                "unchanged images"),
):
    """Recognise the expression of every face in a photo or a folder of photos."""
    from emoscope.jobs.predict import PredictionLog, find_images, predict_images, save_annotated, write_report
    from emoscope.runtime.predictor import IMAGE_MODELS, default_model, shared_predictor

    check_choice(output_format, OUTPUT_FORMATS, "--format")
    check_choice(tta, TTA_MODES, "--tta")
    check_choice(detector, DETECTORS, "face detector")
    if annotate and out is None:
        raise EmoscopeError("--annotate needs --out DIR (where the annotated images go)")
    if resume and out is None:
        raise EmoscopeError("--resume needs --out DIR (where the interrupted run logged its results)")
    paths = find_images(target)
    log = PredictionLog(out, resume) if out is not None else None  # checks --out is writable, before any work
    predictor = shared_predictor(model or default_model(IMAGE_MODELS), "auto")
    with ExitStack() as stack, progress() as bars:
        task = bars.add_task("predicting", total=len(paths))

        def on_image(prediction, image):
            if prediction.error is None:
                if annotate:
                    save_annotated(image, prediction, out / "annotated")
            elif len(paths) > 1:  # a single file's error ends the command instead
                warn(f"skipped: {prediction.error}")
            bars.advance(task)

        if log is not None:
            stack.callback(log.close)  # an interrupted run keeps its log
        report = predict_images(paths, predictor, detector, tta=tta, align=not no_align, clahe=clahe,
                                framing_views=framing_views, on_image=on_image, log=log)
    faces = sum(len(image.faces) for image in report.images)
    if out is None:
        table = Table("file", "face", "box", "score", "label", "probability")
        for image in report.images:
            name = Path(image.path).name
            if image.error is not None or not image.faces:
                table.add_row(name, "", "", "", image.error or "no face", "")
            for index, face in enumerate(image.faces):
                table.add_row(name, str(index), ",".join(f"{v:.0f}" for v in face.box), f"{face.score:.2f}",
                              face.label, f"{face.probabilities[face.label]:.3f}")
        console.print(table)
    else:
        path = write_report(report, out, output_format)
        log.remove()
        console.print(f"{report.analysed} of {len(paths)} images analysed, {faces} faces: {path}", soft_wrap=True)
    if report.analysed == 0:
        # Nothing usable: fail, with the file's own message when there was only one.
        raise DataError(report.images[0].error if len(paths) == 1 else f"{target}: none of the {len(paths)} "
                        "files could be analysed")
