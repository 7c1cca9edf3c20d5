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

from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource


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


def bench_video(video: Path, predictor, detector: str = "mediapipe", max_frames: int | None = None) -> dict:
    with VideoSource(video) as source:
        info = source.info
    emotion_only = AnalysisOptions(detector=detector, blinks=False, gaze=False, touches=False)
    full = AnalysisOptions(detector=detector)
    results = {
        "video": str(video), "width": info.width, "height": info.height, "video_fps": info.fps,
        "model": predictor.spec.name, "backend": type(predictor).__name__, "detector": detector,
        "emotion_only": time_pipeline(video, predictor, emotion_only, max_frames),
        "full_report": time_pipeline(video, predictor, full, max_frames),
        "naive_per_face_loop": time_naive_loop(video, predictor, detector, max_frames),
    }
    results["speedup_emotion_only_vs_naive"] = round(
        results["emotion_only"]["fps"] / results["naive_per_face_loop"]["fps"], 2)
    return results


def write_long_video(path: Path, clip: Path, seconds: float, fps: float = 10.0) -> Path:
    """A synthetic long video: the clip's frames repeated (at ``fps``) until ``seconds`` are filled."""
    import cv2

    with VideoSource(clip, sample_fps=fps) as source:
        frames = [cv2.resize(f.image, (640, 360)) for f in source]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 360))
    total = int(seconds * fps)
    for i in range(total):
        # ping-pong through the clip so the face moves continuously
        period = 2 * len(frames) - 2
        k = i % period
        writer.write(frames[k if k < len(frames) else period - k])
    writer.release()
    return path


def bench_memory(video: Path, predictor, out_dir: Path, options: AnalysisOptions, sample_fps: float | None,
                 every: int = 500) -> dict:
    """Run the whole ``analyze`` path (report, CSV, charts) on a long video, sampling RSS as it goes."""
    from emoscope.apps.analyze import analyze_video

    samples: list[tuple[int, float]] = []
    counter = {"frames": 0}

    class _RssProbe:
        def add_task(self, *args, **kwargs):
            return 0

        def update(self, task, advance=1):
            counter["frames"] += advance
            if counter["frames"] % every == 0:
                samples.append((counter["frames"], round(current_rss_mb(), 1)))

        def remove_task(self, task):
            pass

    start = time.perf_counter()
    output = analyze_video(video, predictor, out_dir, options, sample_fps=sample_fps, progress=_RssProbe())
    seconds = time.perf_counter() - start
    rss = np.array([mb for _, mb in samples]) if samples else np.zeros(1)
    half = len(rss) // 2
    return {
        "video": str(video), "video_seconds": output.report.video.duration,
        "frames_analysed": output.report.analysis.frames_analysed, "seconds": round(seconds, 1),
        "rss_mb_samples": samples, "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_growth_second_half_mb": round(float(rss[-1] - rss[half]), 1) if half else 0.0,
    }
