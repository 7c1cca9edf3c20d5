"""mini-Xception (Arriaga, Ploeger & Valdenegro 2017), the model behind the `fer` package."""

from __future__ import annotations

import torch
from torch import nn

from emoscope.models.blocks import (
    ActLayer,
    ClassifierHead,
    ClassifierModel,
    ConvBNAct,
    NormLayer,
    init_weights,
    norm_layer,
)
from emoscope.models.registry import register_model


def _separable(in_ch: int, out_ch: int, norm: NormLayer, act: ActLayer | None) -> nn.Sequential:
    """Keras SeparableConv2D (depthwise 3x3 then pointwise 1x1, nothing in between) + norm (+ act)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch, bias=False),
        ConvBNAct(in_ch, out_ch, 1, norm=norm, act=act),
    )


class XceptionModule(nn.Module):
    """Two separable convs + 3x3/2 max-pool, plus a strided 1x1 conv shortcut."""

    def __init__(self, in_ch: int, out_ch: int, norm: NormLayer):
        super().__init__()
        self.residual = nn.Sequential(
            _separable(in_ch, out_ch, norm, nn.ReLU),
            _separable(out_ch, out_ch, norm, None),
            nn.MaxPool2d(3, 2, 1),  # = Keras padding="same" for this kernel/stride
        )
        self.shortcut = ConvBNAct(in_ch, out_ch, 1, 2, norm=norm, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class MiniXception(ClassifierModel):
    """Two unpadded 3x3 convs (8 ch), four Xception modules (16-32-64-128), a 3x3 conv to the classes
    and global average pooling: no dense layer, ~60k parameters. So its features are the last
    ``(N, num_features, H, W)`` map and its classifier a conv."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.0,
        batch_norm: bool = True,
    ):
        super().__init__()
        norm = norm_layer(batch_norm)
        # The original base convs use Keras padding="valid".
        layers: list[nn.Module] = [
            ConvBNAct(in_chans, 8, 3, norm=norm, padding=0),
            ConvBNAct(8, 8, 3, norm=norm, padding=0),
        ]
        ch = 8
        for width in (16, 32, 64, 128):
            layers.append(XceptionModule(ch, width, norm))
            ch = width
        self.features = nn.Sequential(*layers)
        self.num_features = ch
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.classifier = nn.Conv2d(ch, num_classes, 3, padding=1)
        self.pool = ClassifierHead(num_classes, 0)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.classifier(self.forward_features(x)))

    def reset_classifier(self, num_classes: int) -> None:
        self.classifier = nn.Conv2d(self.num_features, num_classes, 3, padding=1)
        init_weights(self.classifier)


@register_model(classifier="classifier")
def mini_xception(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """mini-Xception (Arriaga et al. 2017), the `fer` package's model: separable residuals, ~60k params."""
    return MiniXception(num_classes, in_chans, img_size, **kwargs)
