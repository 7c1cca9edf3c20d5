"""`emoscope bench video`: throughput of the analysis loop and its memory over a long video.

Speed targets live here, not in unit tests: results go to JSON so runs can be compared.
Throughput is measured for several pipelines in one process on the same clip, so the ratios
between them hold even when the machine's absolute speed varies.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

from emoscope.errors import DataError, EmoscopeError
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.results import FrameResult
from emoscope.video.sinks import VideoWriterSink
from emoscope.video.source import Frame, VideoSource


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def time_pipeline(video: Path, predictor, options: AnalysisOptions, max_frames: int | None = None) -> dict:
    """Frames per second of the full loop (decode, detect, landmarks, classify, track, cues)."""
    analyzer = FrameAnalyzer(predictor, options)
    frames = faces = 0
    start = time.perf_counter()
    with VideoSource(video) as source:
        for result in analyzer.run(source):
            frames += 1
            faces += len(result.faces)
            if max_frames and frames >= max_frames:
                break
    seconds = time.perf_counter() - start
    analyzer.close()
    return {"frames": frames, "faces": faces, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1)}


def time_naive_loop(video: Path, predictor, detector_name: str, max_frames: int | None = None) -> dict:
    """The per-frame loop of fer/deepface-style tools: detect, then one classifier call per face."""
    from emoscope.faces import create_detector, crop_faces

    detector = create_detector(detector_name)
    frames = 0
    start = time.perf_counter()
    with VideoSource(video) as source:
        for frame in source:
            detections = detector.detect(frame.image)
            for crop in crop_faces(frame.image, detections, predictor.spec):
                predictor.predict_proba([crop])
            frames += 1
            if max_frames and frames >= max_frames:
                break
    seconds = time.perf_counter() - start
    detector.close()
    return {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1)}


def _median_run(measure, repeats: int) -> dict:
    """The run with the median frames/s of ``repeats`` (short clips vary by +-20% run to run)."""
    runs = sorted((measure() for _ in range(repeats)), key=lambda r: r["fps"])
    return runs[len(runs) // 2] | {"fps_runs": [r["fps"] for r in runs]}


def bench_video(video: Path, predictor, detector: str = "mediapipe", max_frames: int | None = None,
                repeats: int = 5, framing_views: bool = False) -> dict:
    """Frames/s of the batched loops (``framing_views``: with three crops per face, see
    :class:`~emoscope.video.pipeline.AnalysisOptions`) and of the per-face loop (always one crop)."""
    with VideoSource(video) as source:
        info = source.info
    emotion_only = AnalysisOptions(detector=detector, blinks=False, gaze=False, touches=False, framing_views=framing_views)
    full = AnalysisOptions(detector=detector, framing_views=framing_views)
    results = {
        "video": str(video), "width": info.width, "height": info.height, "video_fps": info.fps,
        "model": predictor.spec.name, "backend": type(predictor).__name__, "detector": detector,
        "framing_views": framing_views,
        "emotion_only": _median_run(lambda: time_pipeline(video, predictor, emotion_only, max_frames), repeats),
        "full_report": _median_run(lambda: time_pipeline(video, predictor, full, max_frames), repeats),
        "naive_per_face_loop": _median_run(lambda: time_naive_loop(video, predictor, detector, max_frames), repeats),
    }
    naive_fps = results["naive_per_face_loop"]["fps"]
    results["speedup_emotion_only_vs_naive"] = round(results["emotion_only"]["fps"] / naive_fps, 2) if naive_fps else None
    return results


def write_long_video(path: Path, clip: Path, seconds: float, fps: float = 10.0) -> Path:
    """A synthetic long video: the clip's frames repeated (at ``fps``) until ``seconds`` are filled."""
    import cv2

    with VideoSource(clip, sample_fps=fps) as source:
        frames = [cv2.resize(f.image, (640, 360)) for f in source]
    if not frames:
        raise DataError(f"{clip}: no frames to repeat")
    # ping-pong through the clip so the face moves continuously (a one-frame clip just repeats)
    period = max(1, 2 * len(frames) - 2)
    with VideoWriterSink(path, fps) as writer:
        for i in range(int(seconds * fps)):
            k = i % period
            writer.write(FrameResult(Frame(i, i / fps, frames[k if k < len(frames) else period - k])))
    return path


def bench_memory(video: Path, predictor, out_dir: Path, options: AnalysisOptions, sample_fps: float | None,
                 every: int = 500) -> dict:
    """Run the whole ``analyze`` path (report, CSV, charts) on a long video, sampling RSS as it goes."""
    from emoscope.apps.analyze import analyze_video

    samples: list[tuple[int, float]] = []

    def sample_rss(done: int, expected: int) -> None:
        if done % every == 0:
            samples.append((done, round(current_rss_mb(), 1)))

    start = time.perf_counter()
    output = analyze_video(video, predictor, out_dir, options, sample_fps=sample_fps, on_progress=sample_rss)
    seconds = time.perf_counter() - start
    rss = np.array([mb for _, mb in samples]) if samples else np.zeros(1)
    half = len(rss) // 2
    return {
        "video": str(video), "video_seconds": output.report.video.duration,
        "frames_analysed": output.report.analysis.frames_analysed, "seconds": round(seconds, 1),
        "rss_mb_samples": samples, "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_growth_second_half_mb": round(float(rss[-1] - rss[half]), 1) if half else 0.0,
    }


def _faces_per_second(run, batch: np.ndarray, min_seconds: float = 1.0) -> float:
    run(batch)  # warm-up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or done < 3 * len(batch):
        run(batch)
        done += len(batch)
    return done / elapsed


