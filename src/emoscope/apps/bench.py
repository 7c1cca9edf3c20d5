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


def cpu_seconds() -> float:
    """CPU time of this process, all threads: unlike the wall time, hardly changed by other work on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


EXACT = {"detect_every": 1}
"""The options that put the detector on every frame, as the loop did before issue 39: the reference
the faster defaults are checked against."""


def time_pipeline(video: Path, predictor, options: AnalysisOptions, max_frames: int | None = None,
                  sinks: bool = False) -> dict:
    """Frames per second of the full loop (decode, detect, landmarks, classify, track, cues), its CPU
    time per frame and its per-stage profile (:mod:`emoscope.video.profile`). ``sinks``: each result
    also goes to the frame table (a CSV in a temporary folder) and the report builder, as in
    ``emoscope analyze``."""
    import tempfile

    from emoscope.report.builder import ReportBuilder
    from emoscope.video.sinks import FrameTable, frame_table_sink

    analyzer = FrameAnalyzer(predictor, options)
    frames = faces = 0
    with tempfile.TemporaryDirectory() as work, VideoSource(video) as source:
        outputs = []
        if sinks:
            outputs = [ReportBuilder(analyzer.classes, 1 / source.info.fps, cues=analyzer.cues),
                       frame_table_sink(Path(work) / "bench.frames", FrameTable(analyzer.classes, analyzer.cues), "csv")]
        cpu, start = cpu_seconds(), time.perf_counter()
        for result in analyzer.run(source):
            for output in outputs:
                (output.add if isinstance(output, ReportBuilder) else output.write)(result)
            frames += 1
            faces += len(result.faces)
            if max_frames and frames >= max_frames:
                break
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        for output in outputs[1:]:
            output.close()
    analyzer.close()
    return {"frames": frames, "faces": faces, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1),
            "cpu_ms_per_frame": round(1000 * cpu / frames, 2), "profile": analyzer.profile.summary(frames, seconds)}


def time_naive_loop(video: Path, predictor, detector_name: str, max_frames: int | None = None) -> dict:
    """The per-frame loop of fer/deepface-style tools: detect, then one classifier call per face."""
    from emoscope.faces import create_detector, crop_faces

    detector = create_detector(detector_name)
    frames = 0
    cpu, start = cpu_seconds(), time.perf_counter()
    with VideoSource(video) as source:
        for frame in source:
            detections = detector.detect(frame.image)
            for crop in crop_faces(frame.image, detections, predictor.spec):
                predictor.predict_proba([crop])
            frames += 1
            if max_frames and frames >= max_frames:
                break
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    detector.close()
    return {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1),
            "cpu_ms_per_frame": round(1000 * cpu / frames, 2)}


def _median_runs(measures: dict, repeats: int) -> dict:
    """Per measure, the run with the median frames/s of ``repeats`` (short clips vary by +-20% run to
    run). The measures take turns, one run each per round, so a burst of other work on the machine
    slows every measure a little rather than one of them a lot."""
    runs = {name: [] for name in measures}
    for _ in range(repeats):
        for name, measure in measures.items():
            runs[name].append(measure())
    medians = {}
    for name, measured in runs.items():
        measured.sort(key=lambda r: r["fps"])
        medians[name] = measured[len(measured) // 2] | {"fps_runs": [r["fps"] for r in measured]}
    return medians


def bench_options(detector: str = "mediapipe", framing_views: bool = False, **overrides) -> dict[str, AnalysisOptions]:
    """The loops `bench video` times: emotion-only and full report with the default options, and each
    again with the detector on every frame (:data:`EXACT`); ``overrides`` change the defaults (e.g. ``detect_every``)."""
    base = {"detector": detector, "framing_views": framing_views} | overrides
    emotion_only = base | {"blinks": False, "gaze": False, "touches": False}
    return {"emotion_only": AnalysisOptions(**emotion_only), "full_report": AnalysisOptions(**base),
            "emotion_only_exact": AnalysisOptions(**emotion_only | EXACT), "full_report_exact": AnalysisOptions(**base | EXACT)}


def bench_video(video: Path, predictor, detector: str = "mediapipe", max_frames: int | None = None,
                repeats: int = 5, framing_views: bool = False, **overrides) -> dict:
    """Frames/s, CPU time per frame and the per-stage profile of the batched loops (``framing_views``:
    with three crops per face, see :class:`~emoscope.video.pipeline.AnalysisOptions`) with the default
    options and with the detector on every frame (``*_exact``), all taking turns in one process so their
    ratios hold on a busy machine; and of the per-face loop (always one crop). The full-report loops feed the
    frame table and the report builder too, as ``emoscope analyze`` does."""
    import os

    with VideoSource(video) as source:
        info = source.info
    loops = bench_options(detector, framing_views, **overrides)
    results = {
        "video": str(video), "width": info.width, "height": info.height, "video_fps": info.fps,
        "model": predictor.spec.name, "backend": type(predictor).__name__, "detector": detector,
        "framing_views": framing_views, "detect_every": loops["emotion_only"].detect_every,
        "cpu_cores": os.cpu_count(), "load_average_before": [round(v, 2) for v in os.getloadavg()],
    }
    measures = {name: (lambda options=options, full=name.startswith("full"):
                       time_pipeline(video, predictor, options, max_frames, sinks=full))
                for name, options in loops.items()}
    measures["naive_per_face_loop"] = lambda: time_naive_loop(video, predictor, detector, max_frames)
    results |= _median_runs(measures, repeats)
    results["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    naive_fps = results["naive_per_face_loop"]["fps"]
    results["speedup_emotion_only_vs_naive"] = round(results["emotion_only"]["fps"] / naive_fps, 2) if naive_fps else None
    for name in ("emotion_only", "full_report"):
        exact = results[f"{name}_exact"]
        results[f"speedup_{name}_vs_exact"] = round(results[name]["fps"] / exact["fps"], 2)
    return results


# -- nothing lost: the default loop against the exact one -------------------------------------------------
def frame_faces(video: Path, predictor, options: AnalysisOptions, max_frames: int | None = None) -> list[list]:
    """Per frame, its faces as ``(box, label)``."""
    analyzer = FrameAnalyzer(predictor, options)
    frames = []
    try:
        with VideoSource(video) as source:
            for result in analyzer.run(source):
                frames.append([(face.box.copy(), face.label) for face in result.faces])
                if max_frames and len(frames) >= max_frames:
                    break
    finally:
        analyzer.close()
    return frames


def match_boxes(reference: np.ndarray, found: np.ndarray, min_iou: float = 0.3) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of reference and found boxes, greedily by IoU (at least ``min_iou``)."""
    from emoscope.video.tracking import iou_matrix

    iou = iou_matrix(np.asarray(reference, np.float32).reshape(-1, 4), np.asarray(found, np.float32).reshape(-1, 4))
    pairs, used_i, used_j = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return pairs


