"""Warm start: begin training from another bundle's weights instead of random ones.

Tensors whose name and shape match are copied. The classifier is the one part whose shape
depends on the label set, so its rows are carried over *by class name*: a FER+ model started
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
    """Copy the weights of bundle ``name_or_path`` into ``model`` (trained for ``labels``) in place."""
    path = resolve_model_path(name_or_path, "torch")
    if path.suffix != ".safetensors":
        raise ModelError(f"{path}: warm start needs a .safetensors bundle")
    source_labels = read_spec(path).labels
    if len(source_labels) == len(labels) and source_labels.classes != labels.classes:
        # Same head shape, so the classifier cannot be told from other layers by shape alone.
        raise ModelError(f"{path}: predicts {', '.join(source_labels.classes)}, not {', '.join(labels.classes)}; "
                         "warm start maps classes only between label sets of different sizes")
    row_map = labels.mapping_to(source_labels)  # row i of the new head <- row row_map[i] of the old one
    source = read_tensors(path)

    state = model.state_dict()
    unfit = sorted(set(source) - set(state)) + [
        key for key in source.keys() & state.keys()
        if source[key].shape != state[key].shape
        and not _is_classifier_pair(source[key], state[key], len(source_labels), len(labels))
    ]
    if unfit:
        raise ModelError(f"{path}: tensor {unfit[0]} does not fit this model ({len(unfit)} of {len(source)} do not); "
                         "warm start needs the same architecture and size")
    mapped_head = False
    for key, tensor in source.items():
        target = state[key]
        if tensor.shape == target.shape:
            target.copy_(tensor.to(target.dtype))
        else:
            known = row_map >= 0
            target[torch.from_numpy(known)] = tensor[torch.from_numpy(row_map[known])].to(target.dtype)
            mapped_head = True
    model.load_state_dict(state)
    classes = labels.classes
    return WarmStart(
        source=path,
        copied=len(source),
        skipped=len(state) - len(source),
        mapped_classes=tuple(c for c, i in zip(classes, row_map) if i >= 0) if mapped_head else (),
        new_classes=tuple(c for c, i in zip(classes, row_map) if i < 0) if mapped_head else (),
    )


def _is_classifier_pair(source: torch.Tensor, target: torch.Tensor, source_k: int, target_k: int) -> bool:
    """Whether two tensors are the same per-class layer (weight rows or bias) for different label sets."""
    return (
        source.ndim == target.ndim
        and source.shape[0] == source_k
        and target.shape[0] == target_k
        and source.shape[1:] == target.shape[1:]
    )
