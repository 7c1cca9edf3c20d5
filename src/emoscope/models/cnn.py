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
    scale_cfg,
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


def _pooled_dense_cnn(cfg, num_classes: int, in_chans: int, img_size: int, drop_rate: float, batch_norm: bool,
                      dense: tuple[int, int]) -> nn.Module:
    """VGG-style conv stack, pooled to 2x2, then two dense layers with dropout."""
    last = int(cfg[-2] if cfg[-1] == "M" else cfg[-1])
    model = SequentialClassifier(
        vgg_features(cfg, in_chans, norm_layer(batch_norm)),
        # Pooled to 2x2 (48 px leaves 3x3) so the dense layers keep their size from 32 px up.
        grid_pool(img_size, 16, 2),
        nn.Flatten(1),
        nn.Linear(last * 4, dense[0]),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(dense[0], dense[1]),
        nn.ReLU(),
        nn.Dropout(drop_rate),
        nn.Linear(dense[1], num_classes),
    )
    init_weights(model)
    return model


@register_model(classifier="9")
def simple_cnn5(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    drop_rate: float = 0.5,
    batch_norm: bool = True,
    width: float = 1.0,
) -> nn.Module:
    """Real-time FER study's plain CNN: 5 conv-BN-ReLU layers with max-pools, two dense layers + dropout.

    ``width`` scales the convs' channels (the study's net at 180 px costs ~4.8 GFLOPs)."""
    cfg = scale_cfg((32, 64, "M", 128, "M", 256, "M", 512, "M"), width)
    return _pooled_dense_cnn(cfg, num_classes, in_chans, img_size, drop_rate, batch_norm, (256, 128))


@register_model(classifier="9")
def cnn11(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    drop_rate: float = 0.5,
    batch_norm: bool = True,
    width: float = 1.0,
) -> nn.Module:
    """Interview study's 11-block CNN: 11 conv-BN-ReLU blocks in four pooled stages (2-2-3-4), two dense layers.

    The study names the block count only; the stage layout follows VGG. ``width`` scales the convs."""
    cfg = scale_cfg((64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, 512, "M"), width)
    return _pooled_dense_cnn(cfg, num_classes, in_chans, img_size, drop_rate, batch_norm, (512, 256))


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
