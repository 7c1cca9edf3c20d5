"""Safe image loading: size checked from the header before decoding, any layout out as BGR uint8."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from emoscope.errors import DataError, EmoscopeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jp2")
"""Files read as still images where a path may be an image or a video (anything else: a video)."""
WRITABLE_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""The formats annotated images are written in (OpenCV picks the encoder by the suffix)."""

MAX_PIXELS = 120_000_000
"""Images with more pixels are refused before decoding (a 120 MP BGR image takes 360 MB). The limit
sits above 108 MP phone cameras; much larger "images" are usually decompression bombs."""


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 HxWx3 BGR view of a gray, BGR or BGRA image (alpha composited over white)."""
    import cv2

    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise EmoscopeError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        # Transparent pixels often hold junk colour; white is what a viewer shows behind them.
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return np.rint(image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    raise EmoscopeError(f"cannot use an image of shape {image.shape} (expected gray, BGR or BGRA)")


def image_size(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int, bool]:
    """``(width, height, has_alpha)`` from the file header; raises :class:`DataError` for a missing,
    empty, unreadable or too large file."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:  # lazy: reads the header only
                width, height = header.size
                has_alpha = header.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in header.info
    except Image.DecompressionBombError:
        # Pillow's own guard (about 179 MP) fires at open, which is above our limit anyway.
        raise DataError(f"{path}: image too large (more than {max_pixels / 1e6:.0f} megapixels)") from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError):
        raise DataError(f"{path}: not an image, or an unsupported image format") from None
    if width * height > max_pixels:
        raise DataError(f"{path}: image too large ({width}x{height} = {width * height / 1e6:.0f} megapixels; "
                        f"limit {max_pixels / 1e6:.0f})")
    return width, height, has_alpha


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A uint8 HxWx3 BGR image, EXIF rotation applied; raises :class:`DataError` naming the file."""
    import cv2

    path = Path(path)
    _, _, has_alpha = image_size(path, max_pixels)
    # np.fromfile + imdecode, unlike cv2.imread, opens non-ASCII paths on every platform. IMREAD_COLOR
    # applies EXIF rotation but drops alpha, so only images with alpha are read unchanged.
    flags = cv2.IMREAD_UNCHANGED if has_alpha else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flags)
    if image is None:
        raise DataError(f"{path}: cannot decode the image (damaged or unsupported)")
    return as_bgr(image)
