"""`emoscope bench ...`: speed, accuracy through the pipeline, robustness; written as JSON (and tables in docs/)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import (BACKEND_HELP, DEFAULT_MODEL_HELP, DETECTOR_HELP, DETECTORS, check_choice, console,
                                  positive)
from emoscope.errors import EmoscopeError
from emoscope.files import check_can_write_in, replace_between_markers, write_text_atomic

app = typer.Typer(help="Benchmarks; results are written as JSON.", no_args_is_help=True)


def publish(out: Path, results: dict, table: str, marker: str, doc: Path | None, markdown_beside: bool = True) -> None:
    """A benchmark's JSON (and its Markdown table beside it), the table on the terminal, and the table
    between a Markdown page's ``<!-- marker -->`` markers when ``doc`` is given."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(results, indent=2))
    if markdown_beside:
        write_text_atomic(out.with_suffix(".md"), table)
    console.print(table, soft_wrap=True)
    console.print(f"written: {out}" + (f" and {out.with_suffix('.md')}" if markdown_beside else ""))
    if doc is not None:
        replace_between_markers(doc, marker, table)


@app.command("video")
def bench_video_cmd(
    video: Path = typer.Argument(..., help="a video (e.g. a 640x360 clip)"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    backend: str = typer.Option("fastest", help=BACKEND_HELP),
    detector: str = typer.Option("mediapipe", help=DETECTOR_HELP),
    max_frames: Optional[int] = typer.Option(None, min=1, help="stop each run after this many frames"),
    repeats: int = typer.Option(5, min=1, help="runs per pipeline; the median is reported"),
    framing_views: bool = typer.Option(False, help="the batched loops as `analyze --framing-views` runs them"),
    detect_every: Optional[int] = typer.Option(None, min=1, help="the default loops' detect_every instead of "
                                               "the default (1: the detector on every frame)"),
    agreement: bool = typer.Option(False, help="also compare the default loop with the detector on every frame: "
                                   "labels on VIDEO, faces found on VIDEO and the --recall-folder videos, "
                                   "validate-cues scores"),
    recall_folder: Optional[Path] = typer.Option(None, help="videos to compare faces found on (default: "
                                                 "$EMOSCOPE_DATA/media)"),
    cue_labels: Path = typer.Option(Path("tests/fixtures/labels/WolfgangLanger_Pexels.json"),
                                    help="validate-cues frame labels (blinks, touches) for --agreement"),
    cue_events: Path = typer.Option(Path("tests/fixtures/cue_labels/events.csv"),
                                    help="validate-cues event labels for --agreement"),
    # Capped: the synthetic video is written to disk, minutes x fps frames of it.
    long_minutes: float = typer.Option(0, min=0, max=24 * 60,
                                       help="also analyse a synthetic video this long and track memory"),
    long_fps: float = typer.Option(10, max=240, callback=positive, help="frame rate of the synthetic long video"),
    out: Path = typer.Option(Path("runs/bench/video.json")),
    doc: Optional[Path] = typer.Option(None, help="also put a table between <!-- bench:video --> markers here "
                                       "(docs/speed.md)"),
):
    """Frames/s, CPU time and per-stage profile of the emotion-only and full-report loops (default options
    and the detector on every frame) vs a per-face loop; optional agreement and memory runs."""
    from emoscope.benchmarks.agreement import agreement as measure_agreement, video_files
    from emoscope.benchmarks.video_speed import bench_memory, bench_options, bench_video, video_table, write_long_video
    from emoscope.data import data_root
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model, load_predictor

    if not video.is_file():
        raise EmoscopeError(f"{video}: no such video")
    check_choice(detector, DETECTORS, "face detector")
    check_can_write_in(out.parent)  # before minutes of benchmarking, not after
    overrides = {} if detect_every is None else {"detect_every": detect_every}
    predictor = load_predictor(model or default_model(VIDEO_MODELS), backend=backend)
    results = bench_video(video, predictor, detector, max_frames, repeats, framing_views, **overrides)
    if agreement:
        folder = recall_folder or data_root() / "media"
        if not folder.is_dir():
            raise EmoscopeError(f"{folder}: no such folder of videos to compare faces found on")
        labels = [path if path.is_file() else None for path in (cue_labels, cue_events)]
        results["agreement"] = measure_agreement(video, predictor, bench_options(detector, framing_views,
                                                                                 **overrides)["full_report"],
                                                 video_files(folder), *labels, data_root=data_root())
    out.parent.mkdir(parents=True, exist_ok=True)
    if long_minutes > 0:
        long_video = write_long_video(out.parent / "long.mp4", video, long_minutes * 60, long_fps)
        results["memory"] = bench_memory(long_video, predictor, out.parent / "long",
                                         bench_options(detector, framing_views, **overrides)["full_report"],
                                         sample_fps=None)
        long_video.unlink()
    write_text_atomic(out, json.dumps(results, indent=2))
    console.print(video_table(results), soft_wrap=True)
    console.print(f"written: {out}")
    if doc is not None:
        replace_between_markers(doc, "bench:video", video_table(results))


@app.command("classify")
def bench_classify_cmd(
    models: list[str] = typer.Argument(None, help="shipped names or bundle paths (default: every shipped model)"),
    int8: bool = typer.Option(True, help="also time an int8 ONNX model (quantised here when not shipped)"),
    accuracy: bool = typer.Option(True, help="measure each backend's accuracy on the test split (needs the data)"),
    seconds: float = typer.Option(1.0, min=0.01, max=600, help="timing per backend and batch size (at least three "
                                  "batches)"),
    out: Path = typer.Option(Path("runs/bench/classify.json"), help="JSON; a Markdown table is written beside it"),
    doc: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:classify --> markers "
                                       "here (docs/speed.md)"),
):
    """Faces/s of each model in torch eager and ONNX Runtime (fp32, int8) at batch 1/32/256, with accuracy."""
    import tempfile

    from emoscope.benchmarks.classifier_speed import bench_classifier, classifier_backends, split_accuracy
    from emoscope.benchmarks.tables import markdown_table
    from emoscope.runtime.predictor import list_pretrained

    names = models or list_pretrained()
    if not names:
        raise EmoscopeError("no models to benchmark: none shipped and none given")
    check_can_write_in(out.parent)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            backends = classifier_backends(name, int8, Path(work))
            measured = {label: split_accuracy(p) for label, p in backends.items()} if accuracy else None
            rows += bench_classifier(backends, accuracy=measured, min_seconds=seconds)
    publish(out, {"threads": os.cpu_count(), "rows": rows}, markdown_table(rows), "bench:classify", doc)


