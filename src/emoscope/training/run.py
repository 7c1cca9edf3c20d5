"""One training run from a config: a plain train/val run (with curves and a confusion matrix) or a
k-fold cross-validation; what `emoscope train` does, callable without the CLI."""

from __future__ import annotations

from collections.abc import Callable

from emoscope.training.config import TrainConfig


def _quiet(line: str) -> None:
    pass


def run_training(cfg: TrainConfig, folds: int = 0, resume: bool = False, command: str = "", progress=None,
                 say: Callable[[str], None] = _quiet, trainer_type=None):
    """Train ``cfg`` (or cross-validate it over ``folds``), reporting each step's outcome through ``say``.

    ``progress`` is a rich ``Progress`` (or None) the trainer draws its bars on; ``command`` is
    recorded in the run's files; ``trainer_type`` makes the trainer (default
    :class:`~emoscope.training.trainer.Trainer`; DDP passes its own). Returns the trainer's result, or
    the k-fold report.
    """
    from emoscope.evaluation.plots import plot_confusion, plot_curves
    from emoscope.models.registry import get_entry
    from emoscope.training.datamodule import DataModule
    from emoscope.training.kfold import run_kfold
    from emoscope.training.trainer import Trainer

    get_entry(cfg.model)  # an unknown architecture fails now, not after the data has loaded
    data = DataModule(cfg)
    if folds:
        report = run_kfold(cfg, data.train(), folds, command=command, progress=progress)
        say((cfg.run_dir / "folds.md").read_text())
        say(f"k-fold tables: {cfg.run_dir / 'folds.csv'}, {cfg.run_dir / 'folds.json'}")
        return report
    train, val = data.train(), data.val()
    say(f"training {cfg.model} on {len(train)} images of {train.source}, validating on {len(val)} "
        f"({cfg.val_split}); classes: {', '.join(train.label_set.classes)}")
    trainer = (trainer_type or Trainer)(cfg, train, val, command=command, progress=progress)
    say(f"device {trainer.device}, precision {trainer.precision}, "
        f"{trainer.steps_per_epoch} steps/epoch")
    if trainer.warm_start is not None:
        say(trainer.warm_start.describe())
    result = trainer.fit(resume=resume)
    if not result.history:
        say("nothing to do: the run already reached its last epoch")
        return result
    if not trainer.writes_files:
        return result
    plot_curves(result.history, result.run_dir / "curves.png", title=f"{cfg.model} on {train.source}")
    m = result.best_metrics
    plot_confusion(m["confusion_matrix"], list(m["per_class"]), result.run_dir / "confusion_val.png",
                   title=f"{cfg.model}, {m['split']} (epoch {m['epoch']})")
    say(f"best epoch {result.best_epoch}: val accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}; "
        f"median {result.train_images_per_s:.0f} train img/s")
    say(f"model bundle: {result.best_bundle}")
    return result
