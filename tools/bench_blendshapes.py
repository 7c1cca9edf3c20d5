"""The blendshapes cue's cost and its agreement with the blink cues and the expression labels on a clip.

    .venv/bin/python tools/bench_blendshapes.py [samples/WolfgangLanger_Pexels.mp4] [--repeats 3]

Writes runs/bench/blendshapes.json: the time per face-frame of the blendshape network and of the
bundle's own mesh (median wall and thread CPU time), the full loop's frames/s with and without the cue
and its process CPU time per frame (medians of the repeats, runs alternating), and, for the scores from the loop's mesh (the cue's) and
from the bundle's mesh on the same frames: eyeBlinkLeft/Right in the frames the blink cues mark shut
(``lids_shut``) against the others, and mouthSmileLeft/Right in the frames labelled happy against
the others and against the person's baseline; how far the two sets of scores differ; and the
bundle-only BlendshapeReader in video mode: frames it finds the face in, how far its mesh lies from
the loop's, and its time per frame. The numbers
in docs/blendshapes.md come from here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from emoscope.benchmarks.video_speed import time_pipeline
from emoscope.cues import create_cues
from emoscope.cues.blendshapes import COLUMNS
from emoscope.faces.blendshapes import BLENDSHAPE_NAMES, BlendshapeNetwork, BlendshapeReader, BundleMesh, FaceRegion
from emoscope.files import write_text_atomic
from emoscope.runtime.predictor import VIDEO_MODELS, default_model, load_predictor
from emoscope.video.landmarks import FaceMeshRunner
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource


def rank_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive frame's score > a negative frame's), ties counted half (the ROC AUC)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def agreement(rows: list[dict], scores: np.ndarray, baseline: np.ndarray) -> dict:
    """How one set of per-face-frame scores (rows x 52) agrees with the blink cues and the labels."""
    shut = np.array([bool(r.get("lids_shut")) for r in rows])
    happy = np.array([r["label"] == "happy" for r in rows])
    blink_frames = np.flatnonzero([bool(r.get("blink")) for r in rows])
    column = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
    eye_blink = scores[:, [column["eyeBlinkLeft"], column["eyeBlinkRight"]]].mean(axis=1)
    found = {
        "eye_blink_mean_shut": float(eye_blink[shut].mean()),
        "eye_blink_mean_other": float(eye_blink[~shut].mean()),
        "eye_blink_auc_shut_vs_other": rank_auc(eye_blink[shut], eye_blink[~shut]),
        "blinks_with_eye_blink_over_0.5": int(sum(eye_blink[max(0, i - 8):i + 1].max() > 0.5 for i in blink_frames)),
        "spearman_ear_vs_eye_blink": spearman(np.array([r["ear"] for r in rows]), eye_blink),
    }
    for side in ("Left", "Right"):
        i = column[f"mouthSmile{side}"]
        found[f"mouthSmile{side}"] = {"happy_mean": float(scores[happy, i].mean()),
                                      "other_mean": float(scores[~happy, i].mean()),
                                      "baseline": float(baseline[i]),
                                      "auc_happy_vs_other": rank_auc(scores[happy, i], scores[~happy, i])}
    return found


def timed(call, *args) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    result = call(*args)
    return result, time.perf_counter() - wall, time.thread_time() - cpu


def analyse(video: Path, predictor) -> dict:
    """One run with the cue (the loop's mesh), the same frames through the bundle's own mesh, their costs
    per face-frame, and how each agrees with the blink cues and the expression labels."""
    options = AnalysisOptions(blendshapes=True)
    cues = create_cues(options, predictor.classes)
    cue = next(cue for cue in cues if cue.name == "blendshapes")
    in_loop: list[float] = []
    unwrapped = cue.update

    def timed_update(face):  # the cue's own time inside the loop, where it shares the CPU with the loop's threads
        result, wall, _ = timed(unwrapped, face)
        in_loop.append(wall)
        return result

    cue.update = timed_update
    analyzer = FrameAnalyzer(predictor, options, cues=cues)
    rows = []
    with VideoSource(video) as source:
        for result in analyzer.run(source):
            rows.extend(face.data | {"label": face.label, "frame": result.index}
                        for face in result.faces if COLUMNS[0] in face.data)
    analyzer.close()
    loop_scores = np.array([[r[c] for c in COLUMNS] for r in rows], np.float32)
    calm = np.array([r["blendshapes_calm"] for r in rows])

    network, bundle_mesh, mesh_runner = BlendshapeNetwork(), BundleMesh(), FaceMeshRunner(1)
    reader, reader_found, reader_distance = BlendshapeReader(video=True), 0, []
    costs: dict[str, list[tuple[float, float]]] = {"network": [], "bundle_mesh": [], "bundle_reader_video": []}
    bundle_scores, frames = {}, {r["frame"] for r in rows}
    with VideoSource(video) as source:
        for frame in source:
            found = mesh_runner(frame.image)
            read, wall, cpu = timed(reader, frame.image)
            costs["bundle_reader_video"].append((wall, cpu))
            reader_found += bool(read)
            if read and len(found):
                eyes = np.linalg.norm(found[0][263] - found[0][33])
                reader_distance.append(np.linalg.norm(read[0].landmarks - found[0], axis=1).mean() / eyes)
            if frame.index not in frames or not len(found):
                continue
            _, wall, cpu = timed(network, found[0])
            costs["network"].append((wall, cpu))
            (refined, _), wall, cpu = timed(bundle_mesh, frame.image, FaceRegion.of_mesh(found[0]))
            costs["bundle_mesh"].append((wall, cpu))
            bundle_scores[frame.index] = network(refined)
    mesh_runner.close()
    kept = [i for i, r in enumerate(rows) if r["frame"] in bundle_scores]
    rows, loop_scores, calm = [rows[i] for i in kept], loop_scores[kept], calm[kept]
    bundle = np.array([bundle_scores[r["frame"]] for r in rows])

    def baseline(scores):
        return np.median(scores[calm] if calm.any() else scores, axis=0)

    difference = np.abs(bundle - loop_scores).mean(axis=0)
    return {
        "ms_per_face_frame": {name: {"wall_median": 1000 * float(np.median([w for w, _ in c])),
                                     "thread_cpu_median": 1000 * float(np.median([u for _, u in c])),
                                     "face_frames": len(c)} for name, c in costs.items()},
        "cue_update_ms_in_loop": {"wall_median": 1000 * float(np.median(in_loop)),
                                  "wall_mean": 1000 * float(np.mean(in_loop)), "face_frames": len(in_loop)},
        "bundle_reader_video": {"frames_with_a_face": reader_found,
                                "mean_distance_to_loop_mesh_eye_distances": float(np.mean(reader_distance))},
        "face_frames": len(rows), "shut_frames": int(sum(bool(r.get("lids_shut")) for r in rows)),
        "blinks_counted": int(sum(bool(r.get("blink")) for r in rows)),
        "happy_frames": int(sum(r["label"] == "happy" for r in rows)),
        "baseline_from": "neutral frames" if calm.any() else "all frames",
        "agreement_loop_mesh": agreement(rows, loop_scores, baseline(loop_scores)),
        "agreement_bundle_mesh": agreement(rows, bundle, baseline(bundle)),
        "mean_abs_difference_bundle_vs_loop_mesh": float(difference.mean()),
        "largest_differences": {BLENDSHAPE_NAMES[i]: float(difference[i]) for i in np.argsort(-difference)[:8]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", default="samples/WolfgangLanger_Pexels.mp4", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/blendshapes.json"))
    args = parser.parse_args()
    predictor = load_predictor(default_model(VIDEO_MODELS), backend="fastest")
    variants = {"full_report": AnalysisOptions(), "full_report_blendshapes": AnalysisOptions(blendshapes=True)}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # alternating, so a busy spell on the shared CPU hits both
        for name, options in variants.items():
            cpu = time.process_time()  # all of this process's threads: less swayed by other processes than frames/s
            run = time_pipeline(args.video, predictor, options)
            runs[name].append(run | {"cpu_ms_per_frame": 1000 * (time.process_time() - cpu) / run["frames"]})
    loops = {name: {"fps_median": float(np.median([r["fps"] for r in rs])), "fps_runs": [r["fps"] for r in rs],
                    "cpu_ms_per_frame_median": float(np.median([r["cpu_ms_per_frame"] for r in rs])),
                    "cpu_ms_per_frame_runs": [round(r["cpu_ms_per_frame"], 1) for r in rs],
                    "frames": rs[0]["frames"]} for name, rs in runs.items()}
    results = {"video": str(args.video), "model": predictor.spec.name, **analyse(args.video, predictor), "loops": loops}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
