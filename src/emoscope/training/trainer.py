"""The training loop: batched augmentation, bf16/AMP, per-epoch checkpoints and exact resume.

Reproducibility: every epoch reseeds its own RNGs from ``(seed, epoch)``, so the shuffling,
augmentation and dropout of epoch *e* do not depend on whether the run was interrupted.
With the model, optimizer and scheduler state restored from the epoch checkpoint, a resumed
run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import json
import math
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoscope.version import __version__
from emoscope.data.imageset import ImageSet
from emoscope.errors import EmoscopeError, ModelError
from emoscope.evaluation.metrics import classification_metrics
from emoscope.models.registry import create_model
from emoscope.files import atomic_output, write_text_atomic
from emoscope.runtime.bundle import save_bundle
from emoscope.runtime.preprocess import Preprocess
from emoscope.runtime.spec import ModelSpec
from emoscope.training.augment import BatchAugment
from emoscope.training.config import TrainConfig
from emoscope.training.optim import build_optimizer, build_scheduler
from emoscope.training.warm_start import warm_start

CHECKPOINT = "last.pt"
BEST_BUNDLE = "best.safetensors"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def processor_name(device: torch.device) -> str:
    """What runs the training, in words: a run's speed depends on it, and a long run may resume on another machine."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "an unnamed CPU"


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


ONEDNN_IC_BLOCK = 16
"""oneDNN's AVX-512 1x1 convolutions work on blocks of this many input channels."""


def channels_last_safe(model: torch.nn.Module, device: torch.device) -> bool:
    """Whether the model can train in NHWC on ``device``.

    oneDNN's 1x1 backward-weights kernel with an NHWC input and a stride above 1 writes past its
    workspace when a group has fewer input channels than its block (uxlfoundation/oneDNN#6035): heap
    corruption, a crash several steps later, or wrong weight gradients. Width-reduced ResNet shortcuts
    (8 -> 16 channels, stride 2) hit it; NCHW takes another kernel.
    """
    if device.type != "cpu":
        return True
    return not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
                   and m.in_channels // m.groups < ONEDNN_IC_BLOCK for m in model.modules())


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**63 - 1)


@dataclass
class FitResult:
    run_dir: Path
    best_bundle: Path
    best_epoch: int
    best_metrics: dict
    history: list[dict]
    train_images_per_s: float


@dataclass
class ResumeState:
    """Where an interrupted run stood after its last completed epoch."""

    next_epoch: int
    history: list[dict]
    best_value: float
    best_epoch: int
    stale: int
    best_metrics: dict


FOREIGN_CHECKPOINT = (KeyError, TypeError, ValueError, RuntimeError, ModelError)
"""What interpreting a loadable file that emoscope did not write raises: a missing entry, a value of the
wrong type, a config pydantic refuses, tensors that do not fit the model or optimizer. (A plain
EmoscopeError, such as a run made with other options, passes through.)"""

RESUME_MAY_CHANGE = frozenset({"epochs", "threads"})
"""Options a resumed run may change: train longer, or on more or fewer CPU threads (say, once the
other job on the machine has finished); everything else must match the checkpoint."""


