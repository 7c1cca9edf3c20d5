"""Markdown pages written only from a study's JSON result: every number on a page is read from it."""

from __future__ import annotations

import json
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.files import write_text_atomic

HEADLINE = ("accuracy", "macro_f1", "roc_auc")
BINARY = ("pr_auc", "chosen_threshold", "chosen_recall", "chosen_precision", "chosen_f1", "default_recall",
          "default_precision", "default_mae")


def _pm(stat: dict | None, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    if stat.get("n", 1) > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def _num(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def metric_of(arm: dict, metric: str) -> dict | None:
    return arm["summary"].get(metric)


def claims_table(result: dict) -> str:
    arms = {a["name"]: a for a in result["arms"]}
    rows = []
    for claim in result["claims"]:
        arm = arms.get(claim["arm"])
        ours = _pm(metric_of(arm, claim["metric"])) if arm else "not run"
        rows.append([claim["what"], claim["paper"], claim["protocol"],
                     f"{ours} ({arm['label']}, {claim['metric']})" if arm else ours])
    return _table(["claim", "paper", "paper's protocol", f"ours ({result['scale']} scale)"], rows)


def arms_table(result: dict, group: str) -> str:
    arms = [a for a in result["arms"] if a["group"] == group]
    binary = any("chosen_recall" in a["summary"] for a in arms)
    metrics = HEADLINE + (BINARY if binary else ())
    header = ["arm", "trained here", *metrics, "chance acc / F1", "learned", "params", "MFLOPs", "CPU faces/s",
              "train s"]
    rows = []
    for a in arms:
        cost = a["cost"]
        rows.append([a["name"], a["label"], *(_pm(a["summary"].get(m)) for m in metrics),
                     f"{a['chance']['accuracy']:.3f} / {a['chance']['macro_f1']:.3f}",
                     "yes" if a["learned"] else "**no**", f"{cost['params'] / 1e6:.2f}M", f"{cost['mflops']:.1f}",
                     f"{cost['faces_per_s']:,.0f}", f"{a['train_seconds']:.0f}"])
    return _table(header, rows)


def units_table(arm: dict) -> str:
    metrics = [m for m in arm["per_unit"][0] if m not in ("unit", "best_epoch")]
    rows = [[u["unit"], str(u["best_epoch"]), *(_num(u[m]) for m in metrics)] for u in arm["per_unit"]]
    return _table(["unit", "best epoch", *metrics], rows)


def per_class_table(arm: dict) -> str:
    rows = [[c, *(_num(v[m], 3) for m in ("precision", "recall", "f1"))] for c, v in arm["per_class"].items()]
    return _table(["class", "precision", "recall (per-class accuracy)", "F1"], rows)


def paper_table(result: dict) -> str:
    trained = {a["name"]: a for a in result["arms"]}
    rows = []
    for p in result["paper_arms"]:
        here = trained.get(p["name"])
        rows.append([p["name"], f"`{p['model']}` {json.dumps(p['model_kwargs'])} at {p['img_size']} px",
                     f"{p['params'] / 1e6:.2f}M", f"{p['mflops']:.1f}",
                     f"{here['cost']['params'] / 1e6:.2f}M / {here['cost']['mflops']:.1f}" if here else "not trained"])
    return _table(["arm", "paper's network (`full` scale)", "params", "MFLOPs",
                   f"trained at {result['scale']} scale: params / MFLOPs"], rows)


def warm_start_line(arm: dict) -> str:
    warm = arm.get("warm_start")
    if not warm:
        return ""
    return (f" Warm start: {warm['n_train']:,} Training faces, {warm['epochs']} epoch(s) (best {warm['best_epoch']}), "
            f"7-expression accuracy {warm['accuracy']:.4f} on {warm['test_split']}, {warm['seconds']:.0f} s.")


def render_page(result: dict) -> str:
    """The study's page; a pure function of its JSON result (tests check the committed pages match)."""
    from emoscope.replication import STUDIES

    study = STUDIES.get(result["study"])
    parts = [
        f"# {result['title']}\n",
        f"Written by `{result['command']}` from [`{result['study']}.json`]({result['study']}.json); "
        "do not edit by hand. Source: " + result["source"] + "\n",
        "## Claim vs ours\n", claims_table(result),
        f"\n## Protocol ({result['scale']} scale)\n", result["protocol"]["description"] + ".\n",
    ]
    if result["note"]:
        parts.append("\n" + result["note"] + "\n")
    parts += ["\n## Results (test metrics, mean ± std over units)\n", arms_table(result, "main")]
    if any(a["group"] == "ablation" for a in result["arms"]):
        parts += ["\n### Ablations\n", arms_table(result, "ablation")]
    parts += [
        f"\nChance is what a model that learned nothing scores on the same test labels (the majority class's "
        f"accuracy, uniform guessing's macro-F1, ROC-AUC 0.5); an arm has learned when its ROC-AUC is at least "
        f"{result.get('learned_margin', 0.05)} above 0.5 and its macro-F1 above chance. CPU faces/s: torch, "
        f"{result['machine']['cpu_threads']} threads, batch 256.\n",
        "\n## The paper's networks and what was trained here\n", paper_table(result),
    ]
    if result.get("extra") and study is not None and study.extra_markdown is not None:
        parts += ["\n", study.extra_markdown(result["extra"])]
    parts += ["\n## Why our numbers differ\n", result["differences"] + "\n", "\n## Every unit\n"]
    for arm in result["arms"]:
        figures = arm["figures"]
        parts += [f"\n### {arm['name']}: {arm['label']}\n",
                  f"Paper: {arm['paper']}. Trained on {', '.join(map(str, arm['n_train']))} images per unit for "
                  f"{arm['epochs']} epoch(s) at {arm['train_images_per_s']:.0f} images/s.", warm_start_line(arm), "\n\n",
                  units_table(arm), "\nPer class (mean over units):\n\n", per_class_table(arm),
                  f"\n![curves]({figures['curves']}) ![confusion]({figures['confusion']})\n"]
    return "\n".join(parts)


def read_result(path: Path) -> dict:
    """A study's ``<study>.json``, as :func:`emoscope.replication.study.run_study` wrote it."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EmoscopeError(f"{path}: not a replication result ({type(exc).__name__})") from None


def render_index(out_dir: Path) -> str:
    """The summary page: one row per claim, from every ``<study>.json`` in ``out_dir``."""
    from emoscope.replication import STUDIES

    rows, needs_full = [], []
    for name in STUDIES:
        path = out_dir / f"{name}.json"
        if not path.is_file():
            rows.append([name, "not run yet", "", "", "", "", "", ""])
            continue
        result = read_result(path)
        arms = {a["name"]: a for a in result["arms"]}
        for claim in result["claims"]:
            arm = arms.get(claim["arm"])
            if arm is None:
                rows.append([f"[{result['title']}]({name}.md)", claim["what"], claim["paper"], "not run", "", "", "",
                             result["scale"]])
                continue
            rows.append([f"[{result['title']}]({name}.md)", claim["what"], claim["paper"],
                         _pm(metric_of(arm, claim["metric"])), arm["label"],
                         f"{_pm(arm['summary']['roc_auc'])} (0.5)",
                         f"{_pm(arm['summary']['macro_f1'])} ({arm['chance']['macro_f1']:.3f})",
                         result["scale"] + ("" if arm["learned"] else ", **did not learn**")])
        if result["scale"] != "full":
            needs_full.append(f"`emoscope replicate {name} --scale full`")
    text = ("# Replication of the five studies\n\nWritten by `emoscope replicate` from the studies' JSON files; "
            "each page gives the protocol, the command and why the numbers differ. ROC-AUC and macro-F1 are "
            "test means, with what a model that learned nothing scores in brackets.\n\n"
            + _table(["study", "claim", "paper", "ours", "model trained", "ROC-AUC (chance)", "macro-F1 (chance)",
                      "scale"], rows))
    if needs_full:
        text += "\nStill to run at the paper's scale (a GPU, or a long CPU run): " + ", ".join(needs_full) + ".\n"
    return text


def write_index(out_dir: Path) -> Path:
    """``README.md`` beside the studies' pages (:func:`render_index`)."""
    return write_text_atomic(out_dir / "README.md", render_index(out_dir))
