"""`emoscope gesture`: hand gestures in photos, videos, a webcam or a Sign MNIST CSV, spoken once each."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import console, parse_key_values, positive, warn
from emoscope.errors import EmoscopeError

app = typer.Typer()


@app.command("gesture")
def gesture_cmd(
    source: str = typer.Argument(..., metavar="IMAGE|VIDEO|WEBCAM|CSV",
                                 help="a photo, a video, a webcam index, or a Sign MNIST CSV (judged row by row)"),
    speak: bool = typer.Option(False, "--speak", help="say each new gesture's phrase aloud (espeak-ng)"),
    speak_to: Optional[Path] = typer.Option(None, "--speak-to", help="also write the spoken phrases to this WAV"),
    hold: int = typer.Option(5, min=1, help="frames a gesture must hold before it counts (video, webcam)"),
    route: str = typer.Option("combined", help="combined | landmarks (landmark model) | rules (geometry rules) | crop (crop model only)"),
    crop: bool = typer.Option(False, "--crop", help="the image is already a hand crop, like Sign MNIST's 28x28"),
    phrase: list[str] = typer.Option([], help="what to say, GESTURE=TEXT (e.g. victory='We won'); repeatable"),
    annotate: Optional[Path] = typer.Option(None, help="write the labelled image (.png/.jpg) or video (.mp4) here"),
    max_seconds: Optional[float] = typer.Option(None, callback=positive,
                                                help="stop after this much video; a webcam also stops on Ctrl+C"),
    model: str = typer.Option("asl-gesture", help="shipped gesture model name or .safetensors bundle"),
):
    """Hand gestures ASL A/F/L/V -> punch/super/loser/victory per frame, held N frames, spoken once each."""
    from emoscope.gestures.classifier import GestureOptions
    from emoscope.gestures.session import classify_sign_mnist_csv, describe, is_csv, run_session
    from emoscope.gestures.speech import Speaker
    from emoscope.gestures.vocabulary import phrases_with

    if is_csv(source):
        if speak or speak_to or annotate or crop:
            raise EmoscopeError(f"{source}: a CSV is judged row by row; --speak, --speak-to, --annotate and --crop "
                                "apply to images and video")
        result = classify_sign_mnist_csv(source, model=model)
        recalls = ", ".join(f"{letter} {recall:.4f}" for letter, recall in result.recall().items())
        console.print(f"{len(result.gestures)} rows of {source}; recall: {recalls} (other = called unknown)",
                      highlight=False, soft_wrap=True)
        return
    phrases = phrases_with(parse_key_values(phrase, "--phrase", form="GESTURE=TEXT"))
    options = GestureOptions.checked(route=route)  # its own one-line message, which tests rely on
    speaker = Speaker(play=speak, wav_path=speak_to, warn=warn)
    summary = run_session(source, speaker, phrases, options, hold, as_crop=crop, annotate=annotate,
                          max_seconds=max_seconds, model=model,
                          on_step=lambda step: console.print(describe(step), highlight=False, markup=False, soft_wrap=True))
    said = ", ".join(f"{gesture} at {time:.2f}s" for time, gesture in summary.started) or "no gesture held"
    console.print(f"{summary.frames} frame(s), a hand in {summary.frames_with_hands}; {said}", highlight=False)
    if speak_to:
        console.print(f"speech: {summary.wav}" if summary.wav else f"nothing was said, so {speak_to} was not written")
    if annotate:
        console.print(f"labelled: {annotate}")
