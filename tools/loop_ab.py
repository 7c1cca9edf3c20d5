"""Issue 39's changes, one at a time, in one process: a loop on the sample clip against its variants, the loops
interleaved, so a slower moment of the machine slows each of them alike.

    python tools/loop_ab.py --rounds 5
    python tools/loop_ab.py --rounds 3 --against fer-best   # the default vs another shipped model's int8 copy
    python tools/loop_ab.py --rounds 5 --full-report hands_search_every=1   # the full report vs these options

Prints per loop the median frames/s and CPU ms per frame (docs/speed.md quotes runs of both)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import cv2

import emoscope.video.source as source
from emoscope.benchmarks.video_speed import bench_options, time_pipeline
from emoscope.runtime.predictor import load_predictor

CLIP = Path(__file__).resolve().parents[1] / "samples" / "WolfgangLanger_Pexels.mp4"


def int8_predictor(name: str):
    """A shipped model's int8 copy: the shipped one, else exported and quantised into a temporary folder as
    `emoscope bench classify` does (kept until the process ends)."""
    from emoscope.benchmarks.classifier_speed import classifier_backends

    return classifier_backends(name, int8=True, work_dir=Path(tempfile.mkdtemp(prefix="loop-ab-")))["onnx-int8"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", help="a shipped model: its int8 copy (exported and quantised here, as "
                        "`emoscope quantize` would) against the video default")
    parser.add_argument("--full-report", nargs="+", metavar="OPTION=VALUE",
                        help="the full-report loop (frame table and report too, as `bench video` times it) with the "
                        "default options against these AnalysisOptions")
    args = parser.parse_args()
    one_thread = source.open_capture
    ffmpeg_threads = cv2.VideoCapture  # FFmpeg's own decoding threads, as before issue 39's change
    emotion_only = bench_options()["emotion_only"]
    if args.full_report:
        default = load_predictor("fer-default", "fastest")
        changed = dict(option.split("=", 1) for option in args.full_report)
        loops = {"full report": (default, one_thread, bench_options()["full_report"]),
                 f"full report, {' '.join(args.full_report)}":
                     (default, one_thread, bench_options(**changed)["full_report"])}
    elif args.against is not None:
        loops = {"video default": (load_predictor("fer-default", "fastest"), one_thread, emotion_only),
                 f"{args.against} int8": (int8_predictor(args.against), one_thread, emotion_only)}
    else:
        loops = {
            "before (fp32, FFmpeg's threads)": (load_predictor("fer-default", "onnx"), ffmpeg_threads, emotion_only),
            "+ one decoding thread": (load_predictor("fer-default", "onnx"), one_thread, emotion_only),
            "+ int8 classifier": (load_predictor("fer-default", "fastest"), one_thread, emotion_only),
            "+ ONNX Runtime on one thread":
                (load_predictor("fer-default", "fastest", threads=1), one_thread, emotion_only),
        }
    runs: dict[str, list[dict]] = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, (predictor, opener, options) in loops.items():
            source.open_capture = opener
            runs[name].append(time_pipeline(CLIP, predictor, options, sinks=bool(args.full_report)))
    source.open_capture = one_thread
    for name, measured in runs.items():
        print(f"{name}: {statistics.median(r['fps'] for r in measured):.1f} frames/s, "
              f"{statistics.median(r['cpu_ms_per_frame'] for r in measured):.2f} CPU ms per frame")


if __name__ == "__main__":
    main()
