"""One Preprocess: a face reaches a model as the same tensor in training and in inference."""

import numpy as np
import pytest
import torch

import emoscope
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.onnx_runtime import export_onnx
from emoscope.runtime.predictor import OnnxPredictor, load_predictor
from emoscope.runtime.preprocess import Preprocess
from emoscope.runtime.spec import ModelSpec
from emoscope.training.config import AugmentConfig, TrainConfig
from emoscope.training.trainer import Trainer

NO_AUGMENT = AugmentConfig(hflip=0, rotate=0, scale=0, shift=0, brightness=0, contrast=0, erasing=0)


def _model_inputs(model: torch.nn.Module, run) -> list[torch.Tensor]:
    """Every batch ``model`` receives while ``run()`` runs."""
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    try:
        run()
    finally:
        handle.remove()
    return seen


def _rows(batches) -> set[bytes]:
    return {np.ascontiguousarray(row, dtype=np.float32).tobytes() for batch in batches for row in np.asarray(batch)}


@pytest.mark.parametrize("face_shape,in_chans,img_size", [
    ((60, 52), 1, 48),     # gray, shrunk
    ((40, 40, 3), 1, 48),  # BGR to gray, enlarged
    ((48, 48), 3, 48),     # gray into a colour model
    ((48, 48, 3), 3, 32),  # colour, shrunk
])
def test_a_face_is_the_same_tensor_in_training_and_inference(tmp_path, face_shape, in_chans, img_size):
    faces = np.random.default_rng(0).integers(0, 256, (7, *face_shape), dtype=np.uint8)
    images = ImageSet(faces, np.arange(7), FER7, "faces")
    config = TrainConfig(model="fer_fast_net", epochs=1, batch_size=8, img_size=img_size, in_chans=in_chans,
                         mean=0.45, std=0.25, precision="fp32", threads=2, out_dir=str(tmp_path),
                         augment=NO_AUGMENT)
    trainer = Trainer(config, images, images)
    bundle = save_bundle(trainer.model, trainer.spec({}), tmp_path / "faces.safetensors")
    predictor = emoscope.load(str(bundle), backend="torch")
    assert predictor.preprocess == trainer.preprocess

    inference = _model_inputs(predictor.model, lambda: predictor.predict_proba(list(faces)))
    evaluation = _model_inputs(trainer.model, trainer.evaluate_val)
    training = _model_inputs(trainer.model, lambda: trainer._train_epoch(0))  # a shuffled batch
    assert len(inference) == 1 and inference[0].shape == (7, in_chans, img_size, img_size)
    assert torch.equal(evaluation[0].contiguous(), inference[0])
    assert _rows(training) == _rows(inference)


def test_onnx_predictor_prepares_faces_like_the_torch_one(tmp_path):
    model = emoscope.create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    spec = ModelSpec(name="t", architecture="fer_fast_net", label_set="fer2013", classes=list(FER7.classes),
                     mean=0.45, std=0.25)
    onnx = load_predictor(export_onnx(model, spec, tmp_path / "t.onnx"), backend="onnx")
    assert isinstance(onnx, OnnxPredictor)
    prepared = []

    def record(batch: np.ndarray) -> np.ndarray:
        prepared.append(batch)
        return np.zeros((len(batch), 7), np.float32)

    onnx._logits = record
    faces = [np.random.default_rng(1).integers(0, 256, (70, 60, 3), dtype=np.uint8)]
    onnx.predict_proba(faces)
    np.testing.assert_array_equal(prepared[0], Preprocess.from_spec(spec)(faces))


def test_preprocess_layout_and_range():
    pre = Preprocess(img_size=24, in_chans=3, mean=0.5, std=0.5)
    gray = np.full((30, 30), 255, np.uint8)
    pixels = pre.pixels([gray, gray])
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 3, 24, 24)
    assert pre(gray).shape == (1, 3, 24, 24) and np.all(pre(gray) == 1.0)
    assert pre([]).shape == (0, 3, 24, 24) and pre([]).dtype == np.float32