@app.command("serve")
def bench_serve_cmd(
    video: Path = typer.Option(Path("samples/WolfgangLanger_Pexels.mp4"), help="the interview video each job uploads"),
    image: Optional[Path] = typer.Option(None, help="the photo (default: a face photo from $EMOSCOPE_DATA/media, "
                                         "else the video's first frame)"),
    requests: int = typer.Option(200, min=1, help="POST /v1/images:analyze requests in all"),
    concurrency: int = typer.Option(8, min=1, max=256, help="clients sending at once"),
    videos: int = typer.Option(3, min=0, max=32, help="video jobs uploaded at once"),
    workers: int = typer.Option(3, min=1, max=64, help="the server's --workers"),
    candidates: int = typer.Option(0, min=0, max=200, help="candidates answering an invitation at once with the "
                                   "video (link, consent, upload), after the other phases"),
    out: Path = typer.Option(Path("runs/bench/serve.json")),
):
    """Load test of `emoscope serve` over loopback: photos per second, latency percentiles, video jobs,
    candidates answering invitations at once, errors."""
    from emoscope.web.loadtest import run_load_test

    check_can_write_in(out.parent)
    results = run_load_test(video, image, requests, concurrency, videos, workers, candidates=candidates)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(results, indent=2))
    console.print_json(json.dumps(results))
    console.print(f"written: {out}")
    if results["errors"]:
        raise typer.Exit(1)


@app.command("batch")
def bench_batch_cmd(
    source: str = typer.Argument(..., metavar="FOLDER|GLOB|MANIFEST", help="the items (videos and photos)"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    out: Path = typer.Option(Path("runs/bench/batch.json")),
):
    """Items/s of batch analysis: the local engine vs Ray with 1 and 2 workers on the same items, as ratios."""
    from emoscope.jobs.batch import BatchJob, bench_batch
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model

    check_can_write_in(out.parent)
    results = bench_batch(source, BatchJob(out_dir=out.parent, model=model or default_model(VIDEO_MODELS)))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(results, indent=2))
    console.print_json(json.dumps(results))
    console.print(f"written: {out}")


