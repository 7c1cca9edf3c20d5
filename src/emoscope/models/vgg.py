"""VGG networks (Simonyan & Zisserman 2015) adapted to small face crops."""

from __future__ import annotations

import torch
from torch import nn

from emoscope.models.blocks import (
    ClassifierHead,
    ClassifierModel,
    SequentialClassifier,
    grid_pool,
    init_weights,
    norm_layer,
    scale_cfg,
    vgg_features,
)
from emoscope.models.registry import register_model

# Configuration "E" of the VGG paper (16 conv layers), batch-normalised.
_VGG19_CFG = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
_KHAIREDDIN_CFG = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M")


class PooledVGG(ClassifierModel, nn.Sequential):
    """Convolutional features then a pooled linear head, as a Sequential so the weights keep their
    ``0.``/``1.`` keys."""

    def __init__(self, features: nn.Sequential, head: ClassifierHead):
        super().__init__(features, head)
        self.num_features = head.fc.in_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self[1].pre_logits(self[0](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1].fc(self.forward_features(x))


@register_model(classifier="9")
def vgg_khaireddin(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    drop_rate: float = 0.2,
    batch_norm: bool = True,
    hidden: int = 1024,
) -> nn.Module:
    """VGG of Khaireddin & Chen 2021 (FER2013 SOTA): 4 double-conv stages 64-512, 2x1024 FC + dropout.

    ``hidden=512`` narrows the FC layers: 6.0M instead of 7.8M parameters, so fp32 exports stay under 30 MB.
    """
    model = SequentialClassifier(
        vgg_features(_KHAIREDDIN_CFG, in_chans, norm_layer(batch_norm)),
        # The paper's 40 px crops end at 2x2 maps; other sizes are pooled to 2x2 to keep the FC size.
        grid_pool(img_size, 16, 2),
        nn.Flatten(1),
        nn.Linear(512 * 4, hidden),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(hidden, num_classes),
    )
    init_weights(model)
    return model


@register_model(classifier="1.fc")
def vgg19_bn(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    drop_rate: float = 0.5,
    batch_norm: bool = True,
    width: float = 1.0,
) -> nn.Module:
    """VGG-19 with batch norm (Simonyan & Zisserman 2015, cfg E), global-pool 512->classes head.

    ``width`` scales every conv's channels (a width-reduced VGG-19 for CPU-scale studies)."""
    cfg = scale_cfg(_VGG19_CFG, width)
    model = PooledVGG(
        vgg_features(cfg, in_chans, norm_layer(batch_norm)),
        # The 4096-wide FC layers of the ImageNet model would add ~120M params for no gain on faces.
        ClassifierHead(int(cfg[-2]), num_classes, drop_rate),
    )
    init_weights(model)
    return model
