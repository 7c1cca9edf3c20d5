"""Stateless per-frame stages (face detection) spread over several instances on their own threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor


class RoundRobinWorkers:
    """Frame k goes to instance ``k % n``, each instance on its own thread.

    A MediaPipe graph is not thread-safe and one graph saturates about one core, so on a 2-core
    machine a single detector thread is the video loop's bottleneck; two graphs on alternate frames
    keep both cores busy. Only for stages without memory between frames (detection, not the face
    mesh, which tracks): then every frame gets the same answer whichever instance computed it.
    """

    def __init__(self, instances: Sequence, name: str, owns_instances: bool = True):
        """``owns_instances``: :meth:`close` closes them too (not when the caller keeps them)."""
        self.instances = list(instances)
        self.owns_instances = owns_instances
        self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"emoscope-{name}{i}") for i in range(len(self.instances))]
        self._next = 0
        self._lock = threading.Lock()

    def submit(self, work: Callable, *args) -> Future:
        """``work(instance, *args)`` on the next instance's thread (callable from any thread)."""
        with self._lock:
            index = self._next
            self._next = (index + 1) % len(self._pools)
        return self._pools[index].submit(work, self.instances[index], *args)

    def close(self) -> None:
        """Wait for the work in flight, then close every instance it owns."""
        for pool in self._pools:
            pool.shutdown(wait=True)
        if self.owns_instances:
            for instance in self.instances:
                instance.close()