@app.command("pipeline")
def bench_pipeline_cmd(
    models: list[str] = typer.Option(None, "--model", help="expression models the crops are scored with, each on "
                                     "the same detections (repeatable; default: fer-best)"),
    detectors: list[str] = typer.Option(None, "--detector", help=f"detectors to score (default: all; {DETECTOR_HELP}; "
                                        "truth = each face's true square and roll, the resampling cost alone)"),
    faces: int = typer.Option(600, min=10, max=10_000, help="FER2013 faces placed into frames"),
    split: str = typer.Option("test", help="test (PrivateTest: the reported numbers) | val (PublicTest: fitting framings)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="draws the faces and their placements"),
    baseline: bool = typer.Option(False, help="the pipeline before per-detector framing and the tile pass, to compare"),
    framing_views: bool = typer.Option(False, help="score each found face as `emoscope predict --framing-views` "
                                       "does (mean over crops at 0.9, 1.0, 1.1x its framing)"),
    out: Path = typer.Option(Path("runs/bench/pipeline.json")),
    doc: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:pipeline --> markers "
                                       "(<!-- bench:pipeline-framing-views --> with --framing-views) here "
                                       "(docs/accuracy.md)"),
):
    """Pipeline fidelity: detection recall and accuracy of detect -> align -> crop -> model on FER2013
    faces placed into larger frames, against the same model on the original crops."""
    from emoscope.benchmarks.fidelity import TRUTH, bench_pipeline, fidelity_table
    from emoscope.runtime.predictor import load_predictor

    names = detectors or [TRUTH, *DETECTORS]
    for name in names:
        check_choice(name, [TRUTH, *DETECTORS], "face detector")
    check_choice(split, ["test", "val"], "split")
    check_can_write_in(out.parent)
    predictors = [load_predictor(model) for model in models or ["fer-best"]]
    results = bench_pipeline(predictors, names, faces=faces, seed=seed, split=split, baseline=baseline,
                             framing_views=framing_views)
    marker = "bench:pipeline-framing-views" if framing_views else "bench:pipeline"
    publish(out, results, fidelity_table(results), marker, doc, markdown_beside=False)


@app.command("robustness")
def bench_robustness_cmd(
    models: list[str] = typer.Argument(None, help="shipped names or bundle paths (default: every shipped whole-face "
                                       "FER2013 expression model)"),
    corruptions: list[str] = typer.Option(None, "--corruption", help="corruptions to apply (default: all)"),
    faces: int = typer.Option(1000, min=10, max=10_000, help="FER2013 faces, a stratified sample of the split"),
    split: str = typer.Option("test", help="test (PrivateTest: the reported numbers) | val (PublicTest)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="draws the faces and the corruptions' randomness"),
    out: Path = typer.Option(Path("runs/bench/robustness.json"), help="JSON; a Markdown table is written beside it"),
    doc: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:robustness --> markers "
                                       "here (docs/robustness.md)"),
    before: Optional[Path] = typer.Option(None, help="an earlier run's JSON (same faces, seed and corruptions): "
                                          "add a before/after table for the models in both"),
):
    """Accuracy under corruptions (blur, noise, JPEG, lighting, resolution, framing, rotation, occlusion) at
    5 severities: clean, mean corrupted and relative drop per model."""
    from emoscope.benchmarks.robustness import (SEVERITIES, before_after, before_after_table, bench_robustness,
                                          corruption_names, read_robustness_run, robustness_table)
    from emoscope.cli.options import progress
    from emoscope.data.face_parts import is_part_model
    from emoscope.runtime.predictor import list_pretrained, load_predictor

    corruptions = corruption_names(corruptions)  # before minutes of loading and scoring
    earlier = read_robustness_run(before) if before is not None else None
    check_choice(split, ["test", "val"], "split")
    names = models or [m for m in list_pretrained() if not (is_part_model(m) or m.startswith(("ferplus", "asl-")))]
    if not names:
        raise EmoscopeError("no models to benchmark: none shipped and none given")
    check_can_write_in(out.parent)
    predictors = [load_predictor(name, backend="fastest") for name in names]
    with progress() as bar:
        task = bar.add_task("corrupting and scoring", total=len(corruptions) * len(SEVERITIES))
        results = bench_robustness(predictors, faces=faces, seed=seed, split=split, corruptions=corruptions,
                                   on_cell=lambda name, severity: bar.advance(task))
    table = robustness_table(results)
    if earlier is not None:
        results["before"] = {"source": str(before), "models": before_after(earlier, results)}
        table += f"\nBefore ({before.name}) and after, on the same faces and corruptions:\n\n"
        table += before_after_table(results["before"]["models"])
    publish(out, results, table, "bench:robustness", doc)


