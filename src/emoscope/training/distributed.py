"""Distributed data-parallel training: ``emoscope train CONFIG --ddp N`` or
``torchrun --nproc-per-node N -m emoscope train CONFIG``.

Both start N processes of the same ``emoscope train`` command that find each other through torch's
``env://`` variables (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...): ``--ddp`` sets them itself for one
machine, torchrun for one or many. Each process wraps the model in ``DistributedDataParallel`` (gloo
on CPU, NCCL on CUDA, one GPU per process).

What each process does, so that N processes train what one process would on the same global batch:

- every rank draws the same epoch permutation (seeded from ``(seed, epoch)``: the trainer's
  equivalent of ``DistributedSampler.set_epoch``) and augments the same global batch with the same
  generator, then trains on its interleaved share ``batch[rank::N]``, the indices a
  ``DistributedSampler`` gives it; the batch's augmentation is computed on every rank (a few tensor
  ops) so that random draws, mixup pairs included, are those of the single process;
- each rank's loss is weighted by its share of the batch before DDP averages the gradients, so the
  step is the single process's mean over the global batch (the configured ``batch_size``: ``batch_size
  / N`` images per rank);
- the epoch's training loss and accuracy are all-reduced and validation is split between the ranks and
  gathered, so every rank sees the same metrics and selects the same epoch;
- rank 0 alone writes checkpoints, the best bundle, history, curves and logs; resume reads the same
  checkpoint on every rank, exactly as a single process does.

Not the same as one process: BatchNorm normalises each rank's share with that share's statistics (as
in any DDP run; SyncBatchNorm needs GPUs), and dropout masks are drawn per rank; floating-point sums
run in another order. A model without them (``batch_norm = false``, ``drop_rate = 0``) matches a single
process to rounding (tests/test_ddp.py states the tolerance). A last short batch with fewer images
than ranks is left out of each epoch.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from emoscope.errors import EmoscopeError
from emoscope.training.config import TrainConfig
from emoscope.training.trainer import Trainer, resolve_device


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (torch's env:// variables)."""

    rank: int
    size: int
    local_rank: int
    local_size: int

    @classmethod
    def from_env(cls) -> World | None:
        """The world torchrun or ``--ddp`` set up, or None when this is a plain single process."""
        if "WORLD_SIZE" not in os.environ:
            return None
        try:
            size = int(os.environ["WORLD_SIZE"])
            rank = int(os.environ["RANK"])
            local_rank = int(os.environ.get("LOCAL_RANK", rank))
            local_size = int(os.environ.get("LOCAL_WORLD_SIZE", size))
        except (KeyError, ValueError) as exc:
            raise EmoscopeError(f"WORLD_SIZE is set but the distributed environment is not usable ({exc})") from None
        return cls(rank, size, local_rank, local_size) if size > 1 else None


class DistributedTrainer(Trainer):
    """A :class:`Trainer` that is one of ``world.size`` DDP processes (see the module docstring)."""

    def __init__(self, config: TrainConfig, train, val, command: str = "", progress=None, *, world: World):
        from torch.nn.parallel import DistributedDataParallel

        if config.batch_size % world.size:
            raise EmoscopeError(f"a batch of {config.batch_size} does not split over {world.size} processes; "
                                f"use a batch size divisible by {world.size}")
        self.world = world
        self.writes_files = world.rank == 0
        if not config.threads:  # share the cores: N processes each taking all of them would thrash
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world.local_size))
        super().__init__(config, train, val, command=command, progress=progress if world.rank == 0 else None)
        device_ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None  # set by run_distributed
        self.train_model = DistributedDataParallel(self.model, device_ids=device_ids)

    def _num_batches(self, n: int) -> int:
        full, rest = divmod(n, self.config.batch_size)
        return full + (1 if rest >= max(2, self.world.size) else 0)  # every rank needs an image of the last

    def _this_rank(self, x, targets):
        return x[self.world.rank :: self.world.size], targets[self.world.rank :: self.world.size]

    def _backward(self, loss, images: int, batch: int) -> None:
        # DDP averages gradients over ranks; weighting each rank's mean by its share makes that average
        # the mean over the whole batch, also when the shares differ (a last, shorter batch)
        (loss * (images * self.world.size / batch)).backward()

    def _all_ranks(self, total_loss, correct, seen):
        totals = torch.stack([total_loss.double(), correct.double(),
                              torch.tensor(float(seen), dtype=torch.float64, device=total_loss.device)])
        dist.all_reduce(totals)
        return totals[0], totals[1].long(), int(totals[2].item())

    def _val_probs(self) -> np.ndarray:
        bounds = np.linspace(0, len(self.val_x), self.world.size + 1).astype(int)
        mine = self.predict_proba(self.val_x[bounds[self.world.rank] : bounds[self.world.rank + 1]])
        parts: list = [None] * self.world.size
        dist.all_gather_object(parts, mine)
        return np.concatenate(parts)


