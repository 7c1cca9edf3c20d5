"""`emoscope analyze` (behaviour in videos) and `emoscope validate-cues` (its cues against frame labels)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import (
    BACKEND_HELP,
    DEFAULT_MODEL_HELP,
    DETECTOR_HELP,
    DETECTORS,
    FRAMES_HELP,
    check_choice,
    console,
    parse_key_values,
    positive,
    progress,
    warn,
    with_cue_flags,
)
from emoscope.errors import EXIT_PARTIAL, EmoscopeError
from emoscope.video.sinks import AlertSink, check_frame_table_format

app = typer.Typer()


@app.command("analyze")
@with_cue_flags
def analyze_cmd(
    source: str = typer.Argument(..., metavar="VIDEO|FOLDER|GLOB|MANIFEST|WEBCAM",
                                 help="a video, a folder or glob of videos and photos, a manifest CSV (path, "
                                 "optional candidate/question/group), or a webcam index"),
    out: Path = typer.Option(Path("runs/analyze"), help="folder for reports, charts and frame tables"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    backend: str = typer.Option("fastest", help=BACKEND_HELP),
    detector: str = typer.Option("mediapipe", help=DETECTOR_HELP),
    fps: Optional[float] = typer.Option(None, callback=positive,
                                        help="analyse about this many frames per second (default: all)"),
    max_seconds: Optional[float] = typer.Option(None, callback=positive,
                                                help="stop after this much video (webcam: required)"),
    annotate: bool = typer.Option(False, help="also write an annotated MP4"),
    framing_views: bool = typer.Option(False, help="classify each face as the mean over crops at 0.9, 1.0 and "
                                       "1.1x its framing (3x the classifier's work; docs/accuracy.md)"),
    # Capped: beyond a few seconds of video between detections a new face waits that long to be found.
    detect_every: int = typer.Option(5, min=1, max=1000, help="run the face detector on every Nth frame and follow "
                                     "the faces in between (1: detect on every frame; docs/speed.md)"),
    frames: str = typer.Option("csv", help=f"per-frame table: {FRAMES_HELP}"),
    min_episode_s: float = typer.Option(0.5, "--min-episode",
                                        help="seconds an expression must last to count as an episode"),
    webhook: Optional[str] = typer.Option(None, help="POST each alert as JSON to this URL (never blocks the video)"),
    meta: list[str] = typer.Option([], help="metadata copied into the report, key=value (repeatable)"),
    routes: Optional[Path] = typer.Option(None, help="choose the model by --meta group=G from this routes file "
                                          "(group -> model, plus a default), e.g. configs/group-routes.toml"),
    resume: bool = typer.Option(False, help="skip videos whose finished report in --out is of the same file "
                                "(SHA-256) and settings"),
    engine: str = typer.Option("local", help="local (this process) | ray (Ray workers; the `ray` extra)"),
    address: Optional[str] = typer.Option(None, help="with --engine ray: auto | ray://HOST:10001 "
                                          "(default: start a Ray on this machine)"),
    workers: Optional[int] = typer.Option(None, min=1, help="with --engine ray: items analysed at once "
                                          "(default: the cluster's CPUs)"),
    cue_options: Optional[dict] = None,  # the cues' own flags (--blinks, --panic-threshold...): see with_cue_flags
):
    """Analyse behaviour in a video: emotions per interval, episodes, transitions, blinks, touches, gaze."""
    from emoscope.files import ensure_writable_folder
    from emoscope.jobs.batch import ENGINES, BatchJob, collect_items
    from emoscope.jobs.ray_engine import require_ray
    from emoscope.report.builder import ReportOptions
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model, shared_predictor
    from emoscope.video.pipeline import AnalysisOptions

    # Every option is checked here, before a model or a video is opened.
    metadata = parse_key_values(meta, "--meta")
    if routes is not None:
        from emoscope.runtime.routing import routed_model

        if model is not None:
            raise EmoscopeError("--model and --routes both choose the model; pass one")
        model, metadata = routed_model(routes, metadata)  # recorded in each report's metadata
    if frames != "none":
        check_frame_table_format(frames)
    check_choice(detector, DETECTORS, "face detector")
    options = AnalysisOptions(detector=detector, framing_views=framing_views, detect_every=detect_every,
                              **cue_options)
    report_options = ReportOptions(min_episode_s=min_episode_s)
    check_choice(engine, ENGINES, "engine")
    if engine != "ray" and (address is not None or workers is not None):
        raise EmoscopeError("--address and --workers are for --engine ray")
    if engine == "ray" and webhook is not None:
        raise EmoscopeError("--webhook sends live alerts from this process; use --engine local")
    if engine == "ray":
        require_ray()  # the install hint before anything is read
    items = collect_items(source)
    webcam = any(item.kind == "webcam" for item in items)
    if webcam and engine == "ray":
        raise EmoscopeError("--engine ray analyses files; a webcam is analysed live, with the local engine")
    if webcam and resume:
        raise EmoscopeError("--resume skips video files already analysed; a webcam is always live")
    if webcam and max_seconds is None:
        raise EmoscopeError("a webcam needs --max-seconds (how long to analyse)")
    if routes is not None and any(item.metadata.get("group", metadata.get("group")) != metadata.get("group")
                                  for item in items):
        raise EmoscopeError("--routes picks one model per run from --meta group=G; this manifest gives its "
                            "rows their own groups: run one manifest per group")
    ensure_writable_folder(out)  # before the model loads and the videos are analysed
    job = BatchJob(out_dir=out, model=model or default_model(VIDEO_MODELS), backend=backend, options=options,
                   report_options=report_options, sample_fps=fps,
                   max_seconds=max_seconds, frames_format=None if frames == "none" else frames, annotate=annotate,
                   metadata=metadata, resume=resume)
    # loaded here also for Ray, whose workers load their own: a bad --model is one error line, not N error rows
    predictor = shared_predictor(job.model, backend)
    alerts = AlertSink(webhook) if options.panic and engine == "local" else None
    _run_and_render(items, job, engine, address, workers, predictor, alerts)


def _run_and_render(items, job, engine: str, address: str | None, workers: int | None, predictor, alerts) -> None:
    """Run the items on the engine with a progress bar, a line per item as it finishes and, for more than
    one item, the summary; exit with the run's status (an error, a partial video, or 0)."""
    from emoscope.jobs.batch import run_batch

    many = len(items) > 1
    with ExitStack() as stack, progress() as bars:
        if alerts is not None:
            stack.callback(alerts.close)
        overall = bars.add_task(f"analysing {len(items)} items ({engine})", total=len(items)) if many else None
        frames_task: list = []

        def on_progress(item, done: int, expected: int) -> None:  # the local engine's current video
            if not frames_task:
                frames_task.append(bars.add_task(f"analysing {Path(item.path).name}", total=None))
            bars.update(frames_task[0], description=f"analysing {Path(item.path).name}", completed=done,
                        total=expected or None)

        def on_item(item, result) -> None:
            if frames_task:
                bars.remove_task(frames_task.pop())
            if overall is not None:
                bars.advance(overall)
            row = result.row
            if row["status"] == "error":
                warn(f"error: {row['error']}")
            elif result.reused:
                console.print(f"{item.path}: already analysed, {row['report']}", soft_wrap=True)
            elif item.kind == "image":
                console.print(f"{item.path}: {row['people']} face(s): {row['report']}", soft_wrap=True)
            else:
                console.print(f"{item.path}: {row['frames_analysed']} frames at {float(row['processing_fps']):.0f} "
                              f"frames/s, {row['people']} person(s), face visible "
                              f"{float(row['face_visible_share']):.0%}{'; ' + row['error'] if row['error'] else ''}",
                              soft_wrap=True)
                console.print(f"report: {row['report']}", soft_wrap=True)

        results = run_batch(items, job, engine=engine, address=address, workers=workers, on_item=on_item,
                            on_progress=on_progress, sinks=[alerts] if alerts is not None else [], predictor=predictor)
    rows = [result.row for result in results]
    failures = sum(row["status"] == "error" for row in rows)
    partial = sum(row["status"] == "partial" for row in rows)
    if many:
        reused = sum(result.reused for result in results)
        console.print(f"summary: {job.out_dir / 'summary.csv'} ({len(rows) - failures} of {len(items)} analysed, "
                      f"{failures} failed{f', {partial} partial' if partial else ''}"
                      f"{f', {reused} already done' if reused else ''})", soft_wrap=True)
    if failures == len(items):  # nothing could be analysed: a lone item's own exit code (a full disk: 3)
        raise typer.Exit(results[0].exit_code if not many and results[0].exit_code else EmoscopeError.exit_code)
    if partial:
        raise typer.Exit(EXIT_PARTIAL)


@app.command("validate-cues")
def validate_cues_cmd(
    labels: Optional[Path] = typer.Argument(None, help="frame labels JSON of blinks and touches, e.g. "
                                         "tests/fixtures/labels/WolfgangLanger_Pexels.json"),
    events: Optional[Path] = typer.Option(None, "--events", help="labelled events CSV (blinks with their start, end "
                                       "and shut frames, long closures, nods, shakes, looking away), e.g. "
                                       "tests/fixtures/cue_labels/events.csv"),
):
    """Score the cues against frame labels of real clips (prints JSON): blink and face-touch
    detection (LABELS), blink duration error and event precision/recall (--events)."""
    from emoscope.benchmarks.validate_cues import validate_clip, validate_events
    from emoscope.data import data_root

    if labels is None and events is None:
        raise EmoscopeError("give a labels JSON, --events CSV, or both")
    for path in (labels, events):
        if path is not None and not path.is_file():
            raise EmoscopeError(f"{path}: no such labels file")
    scores = {}
    if labels is not None:
        scores = validate_clip(labels, data_root())
    if events is not None:
        scores = scores | {"events": validate_events(events, data_root())}
    console.print_json(json.dumps(scores))