def bench_classifier(predictors: dict[str, object], batch_sizes=(1, 32, 256), accuracy: dict | None = None) -> list[dict]:
    """Faces/s of prepared (already normalised) batches through each backend's model call.

    All backends are timed in one process, one after the other on the same inputs, so their ratios
    are comparable; ``ms_batch1`` is the latency of one face.
    """
    rows = []
    for label, predictor in predictors.items():
        spec = predictor.spec
        row = {"model": spec.name, "backend": label, "architecture": spec.architecture}
        for size in batch_sizes:
            batch = np.random.default_rng(0).standard_normal(
                (size, spec.in_chans, spec.img_size, spec.img_size)).astype(np.float32)
            row[f"faces_per_s_b{size}"] = round(_faces_per_second(predictor._logits, batch), 1)
        if 1 in batch_sizes:
            row["ms_batch1"] = round(1000 / row["faces_per_s_b1"], 3)
        if accuracy and label in accuracy:
            row["accuracy"] = accuracy[label]
        rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


EVALUATION_DATASET = {"fer2013": "fer2013", "fer5": "fer2013", "panic": "fer2013", "ferplus": "ferplus",
                      "asl_gesture": "asl_gesture"}
"""The dataset whose test split measures a model with this label set."""


def evaluation_dataset(spec) -> str:
    """The dataset whose splits measure a model: a part model's own part crops, else by its label set."""
    from emoscope.data.face_parts import part_dataset

    return part_dataset(spec.name) or EVALUATION_DATASET.get(spec.label_set, "fer2013")


def check_fer2013_model(predictor, bench: str) -> None:
    """Refuse, in one line, a model the ``bench`` benchmark cannot score on FER2013 faces."""
    if evaluation_dataset(predictor.spec) != "fer2013":
        raise EmoscopeError(f"{predictor.spec.name}: a {predictor.spec.label_set} model; the {bench} bench "
                            "measures whole-face FER2013 expression models (7 classes or fer5)")


def classifier_backends(name: str, int8: bool, work_dir: Path) -> dict:
    """torch, ONNX fp32 and (optionally) ONNX int8 predictors of one model; exports what is missing
    into ``work_dir`` (int8 calibration uses 512 training-split faces)."""
    from emoscope.data import load_dataset
    from emoscope.data.splits import stratified_sample
    from emoscope.runtime.bundle import load_bundle
    from emoscope.runtime.onnx_runtime import export_onnx
    from emoscope.runtime.predictor import TorchPredictor, load_predictor, resolve_model_path
    from emoscope.runtime.quantize import quantize_onnx

    bundle = resolve_model_path(name, "torch")
    model, spec = load_bundle(bundle)
    backends = {"torch": TorchPredictor(model, spec, bundle)}
    onnx_path = bundle.with_suffix(".onnx")
    if not onnx_path.is_file():
        onnx_path = export_onnx(model, spec, work_dir / f"{spec.name}.onnx")
    backends["onnx-fp32"] = load_predictor(onnx_path, backend="onnx")
    if int8:
        int8_path = onnx_path.with_name(onnx_path.stem + ".int8.onnx")
        if not int8_path.is_file():
            train = load_dataset(evaluation_dataset(spec), split="train")
            calibration = train.subset(stratified_sample(train.labels, 512, seed=0)).images
            int8_path = quantize_onnx(onnx_path, calibration, work_dir / f"{spec.name}.int8.onnx")
        backends["onnx-int8"] = load_predictor(int8_path, backend="onnx")
    return backends


def split_accuracy(predictor) -> float:
    """Accuracy on the test split of the model's dataset (FER2013: PrivateTest)."""
    from emoscope.data import load_dataset
    from emoscope.evaluation.evaluate import evaluate

    dataset = evaluation_dataset(predictor.spec)
    return round(evaluate(predictor, load_dataset(dataset, split="test"), split=f"{dataset}:test")["accuracy"], 4)


def replace_between_markers(path: Path, marker: str, content: str) -> None:
    """Put ``content`` between ``<!-- marker -->`` and ``<!-- /marker -->`` in a Markdown file, so
    tables in the docs come from benchmark output, not from typing."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise EmoscopeError(f"{path}: no {start} ... {end} markers to put the table between")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{content}{end}{tail}", encoding="utf-8")


def video_table(results: dict) -> str:
    """docs/speed.md's video table from ``bench_video`` (and ``bench_memory``) results."""
    clip = f"{Path(results['video']).name} ({results['width']}x{results['height']})"
    rows = [
        {"pipeline": "emotions only (detect, crop, classify in batches, track, smooth)",
         "frames/s (median of runs)": results["emotion_only"]["fps"]},
        {"pipeline": "full report (+ face mesh for blinks and gaze, hands for touching)",
         "frames/s (median of runs)": results["full_report"]["fps"]},
        {"pipeline": "per-face loop, one classifier call per face (how fer/deepface loop)",
         "frames/s (median of runs)": results["naive_per_face_loop"]["fps"]},
    ]
    views = ", framing views in the batched loops" if results.get("framing_views") else ""
    text = f"Clip: {clip}, model {results['model']} ({results['backend']}), detector {results['detector']}{views}.\n\n"
    text += markdown_table(rows)
    if "memory" in results:
        m = results["memory"]
        text += (f"\nMemory: a synthetic {m['video_seconds'] / 60:.0f}-minute video, {m['frames_analysed']} frames "
                 f"through the full report: peak RSS {m['peak_rss_mb']:.0f} MB, growth over the second half "
                 f"{m['rss_growth_second_half_mb']:.0f} MB.\n")
    return text
