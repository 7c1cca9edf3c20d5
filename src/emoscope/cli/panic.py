"""`emoscope panic cv | summary | threshold`: the panic study's protocol and its operating points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import ARCHITECTURE_HELP, command_line, console, progress

app = typer.Typer(help="Panic detection: k-fold protocol and operating points.", no_args_is_help=True)


@app.command("cv")
def panic_cv_cmd(
    model: str = typer.Option("mobilenetv2", help=ARCHITECTURE_HELP),
    folds: int = typer.Option(10, min=2, help="stratified folds over FER2013 Training"),
    limit: Optional[int] = typer.Option(4000, help="images in the k-fold pool (reduced scale on CPU)"),
    epochs: int = typer.Option(3, help="epochs per fold"),
    val_limit: Optional[int] = typer.Option(1000, help="PublicTest images that select the final model's epoch"),
    full: bool = typer.Option(False, help="the full protocol: the whole Training split, 30 epochs per fold, "
                              "all of PublicTest"),
    panic_classes: list[str] = typer.Option(["fear"], "--panic-class", help="expressions that count as panic"),
    target_recall: float = typer.Option(0.9, min=0, max=1, help="recall the operating point must reach on validation"),
    out_dir: str = typer.Option("runs/panic"),
    lr: float = typer.Option(0.01),
    threads: int = typer.Option(0, help="torch CPU threads (0 = all cores)"),
):
    """k-fold of a binary panic model, then a final model: threshold on PublicTest, result on PrivateTest."""
    from emoscope.jobs.panic import operating_point_markdown, panic_config, run_panic_cv

    if full:
        limit, epochs, val_limit = None, 30, None
    cfg = panic_config(model=model, panic_classes=panic_classes, epochs=epochs, limit=limit, val_limit=val_limit,
                       lr=lr, out_dir=out_dir, threads=threads)
    with progress() as bars:
        point = run_panic_cv(cfg, folds, target_recall, command=command_line(), progress=bars)
    console.print((cfg.run_dir / "folds.md").read_text())
    console.print(operating_point_markdown([point]), soft_wrap=True)
    console.print(f"tables: {cfg.run_dir / 'folds.md'}, {cfg.run_dir / 'operating_point.json'}")


@app.command("summary")
def panic_summary_cmd(
    runs: list[Path] = typer.Argument(..., help="run folders of `emoscope panic cv` (e.g. runs/panic/panic-*)"),
    point: list[Path] = typer.Option([], help="more operating points from `emoscope panic threshold --out`"),
    out: Optional[Path] = typer.Option(None, help="write the Markdown here (default: print it)"),
):
    """One Markdown page of the panic study's results: fold means ± std, operating points, every fold."""
    from emoscope.jobs.panic import summary_markdown

    text = summary_markdown(runs, point)
    if out is None:
        console.print(text, soft_wrap=True, markup=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"written: {out}")


@app.command("threshold")
def panic_threshold_cmd(
    model: str = typer.Argument(..., help="a binary panic model or an expression model (name or path)"),
    target_recall: float = typer.Option(0.9, min=0, max=1,
                                        help="recall the threshold must reach on validation (PublicTest)"),
    panic_classes: list[str] = typer.Option(["fear"], "--panic-class", help="expressions that count as panic"),
    out: Optional[Path] = typer.Option(None, help="write the operating point as JSON"),
):
    """Choose the panic threshold on PublicTest for a target recall; report PrivateTest at it."""
    import emoscope
    from emoscope.jobs.panic import fer2013_operating_point, operating_point_markdown

    point = fer2013_operating_point(emoscope.load(model), target_recall, panic_classes)
    console.print(operating_point_markdown([point]), soft_wrap=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(point, indent=1))
