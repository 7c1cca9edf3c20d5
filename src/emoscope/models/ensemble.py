"""An ensemble as one network: its output is the log of its members' mean probabilities.

Because softmax of that output *is* the mean of the members' softmax, an ensemble is an ordinary
model everywhere else: one bundle, one ONNX graph, test-time augmentation, cards and benchmarks.
Build one from trained bundles with :func:`emoscope.runtime.ensemble.build_ensemble`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emoscope.models.registry import create_model, register_model

DEFAULT_MEMBERS = (("fer_fast_net", {}), ("fer_fast_net", {"width": 2.0}))


class Ensemble(nn.Module):
    """No classifier of its own: its features are the members' side by side."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.num_features = sum(member.num_features for member in members)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([member.forward_features(x) for member in self.members], 1)

    def reset_classifier(self, num_classes: int) -> None:
        for member in self.members:
            member.reset_classifier(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(member(x), dim=1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


@register_model(classifier=None)
def ensemble(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, members=DEFAULT_MEMBERS,
             **kwargs) -> nn.Module:
    """Mean probability of member networks ([[architecture, options], ...]); built from trained bundles."""
    return Ensemble([
        create_model(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **{**options, **kwargs})
        for name, options in members
    ])
