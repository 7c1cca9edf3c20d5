"""Train replication arms at one scale on a lent GPU within a fixed time, and bring back what pages need.

Only the repository travels to a lent GPU, so FER2013 comes as a pack of all three splits
(``emoscope pack fer2013 --split train --split val --split test --bits 7``), written back into
FER2013's CSV form in a scratch data folder; the studies then load it as on this machine. Each arm
trains in its own process (its warm start, then its units in order, exactly as
``emoscope replicate STUDY --scale SCALE`` would, each unit resumable); arms still running at the
deadline are stopped, and their finished units are kept.

    python tools/device_replicate.py --pack .pack/fer2013-all7.emopack --budget 480 --out "$OUT" \\
        --arm thesis:resnet34 --arm panic:cnn

Writes ``<out>/replication.tar.gz``: every finished unit's ``unit.json``, ``history.json``, ``config.json``
and test probabilities, and the first unit's bundle of each ``--keep-bundle`` arm (a study's extra
measurements read it: the thesis's baseline), under their paths in the work folder. Unpack it at the repository root here and run
``emoscope replicate STUDY --scale SCALE --no-train`` to write the pages.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_train import wait  # noqa: E402  (a sibling script, not a package)

USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
"""FER2013's own names of the splits, in the order its CSV holds them (the rows the loaders number)."""


@dataclass
class ArmRun:
    study: str
    arm: str
    process: subprocess.Popen | None = None
    finished: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.study}-{self.arm}"


def fer2013_from_pack(pack: Path, data_dir: Path) -> Path:
    """``<data_dir>/fer2013/fer2013.csv`` holding the pack's three splits in FER2013's row order."""
    from emoscope.data import load_dataset

    path = data_dir / "fer2013" / "fer2013.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write("emotion,pixels,Usage\n")
        for split, usage in USAGE.items():
            images = load_dataset(str(pack), split=split)
            for label, pixels in zip(images.labels, images.images.reshape(len(images), -1), strict=True):
                out.write(f"{label},{' '.join(map(str, pixels.tolist()))},{usage}\n")
    return path


def train_one(study_name: str, arm_name: str, scale: str, work_dir: Path) -> None:
    """The child's work: one arm's warm start and units, as ``emoscope replicate`` trains them."""
    from emoscope.replication import STUDIES
    from emoscope.replication.protocol import splits_of
    from emoscope.replication.study import train_arm

    study = STUDIES[study_name]
    plan = study.plan(scale)
    arm = next(a for a in plan.arms if a.name == arm_name)
    train_arm(study, scale, arm, splits_of(plan.protocol), work_dir, say=lambda text: print(text, flush=True))


def collect(runs: list[ArmRun], scale: str, work_dir: Path, logs: Path, out: Path, keep_bundles: list[str]) -> None:
    """The tarball of finished units (and small first bundles), and a summary of each arm."""
    import json

    with tarfile.open(out / "replication.tar.gz", "w:gz") as archive:
        for run in runs:
            arm_dir = work_dir / run.study / scale / run.arm
            units = sorted(arm_dir.glob("*/unit.json"))
            for unit in units:
                for name in ("unit.json", "history.json", "config.json", "test_proba.npy"):
                    if (unit.parent / name).is_file():
                        archive.add(unit.parent / name)
            first = [u for u in units if u.parent.name in ("holdout", "fold1")]
            if f"{run.study}:{run.arm}" in keep_bundles and first:
                archive.add(first[0].parent / "best.safetensors")
            archive.add(logs / f"{run.name}.log", arcname=f"logs/{run.name}.log")
            results = [json.loads(u.read_text()) for u in units if u.parent.name != "pretrain"]
            done = ", ".join(f"{r['unit']} {r['test']['accuracy']:.3f} (best {r['best_epoch']}/{len(r['history'])})"
                             for r in results)
            print(f"{run.name:<28} exit {run.process.returncode}: {len(results)} unit(s) {done}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", default=[], help="STUDY:ARM (repeatable)")
    parser.add_argument("--scale", default="standard")
    parser.add_argument("--budget", type=float, help="seconds until the last arm must stop")
    parser.add_argument("--pack", type=Path, help="FER2013's three splits as one pack")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/replication"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep-bundle", action="append", default=[], help="STUDY:ARM whose first bundle comes back")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        study, arm = args.child.split(":")
        train_one(study, arm, args.scale, args.work_dir)
        return
    began = time.monotonic()
    data_dir = Path("/tmp/emoscope-data")
    fer2013_from_pack(args.pack, data_dir)
    os.environ["EMOSCOPE_DATA"] = str(data_dir)
    from emoscope.data import load_dataset

    load_dataset("fer2013")  # parsed and cached once here, not by every arm at once
    print(f"FER2013 written from {args.pack} in {time.monotonic() - began:.0f} s", flush=True)
    logs = args.work_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [ArmRun(*text.split(":")) for text in args.arm]
    for run in runs:
        with (logs / f"{run.name}.log").open("w") as log:
            run.process = subprocess.Popen(
                [sys.executable, __file__, "--child", f"{run.study}:{run.arm}", "--scale", args.scale,
                 "--work-dir", str(args.work_dir)], stdout=log, stderr=subprocess.STDOUT, env=env)
    wait(runs, began + args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    collect(runs, args.scale, args.work_dir, logs, args.out, args.keep_bundle)
    size = (args.out / "replication.tar.gz").stat().st_size
    print(f"{len(runs)} arms in {time.monotonic() - began:.0f} s; replication.tar.gz {size / 2**20:.1f} MiB",
          flush=True)


if __name__ == "__main__":
    main()