def run_distributed(cfg: TrainConfig, world: World, resume: bool = False, command: str = "", progress=None,
                    say: Callable[[str], None] | None = None):
    """This process's part of a DDP run: join the others, train, leave. Only rank 0 reports."""
    from functools import partial

    from emoscope.training.run import run_training

    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)  # one GPU per process; "cuda" now means this one
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    try:
        kwargs = {"say": say} if say is not None and world.rank == 0 else {}
        return run_training(cfg, resume=resume, command=command, progress=progress if world.rank == 0 else None,
                            trainer_type=partial(DistributedTrainer, world=world), **kwargs)
    except dist.DistError as exc:  # a collective failed: another rank died or was stopped
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise EmoscopeError(f"training process {world.rank}: lost the other processes ({reason})") from None
    finally:
        dist.destroy_process_group()


# -- `emoscope train --ddp N`: the launcher ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def without_ddp_option(args: Sequence[str]) -> list[str]:
    """The command's arguments less ``--ddp N`` / ``--ddp=N``: what each process runs."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--ddp":
            skip = True
        elif not arg.startswith("--ddp="):
            out.append(arg)
    return out


def launch(processes: int, args: Sequence[str]) -> int:
    """Run ``emoscope ARGS`` as ``processes`` DDP processes on this machine, as torchrun would; returns the
    exit code. Rank 0 prints to this terminal; the others are quiet. When one fails, the others are
    stopped and its own error line is shown; Ctrl+C or SIGTERM stops them all (the last epoch's
    checkpoint stays, for ``--resume``)."""
    port = _free_port()
    command = [sys.executable, "-m", "emoscope", *args]
    children: list[tuple[subprocess.Popen, object]] = []
    try:
        for rank in range(processes):
            env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(processes),
                   "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": str(processes)}
            log = tempfile.TemporaryFile(mode="w+")  # stderr, shown only for the rank that failed
            child = subprocess.Popen(command, env=env, stdout=None if rank == 0 else subprocess.DEVNULL, stderr=log)
            children.append((child, log))
        while True:
            codes = [child.poll() for child, _ in children]
            failed = next((i for i, code in enumerate(codes) if code not in (None, 0)), None)
            if failed is not None:
                _stop(children)
                log = children[failed][1]
                log.seek(0)
                sys.stderr.write(log.read())
                return codes[failed]
            if all(code == 0 for code in codes):
                children[0][1].seek(0)
                sys.stderr.write(children[0][1].read())  # rank 0's warnings, if any
                return 0
            time.sleep(0.05)
    except BaseException:  # KeyboardInterrupt (Ctrl+C, or SIGTERM through the CLI): stop every rank first
        _stop(children)
        raise
    finally:
        for _, log in children:
            log.close()


def _stop(children, grace: float = 30.0) -> None:
    for child, _ in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)  # each rank stops like an interrupted single run
    deadline = time.monotonic() + grace
    for child, _ in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