@app.command("gestures")
def bench_gestures_cmd(
    photo_set: Path = typer.Argument(..., help="real hand photos: a folder or .tar.gz with a manifest.csv (path, "
                                     "label A/F/L/V/other, person), e.g. ../shared/data/hands/asl_massey_aflv.tar.gz"),
    part: str = typer.Option("both", help="dev (people developed on) | measure (people only measured on) | both"),
    out: Path = typer.Option(Path("runs/bench/gestures.json"), help="JSON; a Markdown table is written beside it"),
    doc: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:gestures --> markers here"),
):
    """Gestures on real photos of hands: per letter the share recognised, per other shape the share taken
    for a letter, in five views (as photographed, mirrored, tilted +-30 degrees, small), by the landmark
    model and by the rules, split by person into the part developed on and the part only measured on."""
    from emoscope.benchmarks.hand_photos import markdown, read_photos, readings_json, summarise
    from emoscope.cli.options import progress
    from emoscope.data.hand_photos import MASSEY_MEASURE_PEOPLE, load_hand_photos

    check_choice(part, ["dev", "measure", "both"], "part")
    check_can_write_in(out.parent)
    parts = ["dev", "measure"] if part == "both" else [part]
    results = {"photo_set": str(photo_set), "measure_people": list(MASSEY_MEASURE_PEOPLE), "parts": {}}
    table = f"Real photos from `{photo_set.name}`, split by person (measured only: people " \
            f"{', '.join(MASSEY_MEASURE_PEOPLE)}); `emoscope bench gestures {photo_set.name} --part {part}`.\n\n"
    for name in parts:
        photos = load_hand_photos(photo_set, part=name)
        with progress() as bar:
            task = bar.add_task(f"reading the {name} part", total=len(photos))
            readings = read_photos(photos, progress=lambda done: bar.update(task, completed=done))
        summary = summarise(readings)
        results["parts"][name] = {"summary": summary, "readings": readings_json(readings)}
        table += markdown(summary, {"dev": "Part developed on", "measure": "Part only measured on"}[name]) + "\n"
    publish(out, results, table, "bench:gestures", doc)


