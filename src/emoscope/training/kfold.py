"""Stratified k-fold cross-validation over the training split, with mean ± std tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.data.splits import stratified_kfold
from emoscope.training.config import TrainConfig
from emoscope.training.trainer import Trainer

FOLD_METRICS = ("accuracy", "macro_recall", "macro_f1", "roc_auc_macro_ovr", "mae")


def summarise_folds(rows: list[dict], metrics=FOLD_METRICS) -> dict:
    """Mean and sample standard deviation of each metric over the folds."""
    summary = {}
    for name in metrics:
        values = np.array([row[name] for row in rows], dtype=np.float64)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return summary


def folds_markdown(rows: list[dict], summary: dict, metrics=FOLD_METRICS) -> str:
    lines = ["| fold | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for row in rows:
        lines.append(f"| {row['fold']} | " + " | ".join(f"{row[m]:.4f}" for m in metrics) + " |")
    lines.append("| mean ± std | " + " | ".join(f"{summary[m]['mean']:.4f} ± {summary[m]['std']:.4f}" for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def run_kfold(config: TrainConfig, pool: ImageSet, folds: int, command: str = "", progress=None,
              metrics: tuple[str, ...] = FOLD_METRICS) -> dict:
    """Train one model per fold (validation = the held-out fold) and write per-fold and summary tables."""
    import pandas as pd

    rows = []
    for fold, (train_idx, val_idx) in enumerate(stratified_kfold(pool.labels, folds, seed=config.seed), start=1):
        fold_config = config.model_copy(update={"name": f"{config.name}/fold{fold}"})
        trainer = Trainer(fold_config, pool.subset(train_idx), pool.subset(val_idx), command=command, progress=progress)
        result = trainer.fit()
        rows.append({"fold": fold, "best_epoch": result.best_epoch, "n_val": len(val_idx),
                     **{m: result.best_metrics[m] for m in metrics}})
        if progress is not None:
            progress.console.print(f"fold {fold}/{folds}: " + ", ".join(f"{m} {rows[-1][m]:.4f}" for m in metrics))
    summary = summarise_folds(rows, metrics)
    out = Path(config.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "folds.csv", index=False)
    (out / "folds.md").write_text(folds_markdown(rows, summary, metrics))
    report = {"folds": rows, "summary": summary, "k": folds, "pool": pool.source, "n": len(pool), "seed": config.seed}
    (out / "folds.json").write_text(json.dumps(report, indent=1))
    return report
