"""Build an ensemble bundle from trained bundles (see :mod:`emoscope.models.ensemble`)."""

from __future__ import annotations

from pathlib import Path

from emoscope.errors import ModelError
from emoscope.runtime.bundle import load_bundle
from emoscope.runtime.predictor import resolve_model_path

SHARED_INPUT = ("label_set", "classes", "in_chans", "img_size", "mean", "std")
"""What every member must agree on: one preprocessing feeds them all and their outputs are averaged."""


def build_ensemble(members: list[str | Path], name: str, command: str = "", chosen_on: str | None = None):
    """``(model, spec)`` of an ensemble of shipped names or bundle paths; no training involved.
    ``chosen_on``: the split the members were chosen on, which is then the ensemble's selection split."""
    from emoscope.models.registry import create_model

    if len(members) < 2:
        raise ModelError("an ensemble needs at least two members")
    loaded = [load_bundle(resolve_model_path(member, "torch")) for member in members]
    first = loaded[0][1]
    for _, spec in loaded[1:]:
        differs = [key for key in SHARED_INPUT if getattr(spec, key) != getattr(first, key)]
        if differs:
            raise ModelError(f"{spec.name} and {first.name} differ in {', '.join(differs)}; "
                             "ensemble members must share labels and input")
    layout = [[spec.architecture, spec.arch_kwargs] for _, spec in loaded]
    model = create_model("ensemble", num_classes=first.num_classes, in_chans=first.in_chans,
                         img_size=first.img_size, members=layout)
    for slot, (member, _) in zip(model.members, loaded):
        slot.load_state_dict(member.state_dict())
    splits = sorted({s.metrics.get("split", "?") for _, s in loaded})
    metrics = {"members": ", ".join(s.name for _, s in loaded),
               "selection": "none: the mean of its members' probabilities, each selected on its own "
                            f"validation split ({', '.join(splits)})"}
    if chosen_on:
        metrics["selection"] += f"; the members were chosen on {chosen_on}"
        metrics["split"] = chosen_on
    elif len(splits) == 1 and splits[0] != "?":
        metrics["split"] = splits[0]  # the members' shared selection split is the ensemble's
    datasets = list(dict.fromkeys(s.dataset for _, s in loaded))  # in member order, each once
    spec = first.model_copy(update={
        "name": name, "architecture": "ensemble", "arch_kwargs": {"members": layout}, "command": command,
        "metrics": metrics, "dataset": "; ".join(datasets)})
    return model.eval(), spec
