"""The blendshapes cue's cost and its agreement with the blink cues and the expression labels on a clip.

    .venv/bin/python tools/bench_blendshapes.py [samples/WolfgangLanger_Pexels.mp4] [--repeats 3]

Writes runs/bench/blendshapes.json: the blendshape network's time per face-frame (median wall and thread
CPU time over the clip's meshes), the full loop's frames/s with and without the cue (median of the
repeats, runs alternating), and on the run with the cue: eyeBlinkLeft/Right in the frames the blink
cues mark shut (``lids_shut``) against the others, and mouthSmileLeft/Right in the frames labelled
happy against the others and against the person's baseline. The numbers in docs/blendshapes.md come
from here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from emoscope.apps.bench import time_pipeline
from emoscope.cues.blendshapes import COLUMNS, BlendshapesModel
from emoscope.faces.blendshapes import BlendshapeNetwork
from emoscope.files import write_text_atomic
from emoscope.runtime.predictor import VIDEO_MODELS, default_model, load_predictor
from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource


def rank_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive frame's score > a negative frame's), ties counted half (the ROC AUC)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def analyse(video: Path, predictor) -> dict:
    """One run with the cue: its per-face-frame network cost and how its scores agree with the other cues."""
    analyzer = FrameAnalyzer(predictor, AnalysisOptions(blendshapes=True))
    rows = []
    with VideoSource(video) as source:
        for result in analyzer.run(source):
            for face in result.faces:
                if COLUMNS[0] in face.data:
                    rows.append(face.data | {"label": face.label, "time": result.time})
    report_cue = next(cue for cue in analyzer.cues if cue.name == "blendshapes")
    summary = report_cue.summarizer()
    for row in rows:
        summary.add(row["time"], row)
    section = BlendshapesModel.model_validate(summary.section(1.0))
    analyzer.close()

    network = BlendshapeNetwork()
    meshes = list(_meshes(video))
    wall, cpu = [], []
    for mesh in meshes:
        w, c = time.perf_counter(), time.thread_time()
        network(mesh)
        wall.append(time.perf_counter() - w)
        cpu.append(time.thread_time() - c)

    shut = np.array([bool(r.get("lids_shut")) for r in rows])
    happy = np.array([r["label"] == "happy" for r in rows])
    blink_frames = np.flatnonzero([bool(r.get("blink")) for r in rows])
    eye_blink = np.array([(r["bs_eyeBlinkLeft"] + r["bs_eyeBlinkRight"]) / 2 for r in rows])
    ear = np.array([r["ear"] for r in rows])
    agreement = {
        "face_frames": len(rows),
        "shut_frames": int(shut.sum()),
        "blinks_counted": len(blink_frames),
        "eye_blink_mean_shut": float(eye_blink[shut].mean()),
        "eye_blink_mean_other": float(eye_blink[~shut].mean()),
        "eye_blink_auc_shut_vs_other": rank_auc(eye_blink[shut], eye_blink[~shut]),
        "blinks_with_eye_blink_over_0.5": int(sum(eye_blink[max(0, i - 8):i + 1].max() > 0.5 for i in blink_frames)),
        "spearman_ear_vs_eye_blink": spearman(ear, eye_blink),
        "happy_frames": int(happy.sum()),
        "baseline_from": section.baseline_from,
    }
    for side in ("Left", "Right"):
        smile = np.array([r[f"bs_mouthSmile{side}"] for r in rows])
        agreement[f"mouthSmile{side}"] = {"happy_mean": float(smile[happy].mean()),
                                          "other_mean": float(smile[~happy].mean()),
                                          "baseline": section.blendshapes[f"mouthSmile{side}"].baseline}
    return {"network_ms_per_face_frame": {"wall_median": 1000 * float(np.median(wall)),
                                          "thread_cpu_median": 1000 * float(np.median(cpu)),
                                          "face_frames": len(meshes)},
            "agreement": agreement}


def _meshes(video: Path):
    from emoscope.video.landmarks import FaceMeshRunner

    mesh = FaceMeshRunner(1)
    with VideoSource(video) as source:
        for frame in source:
            found = mesh(frame.image)
            if len(found):
                yield found[0]
    mesh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", default="samples/WolfgangLanger_Pexels.mp4", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/blendshapes.json"))
    args = parser.parse_args()
    predictor = load_predictor(default_model(VIDEO_MODELS), backend="fastest")
    runs: dict[str, list[dict]] = {"full_report": [], "full_report_blendshapes": []}
    for _ in range(args.repeats):  # alternating, so a busy spell on the shared CPU hits both
        runs["full_report"].append(time_pipeline(args.video, predictor, AnalysisOptions()))
        runs["full_report_blendshapes"].append(time_pipeline(args.video, predictor, AnalysisOptions(blendshapes=True)))
    loops = {name: {"fps_median": float(np.median([r["fps"] for r in rs])), "fps_runs": [r["fps"] for r in rs],
                    "frames": rs[0]["frames"]} for name, rs in runs.items()}
    results = {"video": str(args.video), "model": predictor.spec.name, **analyse(args.video, predictor), "loops": loops}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
