"""The `emoscope` command line (typer). Each command is a thin shell over the library."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from emoscope.errors import EmoscopeError

app = typer.Typer(
    help="emoscope: offline facial-expression recognition: train, evaluate, export, recognise, analyse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _command_line() -> str:
    return "emoscope " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def _parse_sets(pairs: list[str]) -> dict:
    """``key=value`` overrides, dotted keys for nested options (``augment.rotate=15``)."""
    data: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise EmoscopeError(f"--set expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string such as a model name
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return data


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@app.command("models")
def models_cmd(
    pretrained: bool = typer.Option(False, "--pretrained", help="list the shipped, trained models instead"),
    img_size: int = typer.Option(48, help="input side for the parameter and MFLOP counts"),
    classes: int = typer.Option(7, help="number of classes for the counts"),
    readme: Optional[Path] = typer.Option(None, help="with --pretrained: also put the table between "
                                          "<!-- models:pretrained --> markers here"),
):
    """List registered architectures with parameters and MFLOPs, or the shipped weights and their cards."""
    if pretrained:
        from emoscope.evaluation.card import cards_table, read_card
        from emoscope.runtime.predictor import WEIGHTS_DIR, list_pretrained

        cards = [read_card(path) for name in list_pretrained()
                 if (path := WEIGHTS_DIR / f"{name}.card.json").is_file()]
        if not cards:
            console.print("no pretrained weights shipped yet")
            return
        table = cards_table(cards)
        console.print(table, soft_wrap=True, markup=False)
        if readme is not None:
            from emoscope.apps.bench import replace_between_markers

            replace_between_markers(readme, "models:pretrained", table)
        return
    from emoscope.models.registry import count_mflops, count_params, create_model, get_entry, list_models

    table = Table("name", "params (M)", f"MFLOPs @1x{img_size}x{img_size}", "description")
    for name in list_models():
        model = create_model(name, num_classes=classes, in_chans=1, img_size=img_size)
        table.add_row(name, f"{count_params(model) / 1e6:.3f}", f"{count_mflops(model, 1, img_size):.1f}",
                      get_entry(name).description)
    console.print(table)


@app.command("train")
def train_cmd(
    config: Optional[Path] = typer.Argument(None, help="config file (.json/.toml/.yaml); flags override it"),
    name: Optional[str] = typer.Option(None, help="run name; outputs go to <out-dir>/<name>"),
    model: Optional[str] = typer.Option(None, help="registered architecture (see `emoscope models`)"),
    dataset: Optional[str] = typer.Option(None, help="fer2013 | ferplus | sign_mnist | CSV path | .emopack | image folder"),
    label_set: Optional[str] = typer.Option(None, help="fer2013 | ferplus | fer5 | panic | auto"),
    epochs: Optional[int] = typer.Option(None),
    batch_size: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None),
    optimizer: Optional[str] = typer.Option(None, help="sgd | adam | adamw | radam"),
    scheduler: Optional[str] = typer.Option(None, help="cosine | onecycle | plateau | none"),
    limit: Optional[int] = typer.Option(None, help="stratified subset of N training images"),
    val_limit: Optional[int] = typer.Option(None, help="stratified subset of N validation images"),
    img_size: Optional[int] = typer.Option(None),
    precision: Optional[str] = typer.Option(None, help="auto | fp32 | bf16"),
    seed: Optional[int] = typer.Option(None),
    drop_rate: Optional[float] = typer.Option(None, help="dropout before the classifier (ablation)"),
    no_batch_norm: bool = typer.Option(False, "--no-batch-norm", help="replace batch norm by identity (ablation)"),
    out_dir: Optional[str] = typer.Option(None),
    folds: int = typer.Option(0, help="stratified k-fold cross-validation over the training split"),
    resume: bool = typer.Option(False, help="continue the run in <out-dir>/<name> from its last checkpoint"),
    set_: list[str] = typer.Option([], "--set", help="any option as key=value, e.g. augment.mixup=0.2"),
):
    """Train any registered model on any dataset; checkpoints every epoch, resumable."""
    from emoscope.training.config import TrainConfig

    flags = {"name": name, "model": model, "dataset": dataset, "label_set": label_set, "epochs": epochs,
             "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "scheduler": scheduler, "limit": limit,
             "val_limit": val_limit, "img_size": img_size, "precision": precision, "seed": seed, "out_dir": out_dir}
    overrides = {k: v for k, v in flags.items() if v is not None}
    model_kwargs = {k: v for k, v in (("drop_rate", drop_rate), ("batch_norm", False if no_batch_norm else None)) if v is not None}
    if model_kwargs:
        overrides["model_kwargs"] = model_kwargs
    overrides = _merge(overrides, _parse_sets(set_))
    if config is not None:
        base = TrainConfig.from_file(config).model_dump()
        cfg = TrainConfig.validated(_merge(base, overrides), source=str(config))
    else:
        cfg = TrainConfig.validated(overrides)
    run_training(cfg, folds=folds, resume=resume)


def run_training(cfg, folds: int = 0, resume: bool = False) -> None:
    from emoscope.evaluation.plots import plot_confusion, plot_curves
    from emoscope.training.datamodule import DataModule
    from emoscope.training.kfold import run_kfold
    from emoscope.training.trainer import Trainer

    data = DataModule(cfg)
    command = _command_line()
    with _progress() as progress:
        if folds:
            report = run_kfold(cfg, data.train(), folds, command=command, progress=progress)
            console.print((cfg.run_dir / "folds.md").read_text())
            console.print(f"k-fold tables: {cfg.run_dir / 'folds.csv'}, {cfg.run_dir / 'folds.json'}")
            return report
        train, val = data.train(), data.val()
        console.print(f"training {cfg.model} on {len(train)} images of {train.source}, validating on {len(val)} "
                      f"({cfg.val_split}); classes: {', '.join(train.label_set.classes)}")
        trainer = Trainer(cfg, train, val, command=command, progress=progress)
        console.print(f"device {trainer.device}, precision {'bf16' if trainer.autocast_dtype else 'fp32'}, "
                      f"{trainer.steps_per_epoch} steps/epoch")
        if trainer.warm_start is not None:
            console.print(trainer.warm_start.describe())
        result = trainer.fit(resume=resume)
    if not result.history:
        console.print("nothing to do: the run already reached its last epoch")
        return result
    plot_curves(result.history, result.run_dir / "curves.png", title=f"{cfg.model} on {train.source}")
    m = result.best_metrics
    plot_confusion(m["confusion_matrix"], list(m["per_class"]), result.run_dir / "confusion_val.png",
                   title=f"{cfg.model}, {m['split']} (epoch {m['epoch']})")
    console.print(f"best epoch {result.best_epoch}: val accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}; "
                  f"median {result.train_images_per_s:.0f} train img/s")
    console.print(f"model bundle: {result.best_bundle}")
    return result


@app.command("pack")
def pack_cmd(
    dataset: str = typer.Argument(..., help="fer2013 | ferplus | sign_mnist | CSV path | image folder"),
    out: Path = typer.Option(..., help="the pack file to write (*.emopack)"),
    split: list[str] = typer.Option(["train", "val"], help="splits to include (repeatable); never pack test for training"),
    bits: int = typer.Option(8, help="8 = lossless; 7 rounds each pixel to 128 levels for a ~17% smaller file"),
    teacher: Optional[str] = typer.Option(None, help="add a trained model's probabilities as soft labels (distillation)"),
    teacher_weight: float = typer.Option(0.5, help="share of the teacher in the soft labels; the rest is the labels"),
):
    """Squeeze dataset splits into one small file that `train --dataset PACK` reads (e.g. for a remote GPU)."""
    from emoscope.data import PACK_SUFFIX, load_dataset, write_pack

    if not out.name.endswith(PACK_SUFFIX):
        raise EmoscopeError(f"{out}: a pack's name must end in {PACK_SUFFIX}")
    splits = {name: load_dataset(dataset, split=name) for name in split}
    if teacher is not None:
        import emoscope
        from emoscope.training.distill import with_teacher_labels

        model = emoscope.load(teacher)
        splits = {name: with_teacher_labels(images, model, teacher_weight) for name, images in splits.items()}
    write_pack(splits, out, bits=bits)
    sizes = ", ".join(f"{name} {len(images)}" for name, images in splits.items())
    raw = sum(images.images.nbytes for images in splits.values())
    console.print(f"{out}: {sizes} images, {out.stat().st_size / 1e6:.1f} MB ({out.stat().st_size / raw:.0%} of raw pixels)")


@app.command("evaluate")
def evaluate_cmd(
    model: str = typer.Argument(..., help="shipped model name, .safetensors bundle or .onnx file"),
    dataset: str = typer.Option("fer2013", help="fer2013 | ferplus | sign_mnist | CSV path | image folder"),
    split: str = typer.Option("test", help="train | val | test (FER2013: Training / PublicTest / PrivateTest)"),
    tta: str = typer.Option("none", help="none | hflip | tencrop"),
    backend: str = typer.Option("auto", help="auto | torch | onnx"),
    limit: Optional[int] = typer.Option(None, help="stratified subset of N images (quick checks)"),
    out: Path = typer.Option(Path("runs/eval"), help="folder for the JSON report and confusion matrix"),
):
    """Accuracy, per-class P/R/F1, macro-F1, ROC-AUC, MAE and a confusion matrix on a named split."""
    import emoscope
    from emoscope.data import limit_per_split, load_dataset
    from emoscope.evaluation.evaluate import evaluate, write_report

    predictor = emoscope.load(model, backend=backend)
    images = load_dataset(dataset, split=split)
    if limit is not None and limit < len(images):
        images = limit_per_split(images, limit, seed=0)
    report = evaluate(predictor, images, split=f"{dataset}:{split}", tta=tta)
    report["command"] = _command_line()
    paths = write_report(report, out, stem=f"{predictor.spec.name}_{Path(dataset).name}_{split}_{tta}")
    table = Table("class", "precision", "recall", "F1", "support")
    for cls, row in report["per_class"].items():
        table.add_row(cls, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    console.print(f"{report['model']} on {report['split']} ({report['n']} images, tta {tta}): accuracy "
                  f"{report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}, ROC-AUC {report['roc_auc_macro_ovr']:.4f}")
    console.print(f"report: {paths['json']}  confusion matrix: {paths['confusion']}")


@app.command("export")
def export_cmd(
    model: str = typer.Argument(..., help="shipped model name or .safetensors bundle"),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx", help="write an ONNX model (the only format for now)"),
    out: Optional[Path] = typer.Option(None, help="output path (default: beside the bundle, .onnx)"),
):
    """Export a bundle to ONNX (same metadata) and check ONNX Runtime agrees with torch."""
    import numpy as np

    from emoscope.runtime.bundle import load_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import TorchPredictor, load_predictor, resolve_model_path

    if not onnx:
        raise EmoscopeError("nothing to export: only --onnx is supported")
    source = resolve_model_path(model, "torch")
    net, spec = load_bundle(source)
    target = export_onnx(net, spec, out or source.with_suffix(".onnx"))
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(16, spec.img_size, spec.img_size), dtype=np.uint8)
    torch_probs = TorchPredictor(net, spec, source).predict_proba(faces)
    onnx_probs = load_predictor(target, backend="onnx").predict_proba(faces)
    diff = float(np.abs(torch_probs - onnx_probs).max())
    console.print(f"ONNX model: {target} ({target.stat().st_size / 1e6:.2f} MB); max |torch - onnx| = {diff:.2e}")
    if diff > 1e-4:
        raise EmoscopeError(f"ONNX output differs from torch by {diff:.2e} (> 1e-4); the export is not trustworthy")


@app.command("info")
def info_cmd(model: str = typer.Argument(..., help="shipped model name, .safetensors bundle or .onnx file")):
    """Print a model's card: architecture, labels, input spec, metrics, the command that made it."""
    import emoscope

    spec = emoscope.load(model).spec
    console.print_json(spec.model_dump_json(exclude={"metrics"}))
    metrics = {k: v for k, v in spec.metrics.items() if k not in ("confusion_matrix", "per_class")}
    console.print_json(json.dumps(metrics))


