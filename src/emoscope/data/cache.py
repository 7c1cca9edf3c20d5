"""Decode a slow source once, keep the arrays in an ``.npz`` file, reuse them while the source is unchanged.

A cache entry is named after the sources' absolute paths, sizes and modification times, so
editing or replacing a source simply misses the old entry. Entries are written to a temporary
file and moved into place, so a crash or a concurrent run never leaves a half-written cache; an
entry that cannot be read anyway is rebuilt. The cache is only an optimisation: if it cannot be
written the arrays are still returned.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "EMOSCOPE_CACHE"


def default_cache_dir() -> Path:
    """``$EMOSCOPE_CACHE``, else ``~/.cache/emoscope``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "emoscope")


def cache_key(source_paths: Iterable[str | Path], name: str) -> str:
    """A short digest of ``name`` and each source's absolute path, size and mtime (ns)."""
    digest = hashlib.sha256(name.encode())
    for source in source_paths:
        path = Path(source).resolve()
        stat = path.stat()
        digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def cache_path(source_paths: Iterable[str | Path], name: str, cache_dir: str | Path | None = None) -> Path:
    """Where the entry for these sources lives (it may not exist yet)."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return directory / f"{name}-{cache_key(source_paths, name)}.npz"


def _read_entry(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as entry:
            return {key: entry[key] for key in entry.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("cache entry %s is unreadable (%s); rebuilding it", path, exc)
        return None


def _write_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        log.warning("cannot write cache %s (%s); continuing without it", path, exc)
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        log.warning("cannot write cache %s (%s); continuing without it", path, exc)


def cached_arrays(
    source_paths: Iterable[str | Path],
    name: str,
    build_fn: Callable[[], dict[str, np.ndarray]],
    cache_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """The arrays ``build_fn()`` makes from ``source_paths``, built at most once per source version.

    ``name`` labels the entry and versions the build: change it (``"fer2013-v2"``) whenever
    ``build_fn``'s output changes for the same sources. ``cache_dir`` defaults to
    :func:`default_cache_dir`.
    """
    path = cache_path(list(source_paths), name, cache_dir)
    arrays = _read_entry(path)
    if arrays is None:
        arrays = build_fn()
        _write_entry(path, arrays)
    return arrays
