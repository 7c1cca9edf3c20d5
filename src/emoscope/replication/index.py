"""The summary page of a scale's replications: one row per claim, read from every study's JSON result."""

from __future__ import annotations

import json
from pathlib import Path

from emoscope.errors import EmoscopeError
from emoscope.files import write_text_atomic
from emoscope.replication.page import (LEVELLED_CELL, PATIENCE, STANDARD_PAGES, claim_arm, claim_verdict, convergence,
                                       markdown_table, metric_of, plus_minus)


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
            rows.append([name, "not run yet", "", "", "", "", "", "", "", ""])
            continue
        result = read_result(path)
        arms = {a["name"]: a for a in result["arms"]}
        for claim in result["claims"]:
            arm = claim_arm(claim, arms)
            if arm is None:
                rows.append([f"[{result['title']}]({name}.md)", claim["what"], claim["paper"], "not run", "", "", "",
                             "", result["scale"], claim_verdict(claim, arm, result)])
                continue
            rows.append([f"[{result['title']}]({name}.md)", claim["what"], claim["paper"],
                         plus_minus(metric_of(arm, claim["metric"])), arm["label"],
                         f"{plus_minus(arm['summary']['roc_auc'])} (0.5)",
                         f"{plus_minus(arm['summary']['macro_f1'])} ({arm['chance']['macro_f1']:.3f})",
                         LEVELLED_CELL[convergence(arm)["status"]],
                         result["scale"] + ("" if arm["learned"] else ", **did not learn**"),
                         claim_verdict(claim, arm, result)])
        if result["scale"] != "full":
            needs_full.append(f"`emoscope replicate {name} --scale full`")
    text = ("# Replication of the five studies\n\nWritten by `emoscope replicate` from the studies' JSON files; "
            "each page quotes the paper, gives the protocol, the command, why the numbers differ and how the "
            "paper's number could arise. ROC-AUC and macro-F1 are test means, with what a model that learned "
            f"nothing scores in brackets. Levelled off: in most units the best validation epoch came at least "
            f"{PATIENCE} epochs before the last; no claim gets a verdict from an arm that had not.\n\n"
            + markdown_table(["study", "claim", "paper", "ours", "model trained", "ROC-AUC (chance)",
                              "macro-F1 (chance)", "levelled off", "scale", "what this run can say"], rows))
    if needs_full:
        text += "\nStill to run at the paper's scale (a GPU, or a long CPU run): " + ", ".join(needs_full) + ".\n"
    if (out_dir / STANDARD_PAGES / "README.md").is_file():
        text += (f"\nThe papers' networks trained until validation stopped improving (at full width, or the widest "
                 f"that levels off on this CPU where a page says so): [`{STANDARD_PAGES}/`]"
                 f"({STANDARD_PAGES}/README.md).\n")
    return text


def write_index(out_dir: Path) -> Path:
    """``README.md`` beside the studies' pages (:func:`render_index`)."""
    return write_text_atomic(out_dir / "README.md", render_index(out_dir))
