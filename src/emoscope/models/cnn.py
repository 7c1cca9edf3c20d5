"""Compact CNNs: the thesis baseline, the 5-conv real-time CNN, and emoscope's own fast video net."""

from __future__ import annotations

import torch
from torch import nn

from emoscope.models.blocks import (
    ClassifierHead,
    ClassifierModel,
    ConvBNAct,
    InvertedResidual,
    SequentialClassifier,
    grid_pool,
    init_weights,
    is_small_input,
    norm_layer,
    resnet_stem,
    vgg_features,
)
from emoscope.models.registry import register_model
from emoscope.models.resnet import BasicBlock


class BaselineCNN(ClassifierModel):
    """Stem conv, three stride-2 residual stages of two 3x3 convs each, pooled linear head."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.3,
        batch_norm: bool = True,
        widths: tuple[int, int, int] = (64, 128, 320),
    ):
        super().__init__()
        norm = norm_layer(batch_norm)
        self.stem = resnet_stem(in_chans, widths[0], img_size, norm)
        stages, ch = [], widths[0]
        for width in widths:
            stages.append(BasicBlock(ch, width, 2, norm))
            ch = width
        self.stages = nn.Sequential(*stages)
        self.num_features = ch
        self.head = ClassifierHead(ch, num_classes, drop_rate)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.fc(self.forward_features(x))


@register_model(classifier="head.fc")
def baseline_cnn(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """Thesis baseline: residual CNN, 3 stages (64-128-320) with projection shortcuts, ~1.7M params."""
    return BaselineCNN(num_classes, in_chans, img_size, **kwargs)


@register_model(classifier="9")
def simple_cnn5(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    drop_rate: float = 0.5,
    batch_norm: bool = True,
) -> nn.Module:
    """Real-time FER study's plain CNN: 5 conv-BN-ReLU layers with max-pools, two dense layers + dropout."""
    model = SequentialClassifier(
        vgg_features((32, 64, "M", 128, "M", 256, "M", 512, "M"), in_chans, norm_layer(batch_norm)),
        # Pooled to 2x2 (48 px leaves 3x3) so the dense layers keep their size from 32 px up.
        grid_pool(img_size, 16, 2),
        nn.Flatten(1),
        nn.Linear(512 * 4, 256),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(128, num_classes),
    )
    init_weights(model)
    return model


class FerFastNet(ClassifierModel):
    """Plain 3x3 conv-BN-ReLU downsamplers (they fold into single convs for ONNX Runtime) interleaved
    with cheap depthwise residual blocks that add depth at 24/12/6 px; 1x1 expansion before pooling.
    ``width`` scales every layer's channels (compute grows about with its square)."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.2,
        batch_norm: bool = True,
        width: float = 1.0,
    ):
        super().__init__()
        norm = norm_layer(batch_norm)
        c16, c32, c64, c128, c256 = (max(8, round(c * width)) for c in (16, 32, 64, 128, 256))

        def dw_block(ch: int) -> InvertedResidual:
            return InvertedResidual(ch, ch, ch, norm=norm)

        self.features = nn.Sequential(
            ConvBNAct(in_chans, c16, 3, 1 if is_small_input(img_size) else 2, norm=norm),
            ConvBNAct(c16, c32, 3, 2, norm=norm),
            dw_block(c32),
            ConvBNAct(c32, c64, 3, 2, norm=norm),
            dw_block(c64),
            dw_block(c64),
            ConvBNAct(c64, c128, 3, 2, norm=norm),
            dw_block(c128),
            dw_block(c128),
            dw_block(c128),
            ConvBNAct(c128, c256, 1, norm=norm),
        )
        self.num_features = c256
        self.head = ClassifierHead(c256, num_classes, drop_rate)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.fc(self.forward_features(x))


@register_model(classifier="head.fc")
def fer_fast_net(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """emoscope's real-time net: 3x3 conv downsamplers + depthwise residuals, 0.2M params, 27 MFLOPs."""
    return FerFastNet(num_classes, in_chans, img_size, **kwargs)