def compare_faces(reference: list[list], found: list[list]) -> dict:
    """Faces the reference loop found that the other found too (boxes matched by IoU), and how many of
    those reference faces got the same label; counts and shares over the reference's faces."""
    faces = matched = same = extra = 0
    for ref_faces, new_faces in zip(reference, found):
        pairs = match_boxes([b for b, _ in ref_faces], [b for b, _ in new_faces])
        faces += len(ref_faces)
        matched += len(pairs)
        same += sum(ref_faces[i][1] == new_faces[j][1] for i, j in pairs)
        extra += len(new_faces) - len(pairs)
    return {"frames": len(reference), "reference_faces": faces, "found": matched, "same_label": same,
            "extra_faces": extra, "recall": round(matched / faces, 4) if faces else None,
            "label_agreement": round(same / faces, 4) if faces else None}


def video_files(folder: Path) -> list[Path]:
    """The videos in a folder (by suffix), sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv", ".webm"))


def agreement(video: Path, predictor, options: AnalysisOptions, recall_videos: list[Path] = (),
              cue_labels: Path | None = None, cue_events: Path | None = None, data_root: Path | None = None) -> dict:
    """What the loop with ``options`` (the full report's) keeps of the exact one (``options`` with
    :data:`EXACT`): per-frame labels
    on ``video``, faces found on ``video`` and each of ``recall_videos``, and the cue validation
    (``emoscope validate-cues``: blinks and touches against ``cue_labels``, events against
    ``cue_events``) of both loops."""
    from emoscope.apps.validate_cues import validate_clip, validate_events

    exact = options.model_copy(update=EXACT)
    faces_only = {"blinks": False, "gaze": False, "touches": False}  # the cues change no face and no label
    clips = {}
    for clip in [video, *recall_videos]:
        if clip.name not in clips:
            clips[clip.name] = compare_faces(frame_faces(clip, predictor, exact.model_copy(update=faces_only)),
                                             frame_faces(clip, predictor, options.model_copy(update=faces_only)))
    reference = sum(c["reference_faces"] for c in clips.values())
    found = sum(c["found"] for c in clips.values())
    results = {"options": {"default": options.detect_every, "exact": exact.detect_every}, "clips": clips,
               "labels": clips[video.name],
               "recall_all_clips": round(found / reference, 4) if reference else None}
    cues = {}
    for name, loop in (("exact", exact), ("default", options)):
        scores = {}
        if cue_labels is not None:
            clip = validate_clip(cue_labels, data_root, loop)
            scores |= {"blinks": _rounded(clip["blinks"]), "touch": _rounded(clip["touch"])}
        if cue_events is not None:
            scores["events"] = _rounded(validate_events(cue_events, data_root, loop)["all_clips"])
        cues[name] = scores
    if cues["exact"]:
        results["cues"] = cues | {"unchanged": cues["exact"] == cues["default"]}
    return results


def _rounded(value):
    """Floats (numpy's too) to 4 places, inside dicts and lists."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return round(float(value), 4) if isinstance(value, (float, np.floating)) else value


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


LOOP_NAMES = {
    "emotion_only": "emotions only (detect, crop, classify in batches, track, smooth)",
    "emotion_only_exact": "emotions only, the detector on every frame (detect_every=1)",
    "full_report": "full report (+ face mesh for blinks and gaze, hands for touching; frame table and report)",
    "full_report_exact": "full report, the detector on every frame (detect_every=1)",
    "naive_per_face_loop": "per-face loop, one classifier call per face (how fer/deepface loop)",
}


def video_table(results: dict) -> str:
    """docs/speed.md's video section from ``bench_video`` results (with ``agreement`` and ``memory``
    when they were measured): speeds, the per-stage profile, what the default loop keeps of the exact one."""
    clip = f"{Path(results['video']).name} ({results['width']}x{results['height']})"
    views = ", framing views in the batched loops" if results.get("framing_views") else ""
    every = results.get("detect_every", 1)
    text = (f"Clip: {clip}, model {results['model']} ({results['backend']}), detector {results['detector']}{views}; "
            + (f"the default loops detect faces on every {every}th frame and follow them in between. " if every > 1
               else "the default loops detect faces on every frame. ")
            + f"{results.get('cpu_cores', '?')} CPU cores, load average {results.get('load_average_before', ['?'])[0]} "
            f"before and {results.get('load_average_after', ['?'])[0]} after the run.\n\n")
    rows = [{"pipeline": label, "frames/s (median of runs)": results[name]["fps"],
             "CPU ms per frame": results[name].get("cpu_ms_per_frame", "")}
            for name, label in LOOP_NAMES.items() if name in results]
    text += markdown_table(rows)
    if "profile" in results.get("emotion_only", {}):
        text += "\nWhere the time goes (busy milliseconds per frame summed over threads, and share):\n\n"
        text += markdown_table(profile_rows(results))
    if "agreement" in results:
        text += agreement_text(results["agreement"])
    if "memory" in results:
        m = results["memory"]
        samples = m["rss_mb_samples"]
        path = (f" (RSS {samples[0][1]:.0f} MB after {samples[0][0]} frames, {samples[len(samples) // 2][1]:.0f} MB "
                f"halfway, {samples[-1][1]:.0f} MB at the end)" if len(samples) >= 3 else "")
        text += (f"\nMemory: a synthetic {m['video_seconds'] / 60:.0f}-minute video, {m['frames_analysed']} frames "
                 f"through the full report (`analyze`'s whole path): growth over the second half "
                 f"{m['rss_growth_second_half_mb']:.0f} MB{path}; peak RSS of the whole bench process, its "
                 f"earlier loops included, {m['peak_rss_mb']:.0f} MB.\n")
    return text


def profile_rows(results: dict) -> list[dict]:
    """One row per stage: ms per frame (share) of each timed batched loop."""
    loops = [name for name in LOOP_NAMES if "profile" in results.get(name, {})]
    headers = {"emotion_only": "emotions only", "emotion_only_exact": "emotions only, detect_every=1",
               "full_report": "full report", "full_report_exact": "full report, detect_every=1"}
    rows = []
    for stage in results[loops[0]]["profile"]["stages"]:
        row = {"stage": stage}
        for name in loops:
            cell = results[name]["profile"]["stages"][stage]
            row[headers[name]] = f"{cell['ms_per_frame']:.2f} ({100 * cell['share']:.0f}%)"
        rows.append(row)
    rows.append({"stage": "cores kept busy"} | {headers[n]: results[n]["profile"]["cores_busy"] for n in loops})
    return rows


def agreement_text(agreement: dict) -> str:
    """The nothing-lost figures as sentences."""
    labels = agreement["labels"]
    text = (f"\nAgainst the detector on every frame: the labels agree on {100 * labels['label_agreement']:.1f}% of "
            f"the clip's {labels['reference_faces']} face-frames; of the faces found on every frame, "
            f"{100 * agreement['recall_all_clips']:.2f}% are found on "
            + ", ".join(f"{name} ({100 * c['recall']:.2f}%)" if c["recall"] is not None else f"{name} (no faces)"
                        for name, c in agreement["clips"].items()) + ".")
    if "cues" in agreement:
        cues = agreement["cues"]
        parts = []
        for name, label in (("blinks", "blinks"), ("touch", "touch frames")):
            if name in cues["default"]:
                d, e = cues["default"][name], cues["exact"][name]
                parts.append(f"{label} precision {d['precision']:.2f} / recall {d['recall']:.2f} "
                             f"(every frame: {e['precision']:.2f} / {e['recall']:.2f})")
        if "events" in cues["default"]:
            d, e = cues["default"]["events"]["blinks"], cues["exact"]["events"]["blinks"]
            parts.append(f"blink events precision {d['precision']:.2f} / recall {d['recall']:.2f} "
                         f"(every frame: {e['precision']:.2f} / {e['recall']:.2f})")
        text += (f" `validate-cues`: " + "; ".join(parts) + "; every cue score "
                 + ("unchanged." if cues["unchanged"] else "**changed** (see the JSON)."))
    return text + "\n"
