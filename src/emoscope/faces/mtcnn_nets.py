"""MTCNN's three networks in torch, their shipped weights, and running a stage on image crops.

Kept apart from :mod:`emoscope.faces.mtcnn` so that registering the detector does not import torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emoscope.errors import ModelError
from emoscope.runtime.predictor import WEIGHTS_DIR

MTCNN_WEIGHTS_DIR = WEIGHTS_DIR / "mtcnn"
STAGES = ("pnet", "rnet", "onet")


class PNet(nn.Module):
    """Fully convolutional 12x12 proposal net: a face probability and box offsets every 2 pixels."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / no face
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # box offsets

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


def _flatten_caffe(x: torch.Tensor) -> torch.Tensor:
    # The weights came from Caffe via TensorFlow with images transposed: dense layers expect the
    # feature map flattened width-major.
    return x.permute(0, 3, 2, 1).flatten(1)


class RNet(nn.Module):
    """24x24 refinement net: face probability and box offsets per candidate crop."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_caffe(self.prelu3(self.conv3(x)))))
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """48x48 output net: face probability, box offsets and 5 landmarks (5 x, then 5 y, in [0, 1])."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_caffe(self.prelu4(self.conv4(x)))))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def build_stage(name: str) -> nn.Module:
    return {"pnet": PNet, "rnet": RNet, "onet": ONet}[name]()


def load_stage(name: str) -> nn.Module:
    from safetensors.torch import load_file

    path = MTCNN_WEIGHTS_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise ModelError(f"{path}: MTCNN weights missing; reinstall emoscope (maintainers: "
                         "tools/convert_mtcnn_weights.py)")
    net = build_stage(name)
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` RGB -> float ``(N, 3, H, W)`` in about [-1, 1], as MTCNN was trained."""
    return (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() - 127.5) / 128.0


class StageRunner:
    """A stage with its shipped weights, as a function: uint8 ``(N, H, W, 3)`` RGB images -> the
    net's outputs as numpy arrays."""

    def __init__(self, name: str):
        self.net = load_stage(name)

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            return [output.numpy() for output in self.net(to_tensor(images))]
