"""`emoscope replicate STUDY`: one of the five studies' protocols, its JSON result and its page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from emoscope.cli.options import check_choice, console, progress
from emoscope.errors import EmoscopeError
from emoscope.files import write_text_atomic

app = typer.Typer()
DEFAULT_PAGES = Path("docs/replication")
QUICK_PAGES = Path("runs/replication/pages")


@app.command("replicate")
def replicate_cmd(
    study: str = typer.Argument(..., help="panic | hybrid | thesis | realtime | interview | all"),
    scale: str = typer.Option("cpu", help="quick (smoke run) | cpu (this machine, a few hours in all) | standard "
                              "(the papers' networks or the widest that can level off on a CPU, trained until "
                              "validation stops improving: hours a unit on a CPU, see --speed) | full (the paper's "
                              "protocol: a GPU or a long CPU run)"),
    out: Optional[Path] = typer.Option(None, help="pages and JSON (default docs/replication; its standard/ for "
                                       "standard; runs/replication/pages for quick)"),
    work_dir: Path = typer.Option(Path("runs/replication"), help="checkpoints and per-unit results (resumable)"),
    pages_only: bool = typer.Option(False, "--pages-only", help="train nothing: refresh the claims, quotes, "
                                    "differences, pitfalls and plan in <out>/STUDY.json from the study's "
                                    "definitions and re-render its page and the summary (every measured number "
                                    "stays; an arm new to the plan is listed as not trained yet)"),
    train: bool = typer.Option(True, "--train/--no-train", help="--no-train: write the page from the units already "
                               "in --work-dir (say, trained on a lent GPU by tools/device_replicate.py) or recorded "
                               "in <out>/units; an arm without any is named as not trained yet"),
    arms: Optional[list[str]] = typer.Option(None, "--arm", help="train only this arm (repeatable; one study): the "
                                             "page still shows every arm with units in --work-dir"),
    units: Optional[int] = typer.Option(None, "--units", min=1, help="train at most this many units not trained "
                                        "yet (a fold or a hold-out run; arms and folds in order), then write the "
                                        "page: a session's share of a long arm, which the next run continues"),
    speed: bool = typer.Option(False, "--speed", help="train nothing: time each arm's training step on this "
                               "machine for a few batches and say how long an epoch, a unit and the arm would take "
                               "at most, and what is left of it (units finished in --work-dir, recorded beside the "
                               "page in <out> or shown on it; epochs in checkpoints); written to "
                               "<work-dir>/speed/STUDY-SCALE.json"),
):
    """Run a study's protocol (every arm and fold resumes where it stopped), then write its page."""
    from emoscope.replication import STUDIES
    from emoscope.replication.index import write_index
    from emoscope.replication.page import STANDARD_PAGES, unit_counts
    from emoscope.replication.protocol import SCALES
    from emoscope.replication.study import refresh_pages, run_study

    check_choice(scale, SCALES, "--scale")
    if arms and study == "all":
        raise EmoscopeError("--arm names an arm of one study: give the study, not all")
    names = list(STUDIES) if study == "all" else [check_choice(study, [*STUDIES, "all"], "study")]
    default = {"quick": QUICK_PAGES, "standard": DEFAULT_PAGES / STANDARD_PAGES}.get(scale, DEFAULT_PAGES)
    out = out or default
    if speed:
        for name in names:
            speeds_of(name, scale, work_dir, out, arms)
        return
    if pages_only:
        if study == "all":  # the studies this scale has results for
            names = [name for name in names if (out / f"{name}.json").is_file()] or names
        for name in names:
            result = refresh_pages(STUDIES[name], out)
            console.print(f"{name}: page {out / (name + '.md')} re-rendered from its {result['scale']}-scale result")
        return
    if not train and study == "all":  # the studies with units trained elsewhere
        names = [name for name in names if any((work_dir / name / scale).glob("*/*/unit.json"))]
        if not names:
            raise EmoscopeError(f"{work_dir}: no study has a unit trained at scale {scale}")
    for name in names:
        with progress() as bars:
            result = run_study(STUDIES[name], scale, out, work_dir, progress=bars, say=bars.console.print,
                               train=train, only=arms or None, new_units=units)
        learned = sum(arm["learned"] for arm in result["arms"])
        console.print(f"{name}: {learned}/{len(result['arms'])} arms learned; page {out / (name + '.md')}")
        for arm in result["arms"]:
            trained, planned = unit_counts(arm)
            if trained < planned:
                console.print(f"{name}/{arm['name']}: {trained} of {planned} units trained; `{result['command']} "
                              f"--arm {arm['name']}` trains the rest (--units N: N of them)",
                              soft_wrap=True)  # one line, to copy the command
    if out == DEFAULT_PAGES / STANDARD_PAGES:
        write_index(DEFAULT_PAGES)  # its summary links the standard pages


def speeds_of(study: str, scale: str, work_dir: Path, pages: Path, arms: list[str] | None) -> None:
    """``--speed``: the study's arms timed here, and what is left of them, as a table and as JSON."""
    from emoscope.replication import STUDIES
    from emoscope.replication.speed import plan_speed

    result = plan_speed(STUDIES[study], scale, work_dir, pages, arms or None, say=console.print)
    written = work_dir / "speed" / f"{study}-{scale}.json"
    written.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(written, json.dumps(result, indent=1))
    timed_on = {f"{arm['processor']} ({arm['precision']})" for arm in result["arms"]}
    table = Table(title=f"{study} at scale {scale}, on {result['threads']} threads of {', '.join(sorted(timed_on))}: "
                  "hours at most (early stopping may end a unit sooner)")
    for column in ("arm", "trained as", "params", "train img/s", "epoch min", "epochs", "h a unit", "units",
                   "h warm start", "h the arm", "units finished", "h left"):
        table.add_column(column)
    for arm in result["arms"]:
        warm = arm["warm_start_hours_at_most"]
        table.add_row(arm["arm"], arm["label"], f"{arm['params'] / 1e6:.2f}M", f"{arm['train_images_per_s']:.0f}",
                      f"{arm['epoch_seconds'] / 60:.1f}", str(arm["epochs_at_most"]),
                      f"{arm['unit_hours_at_most']:.1f}", str(arm["units"]), f"{warm:.1f}" if warm else "-",
                      f"{arm['arm_hours_at_most']:.1f}", str(arm["units_finished"]), f"{arm['hours_left_at_most']:.1f}")
    console.print(table)
    console.print(f"written: {written}", soft_wrap=True)
