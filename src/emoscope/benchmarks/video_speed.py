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

from emoscope.benchmarks.agreement import EXACT, agreement_text
from emoscope.benchmarks.tables import markdown_table
from emoscope.errors import DataError
from emoscope.jobs.memory import current_rss_mb, peak_rss_mb
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.results import FrameResult
from emoscope.video.sinks import VideoWriterSink
from emoscope.video.source import Frame, VideoSource


def cpu_seconds() -> float:
    """CPU time of this process, all threads: unlike the wall time, hardly changed by other work on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
        "model": predictor.spec.name, "backend": type(predictor).__name__, "model_file": Path(predictor.source).name,
        "detector": detector,
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
    from emoscope.jobs.analyze import analyze_video

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
    backend = ", ".join(filter(None, [results["backend"], results.get("model_file")]))  # no file before issue 39
    text = (f"Clip: {clip}, model {results['model']} ({backend}), detector {results['detector']}{views}; "
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
