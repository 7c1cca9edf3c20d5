"""Model architectures in plain PyTorch; importing this package registers them all."""

from emoscope.models import cnn, ensemble, hybrid, mobilenet, resnet, rmn, vgg, xception  # noqa: F401
from emoscope.models.registry import count_mflops, count_params, create_model, list_models, register_model

__all__ = ["count_mflops", "count_params", "create_model", "list_models", "register_model"]