@app.command("faces")
def bench_faces_cmd(
    photo_set: Path = typer.Argument(..., help="real face photos: a folder or .tar.gz with a manifest.csv (path, "
                                     "label, identity[, source_family]), e.g. "
                                     "../shared/data/faces_wild/faces_muxspace_wild_7expr.tar.gz"),
    models: list[str] = typer.Option(None, "--model", help="shipped names or bundle paths (default: every shipped "
                                     "7-expression model)"),
    part: str = typer.Option("both", help="dev (people developed on) | measure (people only measured on) | both"),
    detector: str = typer.Option("mediapipe-full", help=f"the pipeline's face detector, as in predict ({DETECTOR_HELP})"),
    framing_views: bool = typer.Option(False, help="score each found face as `emoscope predict --framing-views` does"),
    tta: str = typer.Option("none", help="test-time augmentation of our models' crops (none | hflip | tencrop)"),
    peers: bool = typer.Option(True, help="also run the peer packages (requirements/peers.txt) on the same photos"),
    peers_python: Path = typer.Option(Path("runs/peers-venv/bin/python"), help="the python of the peers' own venv"),
    bootstrap: int = typer.Option(2000, min=100, max=100_000, help="resamples of people for the 95% intervals"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="seeds the resampling"),
    out: Path = typer.Option(Path("runs/bench/faces.json"), help="JSON; a Markdown table is written beside it"),
    doc: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:faces --> markers here "
                                       "(bench:faces-<part>-<detector>-framing-views-<tta> where not the defaults)"),
):
    """Expressions on real face photos: each 7-expression model through the predict pipeline (detect, align,
    crop) and on the photos as given crops, beside the peer packages, split by person into the part developed
    on and the part only measured on; accuracy and macro-F1 with subject-bootstrap intervals, recall per class,
    accuracy per source family."""
    from emoscope.benchmarks.faces import PEERS, ROUTES, bench_faces, check_seven_classes, faces_table
    from emoscope.cli.options import progress
    from emoscope.data.face_photos import MEASURE_SHARE, load_face_photos
    from emoscope.runtime.predictor import list_pretrained, load_predictor
    from emoscope.runtime.tta import TTA_MODES

    check_choice(part, ["dev", "measure", "both"], "part")
    check_choice(detector, DETECTORS, "face detector")
    check_choice(tta, TTA_MODES, "--tta")
    check_can_write_in(out.parent)
    if doc is not None and not doc.is_file():
        raise EmoscopeError(f"{doc}: no such file to put the table in")
    # the photos first: a wrong path is refused before seconds of loading models
    parts = {name: load_face_photos(photo_set, part=name) for name in (["dev", "measure"] if part == "both" else [part])}
    names = models or [m for m in list_pretrained() if m.startswith(("fer-", "ferplus")) and m != "fer-panic"]
    predictors = [load_predictor(name, backend="fastest") for name in names]
    for predictor in predictors:
        check_seven_classes(predictor)
    with progress() as bar:
        task = bar.add_task("reading", total=None)
        results = bench_faces(parts, predictors, detector, framing_views, tta, PEERS if peers else (),
                              peers_python=peers_python, samples=bootstrap, seed=seed,
                              progress=lambda what, done, total: bar.update(task, description=what, completed=done,
                                                                            total=total))
    settings = [*([part] if part != "both" else []), *([] if detector == "mediapipe-full" else [detector]),
                *(["framing-views"] if framing_views else []),
                *([tta] if tta != "none" else [])]
    options = {"--model": models or [], "--part": [part] if part != "both" else [],
               "--detector": [detector] if detector != "mediapipe-full" else [], "--tta": [tta] if tta != "none" else [],
               "--bootstrap": [str(bootstrap)] if bootstrap != 2000 else [], "--seed": [str(seed)] if seed else []}
    command = " ".join(["emoscope bench faces", str(photo_set), *[f"{option} {value}" for option, values in
                                                                   options.items() for value in values],
                        *(["--framing-views"] if framing_views else []), *([] if peers else ["--no-peers"])])
    results = {"set": photo_set.name, "command": command,
               "split": f"by identity: rarest class first, people in SHA-256 order of their name, each to the "
                        f"measure-only part while it holds under {MEASURE_SHARE:.0%} of that class's photos placed "
                        "so far (emoscope.data.face_photos.split_by_identity)", "routes": list(ROUTES), **results}
    publish(out, results, faces_table(results), "-".join(["bench:faces", *settings]), doc)


@app.command("api")
def bench_api_cmd(
    photos: str = typer.Argument(..., help="photos: a folder, a glob or a manifest CSV (e.g. ../shared/data/media)"),
    count: int = typer.Option(100, min=1, max=10_000, help="photos per way, the given ones repeated in turn"),
    repeats: int = typer.Option(3, min=1, max=100, help="runs of each way, taking turns; medians reported"),
    model: Optional[str] = typer.Option(None, help=DEFAULT_MODEL_HELP),
    backend: str = typer.Option("auto", help=BACKEND_HELP),
    out: Path = typer.Option(Path("runs/bench/api.json")),
    doc: Optional[Path] = typer.Option(None, help="also put a table between <!-- bench:api --> markers here "
                                       "(docs/api.md)"),
):
    """Photos through one emoscope.Analyzer against one emoscope.predict_image call each, in one run."""
    from emoscope.api import bench_photo_calls
    from emoscope.video.source import find_sources

    check_can_write_in(out.parent)
    found = [item.path for item in find_sources(photos, webcams=False) if item.kind == "image"]
    if not found:
        raise EmoscopeError(f"{photos}: no photos found")
    results = bench_photo_calls([found[i % len(found)] for i in range(count)], model, backend, repeats)
    table = ("| way | seconds | photos/s |\n| --- | ---: | ---: |\n"
             f"| one `Analyzer` for all | {results['analyzer_seconds']:.2f} | {results['analyzer_photos_per_s']:.1f} |\n"
             f"| one `predict_image` call each | {results['module_calls_seconds']:.2f} | "
             f"{results['module_calls_photos_per_s']:.1f} |\n\n"
             f"{results['photos']} photos ({len(found)} distinct), median of {repeats} runs each, model {results['model']}, backend {backend}, "
             f"{os.cpu_count()} CPUs: the Analyzer is {results['speedup']:.2f}x as fast.\n")
    publish(out, results, table, "bench:api", doc)