class Trainer:
    """Trains ``config.model`` on ``train`` and selects the best epoch on ``val`` only.

    The hooks ``_this_rank``, ``_backward``, ``_all_ranks`` and ``_val_probs`` are where
    :class:`emoscope.training.distributed.DistributedTrainer` splits the work between processes; here
    they leave everything to this one process.
    """

    writes_files = True  # the run's files (checkpoints, bundles, history); False on DDP ranks other than 0

    def __init__(self, config: TrainConfig, train: ImageSet, val: ImageSet, command: str = "", progress=None,
                 watch: ImageSet | None = None):
        """``watch``: a held-out split scored after every epoch for the record only (``watch_accuracy`` and
        ``watch_macro_f1`` in the history): it never chooses an epoch, and shows what choosing one on it
        would have reported."""
        if train.label_set != val.label_set:
            raise EmoscopeError(f"train and validation label sets differ ({train.label_set.name} vs {val.label_set.name})")
        self.config = config
        self.train_set, self.val_set = train, val
        self.labels = train.label_set
        self.command = command
        self.progress = progress
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        use_bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_supported(self.device))
        self.autocast_dtype = torch.bfloat16 if use_bf16 else None
        self.processor = processor_name(self.device)
        self.run_dir = config.run_dir
        self.run_dir.mkdir(parents=True, exist_ok=True)

        k = len(self.labels)
        # The input the saved bundles will declare, so the model is trained on what inference feeds it.
        self.preprocess = Preprocess.from_spec(self.spec(metrics={}))
        self.train_x = self._pixels(train)
        self.val_x = self._pixels(val)
        self.val_y = val.labels
        self.watch = (self._pixels(watch), watch.labels) if watch is not None else None
        if config.soft_labels:
            if train.soft_labels is None:
                raise EmoscopeError(f"{train.source}: soft_labels needs vote distributions (use the ferplus dataset)")
            targets = torch.from_numpy(train.soft_labels)
        else:
            targets = F.one_hot(torch.from_numpy(train.labels), k).float()
        self.train_targets = targets.to(self.device)
        counts = train.class_counts().astype(np.float64)
        weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / k, 0.0)
        self.class_weights = torch.tensor(weights, dtype=torch.float32, device=self.device) if config.class_weights else None

        torch.manual_seed(config.seed)
        self.model = create_model(config.model, num_classes=k, in_chans=config.in_chans, img_size=config.img_size,
                                  **config.model_kwargs)
        self.warm_start = warm_start(self.model, config.init_from, self.labels) if config.init_from else None
        self.model = self.model.to(self.device)
        # NHWC tensors: oneDNN convolutions run 20-70% faster on CPU with them (measured on this 2-core
        # machine), and cuDNN's tensor-core kernels take them without transposes.
        self.memory_format = (torch.channels_last if channels_last_safe(self.model, self.device)
                              else torch.contiguous_format)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shapes: pick the fastest kernels once
        self.model = self.model.to(memory_format=self.memory_format)
        self.train_model = self.model  # what training steps call: the model itself, or its DDP wrapper
        self.augment = BatchAugment(config.augment)
        self.steps_per_epoch = self._num_batches(len(train))
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler, self.step_per_batch = build_scheduler(self.optimizer, config, self.steps_per_epoch)

    @property
    def precision(self) -> str:
        """What the training steps compute in, as history rows and messages name it."""
        return "bf16" if self.autocast_dtype else "fp32"

    # -- batches -------------------------------------------------------------------------
    def _num_batches(self, n: int) -> int:
        full, rest = divmod(n, self.config.batch_size)
        return full + (1 if rest > 1 else 0)  # a lone last image would break batch norm

    def _pixels(self, images: ImageSet) -> torch.Tensor:
        """uint8 ``(N, C, S, S)`` on the device, resized once here rather than every batch.

        Training used to resize with torch's antialiased bilinear filter, inference with OpenCV's; every
        shipped model was trained at its data's own size (48 px faces, 28 px signs), where nothing is
        resized, so the switch to inference's resize leaves them reproducible.
        """
        return torch.from_numpy(self.preprocess.pixels(images.images)).contiguous().to(self.device)

    def _forward(self, x: torch.Tensor, model=None) -> torch.Tensor:
        model = self.model if model is None else model
        x = x.contiguous(memory_format=self.memory_format)
        if self.autocast_dtype is None:
            return model(x)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return model(x).float()

    def predict_proba(self, pixels: torch.Tensor, batch_size: int = 512) -> np.ndarray:
        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(pixels), batch_size):
                x = self.preprocess.normalise(pixels[start : start + batch_size].float() / 255)
                out.append(torch.softmax(self._forward(x), dim=1).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    # -- one epoch ----------------------------------------------------------------------
    def _train_epoch(self, epoch: int) -> dict:
        cfg = self.config
        seed = epoch_seed(cfg.seed, epoch)
        torch.manual_seed(seed)  # dropout and any other use of the global RNG
        gen = torch.Generator(device=self.device).manual_seed(seed)
        order = torch.randperm(len(self.train_x), generator=gen, device=self.device)
        self.model.train()
        # Running sums stay on the device: reading them every step would stall a GPU on each batch.
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        start = time.perf_counter()
        task = self.progress.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=self.steps_per_epoch) if self.progress else None
        for step in range(self.steps_per_epoch):
            index = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = self.train_x[index].float() / 255
            x, targets = self._this_rank(*self.augment(x, self.train_targets[index], gen))
            logits = self._forward(self.preprocess.normalise(x), self.train_model)
            if cfg.loss == "bce":
                loss = F.binary_cross_entropy_with_logits(logits, targets)
            else:
                loss = F.cross_entropy(logits, targets, weight=self.class_weights, label_smoothing=cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward(loss, len(targets), len(index))
            self.optimizer.step()
            if self.step_per_batch:
                self.scheduler.step()
            total_loss += loss.detach() * len(targets)
            correct += (logits.argmax(1) == targets.argmax(1)).sum()
            seen += len(targets)
            if task is not None:
                self.progress.update(task, advance=1)
        total_loss, correct, seen = self._all_ranks(total_loss, correct, seen)
        mean_loss = total_loss.item() / seen
        seconds = time.perf_counter() - start
        if task is not None:
            self.progress.remove_task(task)
        if not math.isfinite(mean_loss):
            raise EmoscopeError(f"training diverged in epoch {epoch + 1} (loss {mean_loss}); lower the learning rate")
        return {"train_loss": mean_loss, "train_accuracy": correct.item() / seen,
                "train_seconds": seconds, "train_images_per_s": seen / seconds}

    def speed(self) -> dict:
        """Training and inference images/s on this trainer's sets, with nothing written: a warm-up epoch
        (allocation, kernel choice), then one timed epoch and the second of two passes over the validation set.
        For planning a run; the model is left trained on those epochs."""
        self._train_epoch(0)
        train = self._train_epoch(1)["train_images_per_s"]
        self.predict_proba(self.val_x)
        start = time.perf_counter()
        self.predict_proba(self.val_x)
        return {"train_images_per_s": train, "inference_images_per_s": len(self.val_x) / (time.perf_counter() - start),
                "processor": self.processor, "precision": self.precision}

    # -- where distributed training divides the work (see the class docstring) ----------------
    def _this_rank(self, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The part of an (augmented) batch this process trains on."""
        return x, targets

    def _backward(self, loss: torch.Tensor, images: int, batch: int) -> None:
        """Gradients of ``loss``, the mean over this process's ``images`` of a ``batch``-image batch."""
        loss.backward()

    def _all_ranks(self, total_loss: torch.Tensor, correct: torch.Tensor, seen: int):
        """An epoch's loss sum, correct count and images over every process."""
        return total_loss, correct, seen

    def _val_probs(self) -> np.ndarray:
        return self.predict_proba(self.val_x)

    def evaluate_val(self) -> tuple[dict, float]:
        probs = self._val_probs()
        metrics = classification_metrics(self.val_y, probs, list(self.labels.classes))
        eps = 1e-7
        loss = float(-np.log(np.clip(probs[np.arange(len(probs)), self.val_y], eps, 1)).mean())
        return metrics, loss

    # -- checkpoints ----------------------------------------------------------------------
    def _monitor_value(self, row: dict) -> float:
        # Larger is better for every monitored quantity once loss is negated.
        return -row["val_loss"] if self.config.monitor == "loss" else row[f"val_{self.config.monitor}"]

    def _save_checkpoint(self, epoch: int, state: dict) -> None:
        payload = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "config": self.config.model_dump_json(),
            **state,
        }
        tmp = self.run_dir / (CHECKPOINT + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(self.run_dir / CHECKPOINT)

    def _load_checkpoint(self) -> ResumeState:
        """Restore the model, optimizer and scheduler from the run's checkpoint; the loop's state to go on with."""
        path = self.run_dir / CHECKPOINT
        try:
            with warnings.catch_warnings():  # torch warns about odd pickles on stderr: the error says enough
                warnings.simplefilter("ignore")
                # weights_only: a pickled file found at this path never gets to run code
                payload = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as exc:  # torch raises many types for truncated or foreign files
            raise ModelError(f"{path}: cannot resume from this checkpoint ({type(exc).__name__})") from None
        try:
            if not isinstance(payload, dict):
                raise TypeError(f"it holds a {type(payload).__name__}, not a dict")
            saved = TrainConfig.model_validate_json(payload["config"])
            current = self.config.model_dump()
            changed = [k for k, v in saved.model_dump().items() if k not in RESUME_MAY_CHANGE and current[k] != v]
            if changed:
                raise EmoscopeError(f"{path}: the run was made with different options ({', '.join(changed)}); "
                                    f"use a new --name or the same options")
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(payload["scheduler"])
            return ResumeState(
                next_epoch=int(payload["epoch"]) + 1, history=list(payload["history"]),
                best_value=float(payload["best_value"]), best_epoch=int(payload["best_epoch"]),
                stale=int(payload["stale"]), best_metrics=json.loads(payload["best_metrics"]),
            )
        except FOREIGN_CHECKPOINT as exc:
            reason = (str(exc).splitlines() or [""])[0][:120]
            raise ModelError(f"{path}: not an emoscope training checkpoint, cannot resume "
                             f"({type(exc).__name__}: {reason})") from None

    def spec(self, metrics: dict, name: str | None = None) -> ModelSpec:
        cfg = self.config
        return ModelSpec(
            name=name or cfg.name, architecture=cfg.model, arch_kwargs=cfg.model_kwargs,
            label_set=self.labels.name, classes=list(self.labels.classes), in_chans=cfg.in_chans,
            img_size=cfg.img_size, mean=cfg.mean, std=cfg.std, dataset=self.train_set.source,
            metrics=metrics, command=self.command, emoscope_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def _write_history(self, history: list[dict]) -> None:
        import pandas as pd

        with atomic_output(self.run_dir / "history.csv") as temporary:
            pd.DataFrame(history).to_csv(temporary, index=False)
        write_text_atomic(self.run_dir / "history.json", json.dumps(history, indent=1))

    # -- the run ---------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        cfg = self.config
        history: list[dict] = []
        best_value, best_epoch, best_metrics, stale = -math.inf, -1, {}, 0
        start_epoch = 0
        if resume and (self.run_dir / CHECKPOINT).exists():
            state = self._load_checkpoint()
            start_epoch, history, best_metrics = state.next_epoch, state.history, state.best_metrics
            best_value, best_epoch, stale = state.best_value, state.best_epoch, state.stale
        elif (self.run_dir / CHECKPOINT).exists() and not resume:
            raise EmoscopeError(f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --name")
        if self.writes_files:
            write_text_atomic(self.run_dir / "config.json", cfg.model_dump_json(indent=1))

        for epoch in range(start_epoch, cfg.epochs):
            epoch_start = time.perf_counter()
            row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"], **self._train_epoch(epoch)}
            metrics, val_loss = self.evaluate_val()
            row.update(val_loss=val_loss, val_accuracy=metrics["accuracy"], val_macro_f1=metrics["macro_f1"])
            if self.watch is not None:
                watched = classification_metrics(self.watch[1], self.predict_proba(self.watch[0]),
                                                 list(self.labels.classes))
                row.update(watch_accuracy=watched["accuracy"], watch_macro_f1=watched["macro_f1"])
            if self.scheduler is not None and not self.step_per_batch:
                if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    self.scheduler.step(self._monitor_value(row))
                else:
                    self.scheduler.step()
            row["epoch_seconds"] = time.perf_counter() - epoch_start  # training and validation
            row.update(processor=self.processor, precision=self.precision)
            history.append(row)
            value = self._monitor_value(row)
            if value > best_value:
                best_value, best_epoch, stale = value, epoch + 1, 0
                best_metrics = {"split": f"{cfg.dataset}:{cfg.val_split}", "epoch": epoch + 1, **metrics}
                if self.writes_files:
                    save_bundle(self.model, self.spec(best_metrics), self.run_dir / BEST_BUNDLE)
            else:
                stale += 1
            if self.writes_files:
                self._save_checkpoint(epoch, {"history": history, "best_value": best_value,
                                              "best_epoch": best_epoch, "stale": stale,
                                              "best_metrics": json.dumps(best_metrics)})
                self._write_history(history)
            if self.progress is not None:
                self.progress.console.print(
                    f"epoch {epoch + 1}: loss {row['train_loss']:.4f} train acc {row['train_accuracy']:.4f} "
                    f"val acc {row['val_accuracy']:.4f} val F1 {row['val_macro_f1']:.4f} "
                    f"({row['train_images_per_s']:.0f} img/s)"
                )
            if cfg.early_stopping and stale >= cfg.early_stopping:
                break
        speeds = [r["train_images_per_s"] for r in history]
        return FitResult(self.run_dir, self.run_dir / BEST_BUNDLE, best_epoch, best_metrics, history,
                         float(np.median(speeds)) if speeds else 0.0)
