"""Warm start: begin training from another bundle's weights instead of random ones.

Tensors whose name and shape match are copied. The classifier (the layer the model registry
declares for the architecture) is the one part whose shape depends on the label set, so its rows
are carried over *by class name*: a FER+ model started
from a FER2013 model keeps the seven shared classes and learns only ``contempt`` from scratch;
a five-class model keeps five of the seven rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from emoscope.data.labels import LabelSet
from emoscope.errors import ModelError
from emoscope.runtime.bundle import read_spec, read_tensors
from emoscope.runtime.predictor import resolve_model_path


@dataclass(frozen=True)
class WarmStart:
    """What a warm start carried over, for the training log and the model card."""

    source: Path
    copied: int
    skipped: int
    mapped_classes: tuple[str, ...]
    new_classes: tuple[str, ...]

    def describe(self) -> str:
        text = f"warm start from {self.source.name}: {self.copied} tensors copied, {self.skipped} left as initialised"
        if self.mapped_classes or self.new_classes:
            text += f"; classifier rows kept for {len(self.mapped_classes)} classes"
            if self.new_classes:
                text += f", new: {', '.join(self.new_classes)}"
        return text


def warm_start(model: torch.nn.Module, name_or_path: str | Path, labels: LabelSet) -> WarmStart:
    """Copy the weights of bundle ``name_or_path`` into ``model`` (trained for ``labels``) in place.

    ``model`` comes from :func:`~emoscope.models.registry.create_model`, whose registry entry says
    which layer is the classifier.
    """
    path = resolve_model_path(name_or_path, "torch")
    if path.suffix != ".safetensors":
        raise ModelError(f"{path}: warm start needs a .safetensors bundle")
    source_labels = read_spec(path).labels
    rows = torch.from_numpy(labels.mapping_to(source_labels))  # row i of the new head <- row rows[i] of the old
    classifier = model.default_cfg.classifier  # None for an ensemble, which has no head of its own
    head_keys = set() if classifier is None else {
        f"{classifier}.{name}" for name, _ in model.get_submodule(classifier).named_parameters()}
    source = read_tensors(path)
    state = model.state_dict()

    def fits(key: str) -> bool:
        old, new = source[key], state[key]
        if key in head_keys:  # one row per class
            return old.shape[1:] == new.shape[1:] and len(old) == len(source_labels) and len(new) == len(labels)
        return old.shape == new.shape

    unfit = sorted(set(source) - set(state)) + [key for key in source.keys() & state.keys() if not fits(key)]
    if unfit:
        raise ModelError(f"{path}: tensor {unfit[0]} does not fit this model ({len(unfit)} of {len(source)} do not); "
                         "warm start needs the same architecture and size")
    known = rows >= 0
    for key, tensor in source.items():
        target = state[key]
        if key in head_keys:
            target[known] = tensor[rows[known]].to(target.dtype)
        else:
            target.copy_(tensor.to(target.dtype))
    model.load_state_dict(state)
    classes = labels.classes
    relabelled = source_labels.classes != classes
    return WarmStart(
        source=path,
        copied=len(source),
        skipped=len(state) - len(source),
        mapped_classes=tuple(c for c, i in zip(classes, rows.tolist()) if i >= 0) if relabelled else (),
        new_classes=tuple(c for c, i in zip(classes, rows.tolist()) if i < 0) if relabelled else (),
    )
