"""The camera degradations robust training uses (training.augment, issue 18)."""

import cv2
import numpy as np
import pytest
import torch

from emoscope.training.augment import (BatchAugment, RandomBlur, RandomDarken, RandomGamma, RandomJPEG,
                                       RandomLowResolution, RandomNoise, RandomOccluder)
from emoscope.training.config import AugmentConfig

DEGRADATIONS = {
    "gamma": lambda: RandomGamma(1.2),
    "darken": lambda: RandomDarken(1.0),
    "occlude": lambda: RandomOccluder(1.0),
    "blur": lambda: RandomBlur(1.0, 2.5),
    "lowres": lambda: RandomLowResolution(1.0, 8),
    "noise": lambda: RandomNoise(1.0, 0.16),
    "jpeg": lambda: RandomJPEG(1.0, 5),
}


def _faces(n=32, side=48, seed=0):
    """Smooth random images: like faces, mostly low frequencies."""
    rng = np.random.default_rng(seed)
    raw = np.stack([cv2.GaussianBlur(rng.uniform(0, 1, (side, side)).astype(np.float32), (0, 0), 2.0) for _ in range(n)])
    low, high = raw.min(axis=(1, 2), keepdims=True), raw.max(axis=(1, 2), keepdims=True)
    return torch.from_numpy((raw - low) / (high - low))[:, None]


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_degradation_is_seeded_changes_images_and_keeps_range(name):
    transform, x = DEGRADATIONS[name](), _faces()
    a = transform(x, torch.Generator().manual_seed(3))
    b = transform(x, torch.Generator().manual_seed(3))
    c = transform(x, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    changed = (a - x).abs().flatten(1).amax(1) > 1e-3
    assert changed.float().mean() > 0.9  # applied with probability 1: (nearly) every image changes


@pytest.mark.parametrize("name", [n for n in DEGRADATIONS if n != "gamma"])
def test_degradation_probability_leaves_the_rest_untouched(name):
    transform, x = DEGRADATIONS[name](), _faces(64)
    transform.p = 0.3
    out = transform(x, torch.Generator().manual_seed(0))
    changed = ((out - x).abs().flatten(1).amax(1) > 1e-6).float().mean()
    assert 0.1 < float(changed) < 0.55


@pytest.mark.parametrize("quality", [5, 20, 50, 75])
def test_jpeg_matches_the_real_codec(quality):
    """The vectorised block-DCT codec loses what OpenCV's libjpeg loses, within rounding."""
    x = torch.round(_faces(8) * 255) / 255  # on 8-bit levels, as the codec's input is
    ours = RandomJPEG(1.0, quality, quality)(x, torch.Generator().manual_seed(0))[:, 0].numpy() * 255
    pixels = np.rint(x[:, 0].numpy() * 255).astype(np.uint8)
    for face, mine in zip(pixels, ours):
        _, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
        reference = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(np.float32)
        loss = np.abs(reference - face).mean()
        assert np.abs(mine - reference).mean() < max(0.15 * loss, 0.6)


def test_blur_matches_opencv():
    x = _faces(4)
    ours = RandomBlur(1.0, 1.5, min_sigma=1.5)(x, torch.Generator().manual_seed(0))[:, 0].numpy()
    for face, mine in zip(x[:, 0].numpy(), ours):
        reference = cv2.GaussianBlur(face, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_allclose(mine, reference, atol=2e-3)


def test_defaults_add_no_degradation():
    """Recipes written before the degradations existed build the same steps (and so reproduce)."""
    names = [type(step).__name__ for step in BatchAugment(AugmentConfig()).steps]
    assert names == ["RandomAffine", "ColorJitter", "RandomErasing"]


def test_all_degradations_chain_in_a_batch():
    cfg = AugmentConfig(gamma=1.0, darken=0.3, occlude=0.3, blur=0.3, lowres=0.3, noise=0.3, jpeg=0.3)
    aug = BatchAugment(cfg)
    x, targets = _faces(16), torch.eye(4)[torch.arange(16) % 4]
    out, out_targets = aug(x, targets, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert torch.equal(out_targets, targets)
    assert len(aug.steps) == 10