@app.command("fuzz")
def bench_fuzz_cmd(
    cases: int = typer.Option(1000, min=1, max=100_000, help="damaged copies, half of the clip, half of the photos"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="case i of a seed is the same damage on every machine"),
    clip: Path = typer.Option(Path("samples/WolfgangLanger_Pexels.mp4"),
                              help="the video to damage (its first 2 s, re-encoded)"),
    photo: Optional[list[Path]] = typer.Option(None, help="photos to damage (default: two of $EMOSCOPE_DATA/media, "
                                               "a JPEG and a PNG with alpha, else the clip's first frame)"),
    model: str = typer.Option("fer-fast", help="the expression model"),
    time_limit: float = typer.Option(60, max=3600, callback=positive, help="seconds a case may take (a hang past it)"),
    out: Path = typer.Option(Path("runs/bench/fuzz.json")),
    doc: Optional[Path] = typer.Option(None, help="also put a table between <!-- bench:fuzz --> markers here "
                                       "(docs/reliability.md)"),
):
    """A mutation fuzz of analyze and predict: seeded byte flips, truncations and damaged headers; exit 1
    when a case crashed, hung or gave a result that is neither complete nor labelled partial or error."""
    from emoscope.benchmarks.fuzz import default_photos, fuzz_table, run_fuzz

    check_can_write_in(out.parent)
    with console.status("fuzzing") as status:
        results = run_fuzz(clip, photo or default_photos(clip, out.parent), cases, seed, model, time_limit,
                           on_case=lambda outcome: status.update(f"case {outcome.case.index + 1} of {cases}"))
    results["command"] = f"emoscope bench fuzz --cases {cases} --seed {seed}"
    publish(out, results, fuzz_table(results), "bench:fuzz", doc)
    for defect in results["defects"]:
        console.print(f"[red]{defect['status']}[/red] case {defect['case']['index']} ({defect['case']['kind']}, "
                      f"{defect['case']['mutation']}: {defect['case']['detail']}): {defect['message'][-300:]}",
                      soft_wrap=True)
    if results["defects"]:
        raise typer.Exit(1)


@app.command("soak")
def bench_soak_cmd(
    video: Path = typer.Argument(Path("samples/WolfgangLanger_Pexels.mp4"), help="the interview video to upload"),
    minutes: float = typer.Option(30, max=24 * 60, callback=positive, help="how long the mix runs"),
    image: Optional[Path] = typer.Option(None, help="the photo for /v1/images:analyze (default: a face photo of "
                                         "$EMOSCOPE_DATA/media, else the video's first frame)"),
    max_seconds: float = typer.Option(2, max=3600, callback=positive, help="seconds of each upload analysed"),
    upload_every: float = typer.Option(15, max=3600, callback=positive,
                                       help="seconds between uploads (the next waits for the last job)"),
    photo_every: float = typer.Option(0.5, max=3600, callback=positive, help="seconds between photo requests"),
    read_every: float = typer.Option(1, max=3600, callback=positive, help="seconds between report reads"),
    out: Path = typer.Option(Path("runs/bench/soak.json")),
    doc: Optional[Path] = typer.Option(None, help="also put a table between <!-- bench:soak --> markers here "
                                       "(docs/reliability.md)"),
):
    """The web app under a steady mix of uploads, report reads and photo requests, its memory and open files
    sampled; exit 1 on any error or when either grew past its tolerance (emoscope.web.soak)."""
    from emoscope.web.soak import run_soak, soak_table

    check_can_write_in(out.parent)
    with console.status(f"soaking for {minutes:g} minutes"):
        results = run_soak(video, minutes, image, max_seconds, upload_every, photo_every, read_every)
    results["command"] = f"emoscope bench soak --minutes {minutes:g}"
    publish(out, results, soak_table(results), "bench:soak", doc)
    if results["errors"] or not all(figure["flat"] for figure in results["flatness"].values()):
        raise typer.Exit(1)