@app.command("ship")
def ship_cmd(
    bundle: Path = typer.Argument(..., help="a trained bundle, e.g. runs/fer-fast/best.safetensors"),
    name: str = typer.Option(..., help="the name users load it by, e.g. fer-fast"),
    half: bool = typer.Option(False, help="store the weights as fp16 (half the size)"),
    onnx: bool = typer.Option(True, help="also export <name>.onnx beside it"),
):
    """Copy a trained bundle into the package's weights folder under NAME (loadable offline by name)."""
    from emoscope.runtime.bundle import load_bundle, save_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import WEIGHTS_DIR

    model, spec = load_bundle(bundle)
    spec = spec.model_copy(update={"name": name})
    target = save_bundle(model, spec, WEIGHTS_DIR / f"{name}.safetensors", half=half)
    shipped, _ = load_bundle(target)  # the fp16 file is what users get: export that
    console.print(f"shipped: {target} ({target.stat().st_size / 1e3:.0f} kB)")
    if onnx:
        path = export_onnx(shipped, spec, target.with_suffix(".onnx"))
        console.print(f"ONNX: {path} ({path.stat().st_size / 1e3:.0f} kB)")


@app.command("ensemble")
def ensemble_cmd(
    members: list[str] = typer.Argument(..., help="two or more shipped names or .safetensors bundles"),
    out: Path = typer.Option(..., help="the ensemble's .safetensors bundle (ship it with `emoscope ship`)"),
    name: Optional[str] = typer.Option(None, help="the ensemble's name (default: the file's stem)"),
):
    """Combine trained models with the same labels and input into one model: the mean of their probabilities."""
    from emoscope.runtime.bundle import save_bundle
    from emoscope.runtime.ensemble import build_ensemble

    model, spec = build_ensemble(members, name or out.stem, command=_command_line())
    save_bundle(model, spec, out)
    console.print(f"ensemble of {spec.metrics['members']}: {out} ({out.stat().st_size / 1e3:.0f} kB)")


