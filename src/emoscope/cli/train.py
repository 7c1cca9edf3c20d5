"""`emoscope train` and `emoscope pack`: fitting models, and squeezing datasets for a remote trainer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from emoscope.cli.options import ARCHITECTURE_HELP, command_line, console, merge, parse_key_values, progress
from emoscope.errors import EmoscopeError

app = typer.Typer()


@app.command("train")
def train_cmd(
    config: Optional[Path] = typer.Argument(None, help="config file (.json/.toml/.yaml); flags override it"),
    name: Optional[str] = typer.Option(None, help="run name; outputs go to <out-dir>/<name>"),
    model: Optional[str] = typer.Option(None, help=ARCHITECTURE_HELP),
    dataset: Optional[str] = typer.Option(None, help="fer2013 | ferplus | sign_mnist | CSV path | .emopack | image folder"),
    label_set: Optional[str] = typer.Option(None, help="fer2013 | ferplus | fer5 | panic | auto"),
    epochs: Optional[int] = typer.Option(None),
    batch_size: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None),
    optimizer: Optional[str] = typer.Option(None, help="sgd | adam | adamw | radam"),
    scheduler: Optional[str] = typer.Option(None, help="cosine | onecycle | plateau | none"),
    limit: Optional[int] = typer.Option(None, help="stratified subset of N training images"),
    val_limit: Optional[int] = typer.Option(None, help="stratified subset of N validation images"),
    img_size: Optional[int] = typer.Option(None),
    precision: Optional[str] = typer.Option(None, help="auto | fp32 | bf16"),
    seed: Optional[int] = typer.Option(None),
    drop_rate: Optional[float] = typer.Option(None, min=0, max=1, help="dropout before the classifier (ablation)"),
    no_batch_norm: bool = typer.Option(False, "--no-batch-norm", help="replace batch norm by identity (ablation)"),
    out_dir: Optional[str] = typer.Option(None),
    init_from: Optional[str] = typer.Option(None, help="start from a shipped model or .safetensors bundle "
                                            "(same architecture), e.g. fer-best"),
    groups_file: Optional[str] = typer.Option(None, "--groups-train", help="CSV of image id,group (user-supplied "
                                              "metadata); with --group, train and validate on one group"),
    group: Optional[str] = typer.Option(None, help="the group of --groups-train to fine-tune on"),
    folds: int = typer.Option(0, min=0, help="stratified k-fold cross-validation over the training split"),
    resume: bool = typer.Option(False, help="continue the run in <out-dir>/<name> from its last checkpoint"),
    set_: list[str] = typer.Option([], "--set", help="any option as key=value, e.g. augment.mixup=0.2"),
    ddp: int = typer.Option(0, min=0, help="train as N DistributedDataParallel processes on this machine "
                            "(gloo on CPU, NCCL on GPUs; the global batch stays --batch-size); torchrun "
                            "--nproc-per-node N -m emoscope train ... does the same"),
):
    """Train any registered model on any dataset; checkpoints every epoch, resumable."""
    from emoscope.training.config import TrainConfig

    flags = {"name": name, "model": model, "dataset": dataset, "label_set": label_set, "epochs": epochs,
             "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "scheduler": scheduler, "limit": limit,
             "val_limit": val_limit, "img_size": img_size, "precision": precision, "seed": seed, "out_dir": out_dir,
             "init_from": init_from, "groups_file": groups_file, "group": group}
    overrides = {k: v for k, v in flags.items() if v is not None}
    model_kwargs = {k: v for k, v in (("drop_rate", drop_rate), ("batch_norm", False if no_batch_norm else None))
                    if v is not None}
    if model_kwargs:
        overrides["model_kwargs"] = model_kwargs
    overrides = merge(overrides, parse_key_values(set_, "--set", typed=True))
    base = TrainConfig.from_file(config).model_dump() if config is not None else {}
    cfg = TrainConfig.model_validate(merge(base, overrides))  # a bad flag is reported by main(), by name
    # torch is imported only now: a refused flag is reported without the second it takes
    from emoscope.training.distributed import World, launch, run_distributed, without_ddp_option
    from emoscope.training.run import run_training

    world = World.from_env()  # set by torchrun, or by the --ddp launcher for each of its processes
    if (ddp > 1 or world is not None) and folds:
        raise EmoscopeError("distributed training runs one train/val run; k-fold (--folds) is not distributed")
    if ddp > 1:
        if world is not None:
            raise EmoscopeError("--ddp starts its own processes; under torchrun, leave it out")
        if cfg.batch_size % ddp:
            raise EmoscopeError(f"--batch-size {cfg.batch_size} does not split over --ddp {ddp} processes")
        raise typer.Exit(launch(ddp, without_ddp_option(sys.argv[1:])))
    with progress() as bars:
        if world is not None:
            run_distributed(cfg, world, resume=resume, command=command_line(), progress=bars, say=console.print)
        else:
            run_training(cfg, folds=folds, resume=resume, command=command_line(), progress=bars, say=console.print)


@app.command("pack")
def pack_cmd(
    dataset: str = typer.Argument(..., help="fer2013 | ferplus | sign_mnist | CSV path | image folder"),
    out: Path = typer.Option(..., help="the pack file to write (*.emopack)"),
    split: list[str] = typer.Option(["train", "val"], help="splits to include (repeatable); never pack test for training"),
    bits: int = typer.Option(8, min=1, max=8,
                             help="8 = lossless; 7 rounds each pixel to 128 levels for a ~17% smaller file"),
    teacher: Optional[str] = typer.Option(None, help="add a trained model's probabilities as soft labels (distillation)"),
    teacher_weight: float = typer.Option(0.5, min=0, max=1,
                                         help="share of the teacher in the soft labels; the rest is the labels"),
):
    """Squeeze dataset splits into one small file that `train --dataset PACK` reads (e.g. for a remote GPU)."""
    from emoscope.data import PACK_SUFFIX, load_dataset, write_pack

    if not out.name.endswith(PACK_SUFFIX):
        raise EmoscopeError(f"{out}: a pack's name must end in {PACK_SUFFIX}")
    splits = {name: load_dataset(dataset, split=name) for name in split}
    if teacher is not None:
        import emoscope
        from emoscope.training.distill import with_teacher_labels

        model = emoscope.load(teacher)
        splits = {name: with_teacher_labels(images, model, teacher_weight) for name, images in splits.items()}
    write_pack(splits, out, bits=bits)
    sizes = ", ".join(f"{name} {len(images)}" for name, images in splits.items())
    raw = sum(images.images.nbytes for images in splits.values())
    console.print(f"{out}: {sizes} images, {out.stat().st_size / 1e6:.1f} MB ({out.stat().st_size / raw:.0%} of raw pixels)")
