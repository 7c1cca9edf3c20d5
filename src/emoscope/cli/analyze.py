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
)
from emoscope.errors import EXIT_PARTIAL, EmoscopeError
from emoscope.video.sinks import AlertSink, check_frame_table_format

app = typer.Typer()


@app.command("analyze")
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
    blinks: bool = typer.Option(True, help="count blinks (face mesh)"),
    gaze: bool = typer.Option(True, help="measure gaze direction (face mesh iris)"),
    touches: bool = typer.Option(True, help="detect face touching (hand landmarks)"),
    blendshapes: bool = typer.Option(False, help="52 facial blendshape scores per face and frame (face mesh; "
                                     "docs/blendshapes.md)"),
    annotate: bool = typer.Option(False, help="also write an annotated MP4"),
    framing_views: bool = typer.Option(False, help="classify each face as the mean over crops at 0.9, 1.0 and "
                                       "1.1x its framing (3x the classifier's work; docs/accuracy.md)"),
    frames: str = typer.Option("csv", help=f"per-frame table: {FRAMES_HELP}"),
    min_episode_s: float = typer.Option(0.5, "--min-episode",
                                        help="seconds an expression must last to count as an episode"),
    panic: bool = typer.Option(False, help="score panic per person (hysteresis) and raise crowd alerts"),
    panic_threshold: float = typer.Option(0.5, help="panic score that counts as panic (see `emoscope panic`)"),
    crowd_level: float = typer.Option(0.3, help="share of visible faces in panic that raises an alert"),
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
):
    """Analyse behaviour in a video: emotions per interval, episodes, transitions, blinks, touches, gaze."""
    from emoscope.apps.analyze import analyze_videos
    from emoscope.apps.batch import ENGINES, BatchJob, collect_items
    from emoscope.apps.ray_engine import require_ray
    from emoscope.files import ensure_writable_folder
    from emoscope.report.builder import ReportOptions
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model, load_predictor
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
    options = AnalysisOptions(detector=detector, blinks=blinks, gaze=gaze, touches=touches, panic=panic,
                              panic_threshold=panic_threshold, crowd_level=crowd_level, framing_views=framing_views,
                              blendshapes=blendshapes)
    report_options = ReportOptions(min_episode_s=min_episode_s)
    check_choice(engine, ENGINES, "engine")
    if engine != "ray" and (address is not None or workers is not None):
        raise EmoscopeError("--address and --workers are for --engine ray")
    is_webcam = source.isdigit()
    if is_webcam and engine == "ray":
        raise EmoscopeError("--engine ray analyses files; a webcam is analysed live, with the local engine")
    if is_webcam and resume:
        raise EmoscopeError("--resume skips video files already analysed; a webcam is always live")
    if is_webcam and max_seconds is None:
        raise EmoscopeError("a webcam needs --max-seconds (how long to analyse)")
    if engine == "ray" and webhook is not None:
        raise EmoscopeError("--webhook sends live alerts from this process; use --engine local")
    path = Path(source)
    if engine == "ray" or not (is_webcam or path.is_file() and path.suffix.lower() != ".csv"):
        if engine == "ray":
            require_ray()  # the install hint before anything is read
        items = collect_items(source)
        if routes is not None and any(item.metadata.get("group", metadata.get("group")) != metadata.get("group")
                                      for item in items):
            raise EmoscopeError("--routes picks one model per run from --meta group=G; this manifest gives its "
                                "rows their own groups: run one manifest per group")
        ensure_writable_folder(out)
        job = BatchJob(out_dir=out, model=model or default_model(VIDEO_MODELS), backend=backend, options=options,
                       report_options=report_options, sample_fps=fps, max_seconds=max_seconds,
                       frames_format=None if frames == "none" else frames, annotate=annotate, metadata=metadata,
                       resume=resume)
        # loaded here also for Ray, whose workers load their own: a bad --model is one error line, not N error rows
        predictor = load_predictor(job.model, backend=backend)
        _analyze_batch(items, job, engine, address, workers, predictor,
                       alerts=AlertSink(webhook) if panic and engine == "local" else None)
        return
    videos = [source]
    ensure_writable_folder(out)  # before the model loads and the videos are analysed
    alerts = AlertSink(webhook) if panic else None
    predictor = load_predictor(model or default_model(VIDEO_MODELS), backend=backend)
    with ExitStack() as stack, progress() as bars:
        if alerts is not None:
            stack.callback(alerts.close)
        tasks: dict = {}

        def on_progress(video, done: int, expected: int) -> None:
            if video not in tasks:
                tasks[video] = bars.add_task(f"analysing {Path(str(video)).name}", total=None)
            bars.update(tasks[video], completed=done, total=expected or None)

        def finished(video) -> None:
            if video in tasks:
                bars.remove_task(tasks.pop(video))

        def on_done(video, output, reused: bool) -> None:
            finished(video)
            report = output.report
            if reused:
                console.print(f"{video}: already analysed, {output.json_path}", soft_wrap=True)
                return
            console.print(f"{video}: {report.analysis.frames_analysed} frames at "
                          f"{report.analysis.processing_fps:.0f} frames/s, {len(report.people)} person(s), "
                          f"face visible {report.face_visible_share:.0%}" +
                          "".join(f"; {note}" for note in report.notes))
            console.print(f"report: {output.html_path}  json: {output.json_path}", soft_wrap=True)

        def on_error(video, error) -> None:
            finished(video)
            warn(f"error: {error}")

        rows = analyze_videos(videos, predictor, out, options, report_options, resume=resume,
                              on_progress=on_progress, on_done=on_done, on_error=on_error, metadata=metadata,
                              sample_fps=fps, max_seconds=max_seconds, annotate=annotate,
                              frames_format=None if frames == "none" else frames,
                              sinks=[alerts] if alerts else [])
    _exit_for(rows, len(videos))


def _exit_for(rows: list[dict], total: int) -> None:
    failures = sum(row["status"] == "error" for row in rows)
    if failures == total:
        raise typer.Exit(EmoscopeError.exit_code)  # nothing could be analysed
    if any(row["status"] == "partial" for row in rows):
        raise typer.Exit(EXIT_PARTIAL)


def _analyze_batch(items, job, engine: str, address: str | None, workers: int | None, predictor, alerts) -> None:
    """Many items (a folder, glob or manifest) on either engine: a line per item, then the summary."""
    from emoscope.apps.batch import run_batch

    with ExitStack() as stack, progress() as bars:
        if alerts is not None:
            stack.callback(alerts.close)
        overall = bars.add_task(f"analysing {len(items)} items ({engine})", total=len(items))
        frames_task: list = []

        def on_progress(item, done: int, expected: int) -> None:  # the local engine's current video
            if not frames_task:
                frames_task.append(bars.add_task(f"  {Path(item.path).name}", total=None))
            bars.update(frames_task[0], description=f"  {Path(item.path).name}", completed=done,
                        total=expected or None)

        def on_item(item, result) -> None:
            if frames_task:
                bars.remove_task(frames_task.pop())
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
    reused = sum(result.reused for result in results)
    console.print(f"summary: {job.out_dir / 'summary.csv'} ({len(rows) - failures} of {len(items)} analysed, "
                  f"{failures} failed{f', {partial} partial' if partial else ''}"
                  f"{f', {reused} already done' if reused else ''})", soft_wrap=True)
    _exit_for(rows, len(items))


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
    from emoscope.apps.validate_cues import validate_clip, validate_events
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
