"""Train several configs at once on one lent GPU within a fixed time, and keep their fp16 bundles.

A lent GPU comes for minutes, so the number of epochs is set by the clock, without changing
what a run computes: each run first trains 2 epochs (inside its warm-up, whose learning rate does
not depend on the total), the measured epoch time decides how many epochs fit before the
deadline, and the run resumes with that total. ``emoscope train CONFIG --epochs N`` repeats it
exactly (the trainer's resume is exact). The runs share the GPU, each its own process.

    python tools/device_train.py --budget 480 --out "$OUT" \\
        --run fer-best-s0=configs/fer-best.toml:seed=0 --run fer-best-s1=configs/fer-best.toml:seed=1

Writes ``<out>/<name>.safetensors`` (fp16) for every run that produced one, and ``<out>/logs.tar.gz``
with each run's log, history and config; the last lines printed are a summary table.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

WARM_UP_EPOCHS = 2
EPOCH_MARGIN = 1.15
"""Headroom on the measured epoch time for checkpoint writes and neighbours' noise."""


@dataclass
class Run:
    name: str
    config: str
    options: list[str] = field(default_factory=list)
    epochs: int = WARM_UP_EPOCHS
    process: subprocess.Popen | None = None
    started: float = 0.0
    finished: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Run:
        name, _, rest = text.partition("=")
        config, *options = rest.split(":")
        if not name or not config:
            raise SystemExit(f"--run expects NAME=CONFIG[:key=value...], got {text!r}")
        return cls(name, config, [option for group in options for option in group.split(",") if option])


def start(run: Run, out_dir: Path, extra: list[str], resume: bool) -> None:
    command = [sys.executable, "-m", "emoscope", "train", run.config, "--name", run.name, "--out-dir",
               str(out_dir), "--epochs", str(run.epochs)]
    for option in run.options + extra:
        key, _, value = option.partition("=")
        command += ["--seed", value] if key == "seed" else ["--set", option]
    if resume:
        command.append("--resume")
    with (out_dir / f"{run.name}.log").open("a") as log:  # the child keeps its own copy of the handle
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        run.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    run.started = time.monotonic()


def wait(runs: list[Run], deadline: float) -> None:
    """Wait for every process; stop those still running at the deadline (their best bundle stays)."""
    running = [run for run in runs if run.process is not None]
    while running:
        for run in list(running):
            if run.process.poll() is not None:
                run.finished = time.monotonic()
                running.remove(run)
            elif time.monotonic() > deadline:
                run.process.terminate()
                run.process.wait()
                run.finished = time.monotonic()
                running.remove(run)
                print(f"{run.name}: stopped at the deadline", flush=True)
        time.sleep(0.2)


def history(out_dir: Path, run: Run) -> list[dict]:
    path = out_dir / run.name / "history.json"
    return json.loads(path.read_text()) if path.is_file() else []


def log_tail(out_dir: Path, run: Run, lines: int = 15) -> str:
    return "\n".join((out_dir / f"{run.name}.log").read_text().splitlines()[-lines:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=CONFIG[:key=value...]")
    parser.add_argument("--budget", type=float, required=True, help="seconds until the last run must end")
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--extra", action="append", default=[], help="key=value added to every run")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/device"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    began = time.monotonic()
    deadline = began + args.budget
    runs = [Run.parse(text) for text in args.run]
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)

    for run in runs:
        start(run, args.runs_dir, args.extra, resume=False)
    wait(runs, deadline)
    alive = []
    for run in runs:
        rows = history(args.runs_dir, run)
        if run.process.returncode != 0 or len(rows) < WARM_UP_EPOCHS:
            print(f"{run.name}: warm-up failed (exit {run.process.returncode})\n{log_tail(args.runs_dir, run)}", flush=True)
            continue
        # What a resumed process spends before its first epoch: imports, data, CUDA start-up.
        startup_overhead = run.finished - run.started - sum(row["epoch_seconds"] for row in rows)
        epoch_seconds = rows[-1]["epoch_seconds"] * EPOCH_MARGIN
        left = deadline - time.monotonic() - startup_overhead
        run.epochs = min(args.max_epochs, WARM_UP_EPOCHS + max(0, math.floor(left / epoch_seconds)))
        print(f"{run.name}: {rows[-1]['epoch_seconds']:.2f} s/epoch, start-up {startup_overhead:.0f} s "
              f"-> {run.epochs} epochs", flush=True)
        alive.append(run)
    for run in alive:
        if run.epochs > WARM_UP_EPOCHS:
            start(run, args.runs_dir, args.extra, resume=True)
        else:
            run.process = None
    wait(alive, deadline)
    collect(runs, args.runs_dir, args.out, time.monotonic() - began)


def collect(runs: list[Run], runs_dir: Path, out: Path, seconds: float) -> None:
    from emoscope.runtime.bundle import load_bundle, save_bundle

    summary = []
    for run in runs:
        bundle = runs_dir / run.name / "best.safetensors"
        rows = history(runs_dir, run)
        if not bundle.is_file():
            summary.append(f"{run.name:<16} no bundle")
            continue
        model, spec = load_bundle(bundle)
        save_bundle(model, spec, out / f"{run.name}.safetensors", half=True)
        best = max(rows, key=lambda row: row["val_accuracy"])
        summary.append(f"{run.name:<16} epochs {len(rows):>3}/{run.epochs:<3} best epoch {best['epoch']:>3} "
                       f"val acc {best['val_accuracy']:.4f} F1 {best['val_macro_f1']:.4f} "
                       f"{rows[-1]['epoch_seconds']:.2f} s/epoch")
    with tarfile.open(out / "logs.tar.gz", "w:gz") as archive:
        for run in runs:
            for path in (runs_dir / f"{run.name}.log", runs_dir / run.name / "history.json",
                         runs_dir / run.name / "config.json"):
                if path.is_file():
                    archive.add(path, arcname=f"{run.name}/{path.name}")
    print(f"\n{len(runs)} runs in {seconds:.0f} s", flush=True)
    print("\n".join(summary), flush=True)


if __name__ == "__main__":
    main()