@app.command("analyze")
def analyze_cmd(
    source: str = typer.Argument(..., metavar="VIDEO|FOLDER|WEBCAM", help="a video file, a folder of videos, or a webcam index"),
    out: Path = typer.Option(Path("runs/analyze"), help="folder for reports, charts and frame tables"),
    model: Optional[str] = typer.Option(None, help="shipped name, .safetensors or .onnx (default: best shipped)"),
    backend: str = typer.Option("fastest", help="fastest (ONNX Runtime when exported) | torch | onnx"),
    detector: str = typer.Option("mediapipe", help="mediapipe | mediapipe-full | haar | mtcnn"),
    fps: Optional[float] = typer.Option(None, help="analyse about this many frames per second (default: all)"),
    max_seconds: Optional[float] = typer.Option(None, help="stop after this much video (webcam: required)"),
    blinks: bool = typer.Option(True, help="count blinks (face mesh)"),
    gaze: bool = typer.Option(True, help="measure gaze direction (face mesh iris)"),
    touches: bool = typer.Option(True, help="detect face touching (hand landmarks)"),
    annotate: bool = typer.Option(False, help="also write an annotated MP4"),
    frames: str = typer.Option("csv", help="per-frame table: csv | parquet | none"),
    min_episode: float = typer.Option(0.5, help="seconds an expression must last to count as an episode"),
    panic: bool = typer.Option(False, help="score panic per person (hysteresis) and raise crowd alerts"),
    panic_threshold: float = typer.Option(0.5, help="panic score that counts as panic (see `emoscope panic`)"),
    crowd_level: float = typer.Option(0.3, help="share of visible faces in panic that raises an alert"),
    webhook: Optional[str] = typer.Option(None, help="POST each alert as JSON to this URL (never blocks the video)"),
    meta: list[str] = typer.Option([], help="metadata copied into the report, key=value (repeatable)"),
):
    """Analyse behaviour in a video: emotions per interval, episodes, transitions, blinks, touches, gaze."""
    from emoscope.report.builder import ReportOptions
    from emoscope.video.sinks import AlertSink
    from emoscope.apps.analyze import analyze_video, find_videos, summary_row, write_summary
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model
    from emoscope.video.pipeline import AnalysisOptions
    from emoscope.video.sinks import check_frame_table_format

    metadata = {}
    for pair in meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EmoscopeError(f"--meta expects key=value, got {pair!r}")
        metadata[key] = value
    if frames != "none":
        check_frame_table_format(frames)  # before any video is analysed
    is_webcam = source.isdigit()
    if is_webcam and max_seconds is None:
        raise EmoscopeError("a webcam needs --max-seconds (how long to analyse)")
    predictor = _video_predictor(model or default_model(VIDEO_MODELS), backend)
    options = AnalysisOptions(detector=detector, blinks=blinks, gaze=gaze, touches=touches, panic=panic,
                              panic_threshold=panic_threshold, crowd_level=crowd_level)
    alerts = AlertSink(webhook) if panic else None
    report_options = ReportOptions(min_episode_s=min_episode)
    path = Path(source)
    videos = find_videos(path) if path.is_dir() else [source]
    if path.is_dir() and not videos:
        raise EmoscopeError(f"{path}: no video files found")
    rows, failures = [], 0
    with _progress() as progress:
        for video in videos:
            try:
                output = analyze_video(video, predictor, out, options, report_options, sample_fps=fps,
                                       max_seconds=max_seconds, metadata=metadata, annotate=annotate,
                                       frames_format=None if frames == "none" else frames,
                                       progress=progress, sinks=[alerts] if alerts else [])
            except EmoscopeError as exc:
                if len(videos) == 1:
                    raise
                failures += 1
                err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
                rows.append(summary_row(Path(str(video)), error=str(exc)))
                continue
            rows.append(summary_row(Path(str(video)), output))
            report = output.report
            console.print(f"{video}: {report.analysis.frames_analysed} frames at "
                          f"{report.analysis.processing_fps:.0f} frames/s, {len(report.people)} person(s), "
                          f"face visible {report.face_visible_share:.0%}" +
                          "".join(f"; {note}" for note in report.notes))
            console.print(f"report: {output.html_path}  json: {output.json_path}", soft_wrap=True)
    if alerts is not None:
        alerts.close()
    if len(videos) > 1:
        summary = write_summary(rows, out / "summary.csv")
        console.print(f"summary: {summary} ({len(videos) - failures} analysed, {failures} failed)")
        if failures == len(videos):
            raise typer.Exit(2)


@app.command("validate-cues")
def validate_cues_cmd(
    labels: Path = typer.Argument(..., help="frame labels JSON, e.g. tests/fixtures/labels/WolfgangLanger_Pexels.json"),
):
    """Score blink and face-touch detection against frame labels of a real clip (prints JSON)."""
    from emoscope.apps.validate_cues import validate_clip
    from emoscope.data import data_root

    if not labels.is_file():
        raise EmoscopeError(f"{labels}: no such labels file")
    console.print_json(json.dumps(validate_clip(labels, data_root())))


bench_app = typer.Typer(help="Benchmarks; results are written as JSON.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("video")
def bench_video_cmd(
    video: Path = typer.Argument(..., help="a video (e.g. a 640x360 clip)"),
    model: Optional[str] = typer.Option(None, help="shipped name, .safetensors or .onnx (default: best shipped)"),
    backend: str = typer.Option("fastest", help="fastest | torch | onnx"),
    detector: str = typer.Option("mediapipe"),
    max_frames: Optional[int] = typer.Option(None, help="stop each run after this many frames"),
    repeats: int = typer.Option(5, min=1, help="runs per pipeline; the median is reported"),
    long_minutes: float = typer.Option(0, help="also analyse a synthetic video this long and track memory"),
    long_fps: float = typer.Option(10, help="frame rate of the synthetic long video"),
    out: Path = typer.Option(Path("runs/bench/video.json")),
    readme: Optional[Path] = typer.Option(None, help="also put a table between <!-- bench:video --> markers here"),
):
    """Frames/s of the emotion-only and full-report loops vs a per-face loop; optional memory run."""
    from emoscope.runtime.predictor import VIDEO_MODELS, default_model
    from emoscope.apps.bench import bench_memory, bench_video, video_table, write_long_video
    from emoscope.video.pipeline import AnalysisOptions

    if not video.is_file():
        raise EmoscopeError(f"{video}: no such video")
    predictor = _video_predictor(model or default_model(VIDEO_MODELS), backend)
    results = bench_video(video, predictor, detector, max_frames, repeats)
    if long_minutes > 0:
        out.parent.mkdir(parents=True, exist_ok=True)
        long_video = write_long_video(out.parent / "long.mp4", video, long_minutes * 60, long_fps)
        results["memory"] = bench_memory(long_video, predictor, out.parent / "long", AnalysisOptions(detector=detector),
                                         sample_fps=None)
        long_video.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    console.print_json(json.dumps({k: v for k, v in results.items() if k != "memory"}))
    if "memory" in results:
        memory = results["memory"]
        console.print(f"memory: {memory['frames_analysed']} frames, peak RSS {memory['peak_rss_mb']} MB, "
                      f"growth over the second half {memory['rss_growth_second_half_mb']} MB")
    console.print(f"written: {out}")
    if readme is not None:
        from emoscope.apps.bench import replace_between_markers

        replace_between_markers(readme, "bench:video", video_table(results))


@bench_app.command("classify")
def bench_classify_cmd(
    models: list[str] = typer.Argument(None, help="shipped names or bundle paths (default: every shipped model)"),
    int8: bool = typer.Option(True, help="also time an int8 ONNX model (quantised here when not shipped)"),
    accuracy: bool = typer.Option(True, help="measure each backend's accuracy on the test split (needs the data)"),
    out: Path = typer.Option(Path("runs/bench/classify.json"), help="JSON; a Markdown table is written beside it"),
    readme: Optional[Path] = typer.Option(None, help="also put the table between <!-- bench:classify --> markers here"),
):
    """Faces/s of each model in torch eager and ONNX Runtime (fp32, int8) at batch 1/32/256, with accuracy."""
    import tempfile

    from emoscope.apps.bench import (bench_classifier, classifier_backends, markdown_table, replace_between_markers,
                                     split_accuracy)
    from emoscope.runtime.predictor import list_pretrained

    names = models or [m for m in list_pretrained() if not m.endswith(".int8")]
    if not names:
        raise EmoscopeError("no models to benchmark: none shipped and none given")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            backends = classifier_backends(name, int8, Path(work))
            measured = {label: split_accuracy(p) for label, p in backends.items()} if accuracy else None
            rows += bench_classifier(backends, accuracy=measured)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": os.cpu_count(), "rows": rows}, indent=2))
    table = markdown_table(rows)
    out.with_suffix(".md").write_text(table)
    console.print(table, soft_wrap=True)
    console.print(f"written: {out} and {out.with_suffix('.md')}")
    if readme is not None:
        replace_between_markers(readme, "bench:classify", table)


panic_app = typer.Typer(help="Panic detection: k-fold protocol and operating points.", no_args_is_help=True)
app.add_typer(panic_app, name="panic")


@panic_app.command("cv")
def panic_cv_cmd(
    model: str = typer.Option("mobilenetv2", help="registered architecture"),
    folds: int = typer.Option(10, help="stratified folds over FER2013 Training"),
    limit: Optional[int] = typer.Option(4000, help="images in the k-fold pool (reduced scale on CPU)"),
    epochs: int = typer.Option(3, help="epochs per fold"),
    val_limit: Optional[int] = typer.Option(1000, help="PublicTest images that select the final model's epoch"),
    full: bool = typer.Option(False, help="the full protocol: the whole Training split, 30 epochs per fold, "
                              "all of PublicTest"),
    panic_classes: list[str] = typer.Option(["fear"], "--panic-class", help="expressions that count as panic"),
    target_recall: float = typer.Option(0.9, help="recall the operating point must reach on validation"),
    out_dir: str = typer.Option("runs/panic"),
    lr: float = typer.Option(0.01),
    threads: int = typer.Option(0, help="torch CPU threads (0 = all cores)"),
):
    """k-fold of a binary panic model, then a final model: threshold on PublicTest, result on PrivateTest."""
    from emoscope.apps.panic import PANIC_METRICS, operating_point, operating_point_markdown
    from emoscope.data import load_dataset
    from emoscope.runtime.predictor import load_predictor
    from emoscope.training.config import TrainConfig
    from emoscope.training.datamodule import DataModule
    from emoscope.training.kfold import run_kfold
    from emoscope.training.trainer import Trainer

    if full:
        limit, epochs, val_limit = None, 30, None
    cfg = TrainConfig.validated({"name": f"panic-{model}", "model": model, "label_set": "panic",
                                 "panic_classes": panic_classes, "class_weights": True, "epochs": epochs,
                                 "limit": limit, "val_limit": val_limit, "lr": lr, "out_dir": out_dir, "monitor": "macro_f1",
                                 "threads": threads})
    data = DataModule(cfg)
    command = _command_line()
    with _progress() as progress:
        run_kfold(cfg, data.train(), folds, command=command, progress=progress, metrics=PANIC_METRICS)
        final_cfg = cfg.model_copy(update={"name": f"{cfg.name}/final"})
        result = Trainer(final_cfg, data.train(), data.val(), command=command, progress=progress).fit()
    predictor = load_predictor(result.best_bundle, backend="torch")
    point = operating_point(predictor, load_dataset("fer2013", split="val"), load_dataset("fer2013", split="test"),
                            target_recall, panic_classes)
    (cfg.run_dir / "operating_point.json").write_text(json.dumps(point, indent=1))
    console.print((cfg.run_dir / "folds.md").read_text())
    console.print(operating_point_markdown([point]), soft_wrap=True)
    console.print(f"tables: {cfg.run_dir / 'folds.md'}, {cfg.run_dir / 'operating_point.json'}")


@panic_app.command("summary")
def panic_summary_cmd(
    runs: list[Path] = typer.Argument(..., help="run folders of `emoscope panic cv` (e.g. runs/panic/panic-*)"),
    point: list[Path] = typer.Option([], help="more operating points from `emoscope panic threshold --out`"),
    out: Optional[Path] = typer.Option(None, help="write the Markdown here (default: print it)"),
):
    """One Markdown page of the panic study's results: fold means ± std, operating points, every fold."""
    from emoscope.apps.panic import summary_markdown

    text = summary_markdown(runs, point)
    if out is None:
        console.print(text, soft_wrap=True, markup=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"written: {out}")


@panic_app.command("threshold")
def panic_threshold_cmd(
    model: str = typer.Argument(..., help="a binary panic model or an expression model (name or path)"),
    target_recall: float = typer.Option(0.9, help="recall the threshold must reach on validation (PublicTest)"),
    panic_classes: list[str] = typer.Option(["fear"], "--panic-class", help="expressions that count as panic"),
    out: Optional[Path] = typer.Option(None, help="write the operating point as JSON"),
):
    """Choose the panic threshold on PublicTest for a target recall; report PrivateTest at it."""
    import emoscope
    from emoscope.apps.panic import operating_point, operating_point_markdown
    from emoscope.data import load_dataset

    point = operating_point(emoscope.load(model), load_dataset("fer2013", split="val"),
                            load_dataset("fer2013", split="test"), target_recall, panic_classes)
    console.print(operating_point_markdown([point]), soft_wrap=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(point, indent=1))


def _video_predictor(name: str, backend: str):
    from emoscope.runtime.predictor import load_predictor

    if backend != "fastest":
        return load_predictor(name, backend=backend)
    try:
        return load_predictor(name, backend="onnx")  # several times faster per small batch on CPU
    except EmoscopeError:
        return load_predictor(name, backend="auto")


@app.command("predict")
def predict_cmd(
    target: Path = typer.Argument(..., metavar="IMAGE_OR_FOLDER", help="an image file, or a folder of images"),
    model: Optional[str] = typer.Option(None, help="shipped name, .safetensors or .onnx (default: best shipped)"),
    detector: str = typer.Option("mediapipe-full", help="mediapipe-full | mediapipe | haar | mtcnn"),
    out: Optional[Path] = typer.Option(None, help="folder for predictions.json/.csv (default: a table on stdout)"),
    output_format: str = typer.Option("json", "--format", help="json | csv"),
    annotate: bool = typer.Option(False, help="also save the images with boxes and labels, to <out>/annotated"),
    tta: str = typer.Option("none", help="none | hflip"),
    clahe: bool = typer.Option(False, help="CLAHE contrast enhancement of the face crops"),
    no_align: bool = typer.Option(False, "--no-align", help="do not rotate the crops to level the eyes"),
):
    """Recognise the expression of every face in a photo or a folder of photos."""
    from emoscope.apps.predict import OUTPUT_FORMATS, find_images, predict_images, save_annotated, write_report
    from emoscope.errors import DataError
    from emoscope.runtime.predictor import IMAGE_MODELS, default_model, load_predictor
    from emoscope.runtime.tta import TTA_MODES

    if output_format not in OUTPUT_FORMATS:
        raise EmoscopeError(f"unknown --format {output_format!r} (choose {', '.join(OUTPUT_FORMATS)})")
    if tta not in TTA_MODES:
        raise EmoscopeError(f"unknown --tta {tta!r} (choose {', '.join(TTA_MODES)})")
    if annotate and out is None:
        raise EmoscopeError("--annotate needs --out DIR (where the annotated images go)")
    paths = find_images(target)
    predictor = load_predictor(model or default_model(IMAGE_MODELS))
    with _progress() as progress:
        task = progress.add_task("predicting", total=len(paths))

        def on_image(prediction, image):
            if prediction.error is None:
                if annotate:
                    save_annotated(image, prediction, out / "annotated")
            elif len(paths) > 1:  # a single file's error ends the command instead
                err_console.print(f"skipped: {prediction.error}", markup=False, highlight=False, soft_wrap=True)
            progress.advance(task)

        report = predict_images(paths, predictor, detector, tta=tta, align=not no_align, clahe=clahe,
                                on_image=on_image)
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
        console.print(f"{report.analysed} of {len(paths)} images analysed, {faces} faces: {path}", soft_wrap=True)
    if report.analysed == 0:
        # Nothing usable: fail, with the file's own message when there was only one.
        raise DataError(report.images[0].error if len(paths) == 1 else f"{target}: none of the {len(paths)} "
                        "files could be analysed")


@app.command("gesture")
def gesture_cmd(
    source: str = typer.Argument(..., metavar="IMAGE|VIDEO|WEBCAM|CSV",
                                 help="a photo, a video, a webcam index, or a Sign MNIST CSV (judged row by row)"),
    speak: bool = typer.Option(False, "--speak", help="say each new gesture's phrase aloud (espeak-ng)"),
    speak_to: Optional[Path] = typer.Option(None, "--speak-to", help="also write the spoken phrases to this WAV"),
    hold: int = typer.Option(5, help="frames a gesture must hold before it counts (video, webcam)"),
    route: str = typer.Option("combined", help="combined | landmarks (geometry rules) | crop (model only)"),
    crop: bool = typer.Option(False, "--crop", help="the image is already a hand crop, like Sign MNIST's 28x28"),
    phrase: list[str] = typer.Option([], help="what to say, GESTURE=TEXT (e.g. victory='We won'); repeatable"),
    annotate: Optional[Path] = typer.Option(None, help="write the labelled image (.png/.jpg) or video (.mp4) here"),
    max_seconds: Optional[float] = typer.Option(None, help="stop after this much video; a webcam also stops on Ctrl+C"),
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
    overrides = {}
    for pair in phrase:
        key, sep, text = pair.partition("=")
        if not sep:
            raise EmoscopeError(f"--phrase expects GESTURE=TEXT, got {pair!r}")
        overrides[key] = text
    speaker = Speaker(play=speak, wav_path=speak_to,
                      warn=lambda line: err_console.print(line, markup=False, highlight=False, soft_wrap=True))
    summary = run_session(source, speaker, phrases_with(overrides), GestureOptions.checked(route=route), hold,
                          as_crop=crop, annotate=annotate, max_seconds=max_seconds, model=model,
                          on_step=lambda step: console.print(describe(step), highlight=False, markup=False, soft_wrap=True))
    said = ", ".join(f"{gesture} at {time:.2f}s" for time, gesture in summary.started) or "no gesture held"
    console.print(f"{summary.frames} frame(s), a hand in {summary.frames_with_hands}; {said}", highlight=False)
    if speak_to:
        console.print(f"speech: {summary.wav}" if summary.wav else f"nothing was said, so {speak_to} was not written")
    if annotate:
        console.print(f"labelled: {annotate}")


@app.command("card")
def card_cmd(
    bundle: Path = typer.Argument(..., help="the .safetensors weights the card describes"),
    report: Path = typer.Option(..., help="the `emoscope evaluate` JSON report of this model on its test split"),
    config: Optional[Path] = typer.Option(None, help="the training config (.toml/.json), copied in as the recipe"),
    weakness: list[str] = typer.Option([], help="a known weakness, one sentence; repeatable"),
    reproduce: str = typer.Option("", help="one command that reruns every step (e.g. a make target)"),
    tta_report: list[Path] = typer.Option([], help="an `emoscope evaluate --tta ...` report of the same model and "
                                          "split; repeatable"),
    target: str = typer.Option("", help="the goal the model was trained for (e.g. an issue's accuracy target)"),
):
    """Write a model card (<name>.md, <name>.card.json, confusion PNG) next to a weights bundle."""
    from emoscope.evaluation.card import write_card

    paths = write_card(bundle, report, config, weakness, reproduce, tta_report, target)
    console.print("model card: " + ", ".join(str(p) for p in paths.values()), soft_wrap=True)


def main() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except EmoscopeError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except MemoryError:
        err_console.print("error: out of memory; use a smaller --batch-size or --limit")
        sys.exit(3)
    except OSError as exc:
        if os.environ.get("EMOSCOPE_DEBUG"):
            raise
        err_console.print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        sys.exit(3)


if __name__ == "__main__":
    main()
